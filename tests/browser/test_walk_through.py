"""Issue 8's walk-through, as a new practice would live it: the administrator requires
two-factor of all staff and invites a front-desk person; she accepts in her own browser, is
made to enrol an authenticator before anything else, enters a referral; the administrator
then finds each of those steps in the audit log."""

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from practices.models import AuditAction, AuditEntry, PracticeSettings, TwoFactorPolicy
from referrals.models import Referral
from tests.conftest import ARTIFACTS, fresh_totp_code
from tests.factories import OfficeFactory, ProviderFactory
from tests.smtp import serve_smtp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


def test_invite_enrol_enter_a_referral_and_see_it_all_in_the_audit_log(
    login,
    admin_user,
    practice,
    live_server,
    new_context,
    smtp_server,
    settings,
    screenshot,
    request,
):
    settings.SITE_URL = live_server.url
    maple = OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139")
    ProviderFactory(office=maple, first_name="Sam", last_name="Lee")

    # The administrator: two-factor for all staff, then the invitation.
    page = login(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_test_id("security-settings-link").click()
    page.get_by_label("All staff").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("All staff")).to_be_checked()
    with scopes_disabled():
        assert (
            PracticeSettings.objects.get(practice=practice).two_factor_required_for
            == TwoFactorPolicy.ALL_STAFF
        )
    page.goto(f"{live_server.url}/settings/team/")
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email").fill("rosa@lakeside.test")
    form.get_by_label("Role").select_option(label="Front desk")
    form.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to rosa@lakeside.test.")).to_be_visible()
    screenshot("1-admin-invited")
    [message] = smtp_server.messages
    link = re.search(r"http://\S+/invitations/\S+/", message.get_content()).group(0)

    # The front-desk person, in her own browser.
    context = new_context()
    rosa = context.new_page()
    shoot = _shooter(rosa, ARTIFACTS / request.node.name)
    rosa.goto(link)
    rosa.get_by_label("First name").fill("Rosa")
    rosa.get_by_label("Last name").fill("Diaz")
    rosa.get_by_label("Password", exact=True).fill("lantern-Orchard-58")
    rosa.get_by_label("Password again").fill("lantern-Orchard-58")
    rosa.get_by_role("button", name="Set password and join").click()

    # Two-factor comes before anything else, the intake included.
    rosa.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(rosa.get_by_test_id("enrol-required")).to_be_visible()
    shoot("2-rosa-must-enrol")
    rosa.goto(f"{live_server.url}/intake/")
    rosa.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    secret = rosa.get_by_test_id("totp-secret").input_value()
    rosa.get_by_label("Code from the app").fill(fresh_totp_code(secret, set()))
    rosa.get_by_role("button", name="Turn on two-factor").click()
    rosa.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    expect(rosa.get_by_test_id("recovery-codes").locator("code")).to_have_count(10)
    rosa.get_by_test_id("recovery-codes-continue").click()
    rosa.wait_for_url(f"{live_server.url}/")

    # Now the intake opens: a new patient referred by Dr. Lee of Maple Dental.
    rosa.goto(f"{live_server.url}/intake/")
    rosa.get_by_label("Find patient").fill("Walkthrough")
    expect(rosa.locator("#patient-option-new")).to_be_visible()
    rosa.get_by_label("First name", exact=True).fill("Robin")
    rosa.get_by_label("Last name", exact=True).fill("Walkthrough")
    rosa.get_by_label("Date of birth").fill("03/14/1988")
    rosa.get_by_label("Chart no.").fill("WT-1001")
    rosa.get_by_role("combobox", name="Source").select_option(label="Doctor (GP)")
    rosa.locator("#id_office_q").fill("maple")
    rosa.locator(f"#office-option-{maple.pk}").click()
    expect(rosa.get_by_test_id("office-chip")).to_contain_text("Maple Dental")
    rosa.get_by_label("Doctor", exact=True).select_option(label="Dr. Sam Lee")
    rosa.get_by_label("Case type").select_option(value="implants")
    rosa.get_by_label("Reason").fill("Implant consult")
    shoot("3-rosa-intake")
    rosa.get_by_role("button", name=re.compile("^Save")).first.click()
    rosa.wait_for_url(re.compile(r"/cases/\d+/$"))
    shoot("4-rosa-case")
    with scopes_disabled():
        referral = Referral.objects.select_related("patient").get()
        assert referral.patient.chart_number == "WT-1001"
        assert referral.referring_office_id == maple.pk
        rosa_user_id = (
            AuditEntry.objects.filter(action=AuditAction.INVITATION_ACCEPTED).get().actor_user_id
        )
    context.close()

    # The administrator's audit log: Rosa's whole first hour, newest first.
    page.goto(f"{live_server.url}/settings/audit-log/")
    page.get_by_label("Person").select_option(label="rosa@lakeside.test")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    text = " ".join(rows.all_inner_texts())
    for shown in ("Accepted an invitation", "Turned two-factor on", "Created", "WT-1001"):
        assert shown in text, shown
    screenshot("5-admin-audit-log-rosa")
    with scopes_disabled():
        rosa_actions = set(
            AuditEntry.objects.filter(practice=practice, actor_user_id=rosa_user_id).values_list(
                "action", flat=True
            )
        )
        admin_actions = set(
            AuditEntry.objects.filter(practice=practice, actor_user=admin_user).values_list(
                "action", flat=True
            )
        )
    assert {
        AuditAction.INVITATION_ACCEPTED,
        AuditAction.MFA_ENABLED,
        AuditAction.CREATED,
    } <= rosa_actions
    assert AuditAction.INVITED in admin_actions

    page.get_by_label("Person").select_option(label="admin@lakeside.test")
    page.get_by_label("Action").select_option(label="Invited a person")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("rosa@lakeside.test")
    screenshot("6-admin-audit-log-invitation")


def _shooter(other_page, folder):
    def take(name):
        folder.mkdir(parents=True, exist_ok=True)
        other_page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take
