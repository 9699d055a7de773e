"""Accounts: login through allauth with the second factor, lockout (django-axes), the
two-factor policy and its enrolment, password reset, Argon2, and the account events in
the audit log."""

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.contrib.auth.hashers import check_password, make_password
from django.core import mail
from django.test import override_settings
from django_scopes import scopes_disabled

from practices.lockout import locked_out, unlock
from practices.models import AuditAction, AuditEntry, Role, TwoFactorPolicy, settings_for
from practices.scoping import practice_scope
from practices.two_factor import enrol_totp, has_totp
from tests.conftest import PASSWORD, totp_code
from tests.factories import MembershipFactory, UserFactory

LOCKED = (
    "Too many failed logins for this account. Try again in 15 minutes or ask your practice "
    "administrator to unlock it."
)


def entries(action):
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def log_in(client, email, password=PASSWORD, **extra):
    return client.post("/login/", {"login": email, "password": password}, **extra)


# Login ---------------------------------------------------------------------------------


def test_an_admin_logs_in_with_password_then_the_current_code(client, admin_user, practice):
    response = log_in(client, "Admin@Lakeside.test")
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/")["Location"].startswith("/login/")  # not logged in yet
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert "Incorrect code." in wrong.text
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    assert response["Location"] == "/"
    assert "Lakeside Oral Surgery" in client.get("/").text
    [login] = entries(AuditAction.LOGIN)
    assert (login.practice_id, login.actor_user_id) == (practice.pk, admin_user.pk)
    assert login.ip_address == "127.0.0.1"
    [failed_code] = entries(AuditAction.MFA_FAILED)
    assert failed_code.actor_user_id == admin_user.pk


def test_a_member_without_two_factor_logs_in_with_the_password_alone(client, front_desk_user):
    assert log_in(client, front_desk_user.email)["Location"] == "/"
    assert client.get("/intake/").status_code == 200


def test_a_failed_login_is_recorded_with_the_typed_email_and_never_the_password(
    client, admin_user, practice
):
    response = log_in(client, "admin@lakeside.test", "not-my-password")
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.text
    log_in(client, "nobody@nowhere.test", "guess-1234")
    known, unknown = entries(AuditAction.LOGIN_FAILED)
    assert (known.practice_id, known.actor_label) == (practice.pk, "admin@lakeside.test")
    assert (unknown.practice_id, unknown.actor_label) == (None, "nobody@nowhere.test")
    with scopes_disabled():
        for entry in AuditEntry.objects.all():
            assert "not-my-password" not in str(entry.__dict__)
            assert "guess-1234" not in str(entry.__dict__)


def test_logout_is_recorded(admin_client, admin_user):
    admin_client.post("/logout/")
    assert admin_client.get("/")["Location"].startswith("/login/")
    [logout] = entries(AuditAction.LOGOUT)
    assert logout.actor_user_id == admin_user.pk


def test_nobody_signs_up_by_themselves(client, db):
    page = client.get("/accounts/signup/")
    assert "Accounts are by invitation" in page.text
    client.post("/accounts/signup/", {"email": "me@self.test", "password1": "x-Long-pass-99"})
    assert not UserFactory._meta.model.objects.filter(email="me@self.test").exists()


def test_the_admin_has_no_login_form_of_its_own(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# Lockout -------------------------------------------------------------------------------


def test_five_failures_lock_the_account_with_a_clear_message(client, front_desk_user):
    for _ in range(4):
        assert log_in(client, front_desk_user.email, "wrong-password").status_code == 200
    fifth = log_in(client, front_desk_user.email, "wrong-password")
    assert fifth.status_code == 429
    assert LOCKED in fifth.text
    # Even the right password is refused now, with the same words.
    right = log_in(client, front_desk_user.email)
    assert right.status_code == 429
    assert LOCKED in right.text
    assert client.get("/intake/")["Location"].startswith("/login/")
    assert locked_out([front_desk_user.email.upper(), "other@x.test"]) == {front_desk_user.email}
    assert entries(AuditAction.LOCKED_OUT)[0].actor_user_id == front_desk_user.pk


def test_an_unlocked_account_logs_in_at_once(client, rf, front_desk_user, admin_user, practice):
    for _ in range(5):
        log_in(client, front_desk_user.email, "wrong-password")
    assert locked_out([front_desk_user.email])
    request = rf.post("/settings/team/")
    request.user = admin_user
    request.practice = practice
    unlock(front_desk_user.email, by=admin_user, request=request)
    assert locked_out([front_desk_user.email]) == set()
    assert log_in(client, front_desk_user.email)["Location"] == "/"
    [unlocked] = entries(AuditAction.UNLOCKED)
    assert unlocked.actor_user_id == front_desk_user.pk
    assert unlocked.summary == "Unlocked by admin@lakeside.test"


def test_another_account_is_not_locked_by_someone_elses_failures(
    client, front_desk_user, clinician_user
):
    other = clinician_user
    for _ in range(5):
        log_in(client, front_desk_user.email, "wrong-password")
    assert log_in(client, other.email)["Location"] == "/"


def test_one_address_trying_many_accounts_is_locked_after_twenty_failures(client, db):
    for number in range(20):
        log_in(client, f"guess{number}@nowhere.test", "wrong-password")
    response = log_in(client, "guess99@nowhere.test", "wrong-password")
    assert response.status_code == 429
    assert "Too many failed logins from your network address." in response.text
    # Another address is not concerned.
    user = UserFactory(email="elsewhere@lakeside.test")
    assert log_in(client, user.email, REMOTE_ADDR="10.1.2.3")["Location"] != "/login/"


def test_a_platform_operator_sees_and_clears_lockouts_in_the_admin(client, front_desk_user):
    for _ in range(5):
        log_in(client, front_desk_user.email, "wrong-password")
    operator = UserFactory(email="ops@platform.test", is_staff=True, is_superuser=True)
    client.force_login(operator)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert front_desk_user.email in listing.text
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username=front_desk_user.email)
    client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert locked_out([front_desk_user.email]) == set()


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=2, AXES_FAILURE_LIMIT=2)
def test_the_limits_are_settings(client, front_desk_user):
    log_in(client, front_desk_user.email, "wrong-password")
    assert log_in(client, front_desk_user.email, "wrong-password").status_code == 429


