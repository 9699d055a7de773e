"""Invitations (practices/invitations.py) and the public link that accepts them."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from practices import invitations
from practices.models import AuditAction, AuditEntry, Invitation, Membership, Role, User
from tests.conftest import PASSWORD

NEW_PASSWORD = "lantern-Orchard-58"


def link_of(message) -> str:
    return re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)


def token_of(message) -> str:
    return re.search(r"/invitations/([^/\s]+)/", message.body).group(1)


@pytest.fixture
def invited(practice, admin_user):
    """An invitation of new@lakeside.test as front desk; returns (invitation, token)."""
    sent = invitations.invite(practice, "New@Lakeside.test", Role.FRONT_DESK, by=admin_user)
    return sent.invitation, sent.token


def entries(action):
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_an_invitation_is_emailed_with_a_one_time_link_and_only_its_hash_is_stored(
    practice, admin_user, settings
):
    settings.SITE_URL = "https://app.example.test"
    sent = invitations.invite(practice, " New@Lakeside.TEST ", Role.CLINICIAN, by=admin_user)
    invitation = sent.invitation
    assert invitation.email == "new@lakeside.test"
    assert sent.emailed
    [message] = mail.outbox
    assert message.to == ["new@lakeside.test"]
    assert "Lakeside Oral Surgery" in message.subject
    assert "Lakeside Oral Surgery" in message.body and "as Clinician" in message.body
    assert link_of(message) == f"https://app.example.test/invitations/{sent.token}/"
    with scopes_disabled():
        stored = Invitation.objects.get()
        row = Invitation.objects.filter(pk=stored.pk).values().first()
    assert stored.token_hash == hashlib.sha256(sent.token.encode()).hexdigest()
    assert sent.token not in str(row)
    week = timezone.now() + timedelta(days=7)
    assert stored.expires_at == pytest.approx(week, abs=timedelta(minutes=1))
    assert stored.is_pending
    [entry] = entries(AuditAction.INVITED)
    assert entry.practice_id == practice.pk and "new@lakeside.test" in entry.summary


def test_inviting_an_active_member_is_refused_with_a_clear_message(
    practice, admin_user, front_desk_user
):
    with pytest.raises(invitations.InvitationRefused) as caught:
        invitations.invite(practice, "DESK@lakeside.test", Role.ADMIN, by=admin_user)
    assert caught.value.messages == [
        "desk@lakeside.test is already a member of Lakeside Oral Surgery."
    ]
    assert mail.outbox == []


def test_inviting_again_replaces_the_pending_invitation(practice, admin_user, invited):
    first, first_token = invited
    second = invitations.invite(practice, "new@lakeside.test", Role.COORDINATOR, by=admin_user)
    with scopes_disabled():
        first.refresh_from_db()
    assert first.revoked_at is not None
    with pytest.raises(invitations.InvitationUnusable):
        invitations.find(first_token)
    assert invitations.find(second.token).role == Role.COORDINATOR


def test_the_link_shows_who_invites_whom_to_which_practice_and_role(client, invited):
    invitation, token = invited
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200
    summary = page.content.decode()
    assert "invites <strong>new@lakeside.test</strong>" in summary
    assert "<strong>Lakeside Oral Surgery</strong>" in summary
    assert "<strong>Front desk</strong>" in summary
    # Opening the link (a mail scanner does) changes nothing.
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.is_pending


def test_accepting_sets_the_password_creates_the_member_logs_in_and_goes_home(
    client, practice, invited
):
    invitation, token = invited
    response = client.post(
        f"/invitations/{token}/",
        {
            "first_name": "Rosa",
            "last_name": "Diaz",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="new@lakeside.test")
    assert user.check_password(NEW_PASSWORD)
    assert user.get_full_name() == "Rosa Diaz"
    with scopes_disabled():
        membership = Membership.objects.get(user=user)
    assert (membership.practice_id, membership.role, membership.is_active) == (
        practice.pk,
        Role.FRONT_DESK,
        True,
    )
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None
    home = client.get("/")
    assert home.status_code == 200
    assert "Welcome to Lakeside Oral Surgery." in home.content.decode()
    [entry] = entries(AuditAction.INVITATION_ACCEPTED)
    assert (entry.practice_id, entry.actor_user_id) == (practice.pk, user.pk)


def test_the_link_works_once(client, invited):
    _, token = invited
    form = {
        "first_name": "R",
        "last_name": "D",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }
    assert client.post(f"/invitations/{token}/", form).status_code == 302
    client.logout()
    again = client.get(f"/invitations/{token}/")
    assert again.status_code == 410
    assert "was already accepted" in again.content.decode()
    assert client.post(f"/invitations/{token}/", form).status_code == 410
    assert User.objects.filter(email="new@lakeside.test").count() == 1


def test_a_password_the_validators_refuse_creates_nothing(client, invited):
    invitation, token = invited
    response = client.post(
        f"/invitations/{token}/",
        {"first_name": "R", "last_name": "D", "password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This password is too common." in html or "entirely numeric" in html
    assert not User.objects.filter(email="new@lakeside.test").exists()
    with scopes_disabled():
        invitation.refresh_from_db()
    assert invitation.is_pending


def test_an_expired_link_says_so(client, invited):
    _, token = invited
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "has expired" in response.content.decode()


def test_a_withdrawn_link_says_so(client, invited, admin_user):
    invitation, token = invited
    assert invitations.revoke(invitation, by=admin_user)
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "was withdrawn" in response.content.decode()
    assert len(entries(AuditAction.INVITATION_REVOKED)) == 1


def test_an_unknown_link_is_a_404_with_words(client, db):
    response = client.get("/invitations/not-a-real-token/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_resending_issues_a_new_link_and_the_old_one_stops_working(
    client, practice, admin_user, invited
):
    invitation, old_token = invited
    mail.outbox.clear()
    sent = invitations.resend(invitation, by=admin_user)
    assert token_of(mail.outbox[0]) == sent.token != old_token
    assert client.get(f"/invitations/{old_token}/").status_code == 404
    assert client.get(f"/invitations/{sent.token}/").status_code == 200


def test_a_member_of_another_practice_joins_with_their_own_password(
    client, practice, admin_user, outsider
):
    sent = invitations.invite(practice, outsider.email, Role.COORDINATOR, by=admin_user)
    page = client.get(f"/invitations/{sent.token}/")
    assert "You already have an account" in page.content.decode()
    assert "password1" not in page.content.decode()
    response = client.post(f"/invitations/{sent.token}/", {"password1": "ignored-Pass-99"})
    # The link never logs into an existing account: they log in as usual.
    assert response.status_code == 302 and response["Location"] == "/login/"
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)
    with scopes_disabled():
        roles = dict(Membership.objects.filter(user=outsider).values_list("practice_id", "role"))
    assert roles[practice.pk] == Role.COORDINATOR
    assert len(roles) == 2
    assert "_auth_user_id" not in client.session