# Two-factor policy and enrolment -------------------------------------------------------


def test_an_admin_without_two_factor_is_sent_to_enrol_before_anything(client, practice):
    admin = MembershipFactory(practice=practice, role=Role.ADMIN, two_factor=False).user
    client.force_login(admin)
    for path in ["/", "/intake/", "/settings/", "/cases/"]:
        assert client.get(path)["Location"] == "/accounts/2fa/totp/activate/", path
    htmx = client.get("/cases/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == "/accounts/2fa/totp/activate/"
    # What stays open: enrolment (after confirming the password), logout, health, invitations.
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith(
        "/accounts/reauthenticate/"
    )
    assert client.get("/accounts/reauthenticate/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/invitations/some-token/").status_code == 404
    # Once enrolled, everything opens.
    enrol_totp(admin)
    assert client.get("/intake/").status_code == 200


def test_the_enrolment_page_turns_two_factor_on_and_records_it(
    client, practice, django_capture_on_commit_callbacks
):
    admin = MembershipFactory(practice=practice, role=Role.ADMIN, two_factor=False).user
    log_in(client, admin.email)
    assert client.get("/")["Location"] == "/accounts/2fa/totp/activate/"
    # The password was typed seconds ago: no second prompt for it before enrolling.
    page = client.get("/accounts/2fa/totp/activate/")
    assert 'data-testid="enrol-required"' in page.text
    secret = re.search(r'value="([A-Z2-7]+)" readonly data-testid="totp-secret"', page.text)[1]
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals on commit
        response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    codes = client.get("/accounts/2fa/recovery-codes/")
    assert codes.text.count("<code>") == 10
    assert has_totp(admin)
    assert client.get("/intake/").status_code == 200
    [enabled] = entries(AuditAction.MFA_ENABLED)
    assert (enabled.actor_user_id, enabled.practice_id) == (admin.pk, practice.pk)
    assert entries(AuditAction.RECOVERY_CODES)[0].summary == "Recovery codes generated"


def test_all_staff_policy_sends_every_role_to_enrol(client, practice, front_desk_user):
    client.force_login(front_desk_user)
    assert client.get("/intake/").status_code == 200
    options = settings_for(practice)
    options.two_factor_required_for = TwoFactorPolicy.ALL_STAFF
    with practice_scope(practice):
        options.save()
    assert client.get("/intake/")["Location"] == "/accounts/2fa/totp/activate/"


def test_an_operator_in_support_mode_must_have_two_factor(client, practice):
    operator = UserFactory(email="ops@platform.test", is_superuser=True, two_factor=False)
    client.force_login(operator)
    client.post("/practice/", {"practice": practice.pk})
    assert client.get("/")["Location"] == "/accounts/2fa/totp/activate/"


def test_the_admin_sets_the_policy_on_the_settings_page(admin_client, practice, client):
    page = admin_client.get("/settings/")
    assert 'href="/settings/security/"' in page.text
    assert "Practice administrators" in admin_client.get("/settings/security/").text
    response = admin_client.post("/settings/security/", {"two_factor_required_for": "all_staff"})
    assert response.status_code == 302
    with scopes_disabled():
        practice.settings.refresh_from_db()
    assert practice.settings.two_factor_required_for == TwoFactorPolicy.ALL_STAFF
    bad = admin_client.post("/settings/security/", {"two_factor_required_for": "nobody"})
    assert bad.status_code == 400


def test_only_an_admin_may_change_the_policy(client, coordinator_user):
    client.force_login(coordinator_user)
    assert client.get("/settings/security/").status_code == 403


def test_changing_two_factor_later_asks_for_the_password_again(client, admin_user):
    log_in(client, admin_user.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    response = client.get("/accounts/2fa/totp/deactivate/")
    assert response["Location"].startswith("/accounts/reauthenticate/")


def test_two_factor_cannot_be_turned_off_while_the_practice_requires_it(
    client, admin_user, front_desk_user
):
    log_in(client, admin_user.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    refused = client.post("/accounts/2fa/totp/deactivate/")
    assert "You cannot deactivate two-factor authentication." in refused.text
    assert has_totp(admin_user)
    # Someone the policy does not cover may turn it off.
    enrol_totp(front_desk_user)
    client.force_login(front_desk_user)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.post("/accounts/2fa/totp/deactivate/").status_code == 302
    assert not has_totp(front_desk_user)


def test_the_authenticator_key_is_encrypted_at_rest(admin_user):
    from tests.factories import TEST_TOTP_SECRET

    with scopes_disabled():
        stored = Authenticator.objects.get(user=admin_user, type=Authenticator.Type.TOTP)
    assert TEST_TOTP_SECRET not in str(stored.data)


def test_a_recovery_code_logs_in_once(client, admin_user):
    with scopes_disabled():
        codes = RecoveryCodes(
            Authenticator.objects.get(user=admin_user, type=Authenticator.Type.RECOVERY_CODES)
        ).get_unused_codes()
    log_in(client, admin_user.email)
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[0]})["Location"] == "/"
    client.post("/logout/")
    log_in(client, admin_user.email)
    again = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert again.status_code == 200
    assert "Incorrect code." in again.text
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[1]})["Location"] == "/"
    assert [e.summary for e in entries(AuditAction.RECOVERY_CODES)][-2:] == [
        "Recovery code used",
        "Recovery code used",
    ]


def test_the_header_links_to_the_two_factor_page(admin_client):
    assert 'href="/accounts/2fa/"' in admin_client.get("/").text
    page = admin_client.get("/accounts/2fa/")
    assert "On: you log in with your password and a code from your app." in page.text


# Password reset and hashing ------------------------------------------------------------


def test_password_reset_by_email_works_once(client, front_desk_user):
    sent = client.post("/accounts/password/reset/", {"email": "Desk@Lakeside.test"})
    assert sent["Location"] == "/accounts/password/reset/done/"
    [message] = mail.outbox
    assert message.to == ["desk@lakeside.test"]
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", message.body).group(1)
    form = client.get(link, follow=True)
    action = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(action, {"password1": "granite-Harbor-73", "password2": "granite-Harbor-73"})
    assert done["Location"] == "/accounts/password/reset/key/done/"
    front_desk_user.refresh_from_db()
    assert front_desk_user.check_password("granite-Harbor-73")
    assert 'data-testid="reset-link-invalid"' in client.get(link, follow=True).text
    assert log_in(client, front_desk_user.email, "granite-Harbor-73")["Location"] == "/"
    [reset] = entries(AuditAction.PASSWORD_RESET)
    assert reset.actor_user_id == front_desk_user.pk


def test_a_reset_for_an_unknown_address_says_the_same_and_sends_nothing(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@nowhere.test"})
    assert response["Location"] == "/accounts/password/reset/done/"
    assert all("nobody@nowhere.test" not in m.to for m in mail.outbox)


def test_a_password_change_is_recorded(admin_client, admin_user):
    response = admin_client.post(
        "/account/password/",
        {
            "oldpassword": PASSWORD,
            "password1": "granite-Harbor-73",
            "password2": "granite-Harbor-73",
        },
    )
    assert response["Location"] == "/"
    admin_user.refresh_from_db()
    assert admin_user.check_password("granite-Harbor-73")
    assert entries(AuditAction.PASSWORD_CHANGED)[0].actor_user_id == admin_user.pk


def test_production_settings_hash_passwords_with_argon2():
    from config import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=project_settings.PASSWORD_HASHERS):
        hashed = make_password("granite-Harbor-73")
        assert hashed.startswith("argon2$argon2id$")
        assert check_password("granite-Harbor-73", hashed)


@pytest.mark.parametrize("email", ["admin@lakeside.test"])
def test_the_lockout_handler_counts_in_the_database(client, admin_user, email):
    from axes.models import AccessAttempt

    log_in(client, email, "wrong-password")
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address) == (email, "127.0.0.1")
    assert "wrong-password" not in attempt.post_data
    assert email not in attempt.post_data
