"""The GP status page: staff create (shown once) and revoke an office's link; the public
page shows the office's patients (as little identity as the practice chose), their stage
and the letters sent; every use is logged; a bad token, a revoked or expired link,
another office's letter and another practice's ids are 404; nothing is cached or indexed.
In "no PHI in email" mode the email carries only a working link (loopback SMTP)."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from communications.models import Letter, LetterStatus, StatusLink, StatusLinkAccess
from communications.status_links import create_status_link, hash_token
from communications.tasks import send_letter
from practices.models import settings_for
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind as K

from ..factories import OfficeFactory
from ..smtp import serve_smtp
from .letter_cases import letters_of, make_case, step


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


@pytest.fixture
def case(practice):
    """Robin Quill, referred by Maple Street Dental; consult-scheduled letter sent."""
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
        Letter.objects.filter(pk=letter.pk).update(status=LetterStatus.SENT, sent_at=timezone.now())
        referral.refresh_from_db()
    return referral


@pytest.fixture
def token(case, practice):
    with practice_scope(practice):
        _, token = create_status_link(case.referring_office)
    return token


def the_letter(referral) -> Letter:
    with scopes_disabled():
        return Letter.objects.get(referral_id=referral.pk)


def test_staff_create_a_link_shown_once_and_only_its_hash_is_stored(admin_client, case):
    office_id = case.referring_office_id
    response = admin_client.post(reverse("status_link_create", args=[office_id]))
    assert response.status_code == 200
    url = re.search(r'value="(http[^"]+/status/([^/"]+)/)"', response.content.decode())
    assert url, "the link is shown"
    token = url.group(2)
    with scopes_disabled():
        link = StatusLink.objects.get(office_id=office_id)
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert link.expires_at > timezone.now() + dt.timedelta(days=179)
    # The office page lists it without the token.
    html = admin_client.get(reverse("office_detail", args=[office_id])).content.decode()
    assert f"#{link.pk}" in html and token not in html


def test_clinicians_cannot_hand_out_links(client, clinician_user, case):
    client.force_login(clinician_user)
    response = client.post(reverse("status_link_create", args=[case.referring_office_id]))
    assert response.status_code == 403


def test_the_page_shows_initials_dob_stage_and_letters(client, case, token):
    response = client.get(reverse("status_page", args=[token]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Maple Street Dental" in html
    assert "<strong>RQ</strong>" in html
    assert "Robin" not in html and "Quill" not in html
    with scopes_disabled():
        date_of_birth = case.patient.date_of_birth
    assert date_of_birth.strftime("%b %-d, %Y") in html
    assert "Consult scheduled" in html
    assert reverse("status_letter_pdf", args=[token, the_letter(case).pk]) in html
    assert "no-store" in response["Cache-Control"]
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "phi, shows, hides",
    [
        ("initials", ["RQ"], ["Quill", "Date of birth"]),
        ("full_name", ["Robin Quill", "Date of birth"], []),
    ],
)
def test_the_practice_chooses_how_patients_are_named(
    client, practice, case, token, phi, shows, hides
):
    with practice_scope(practice):
        options = settings_for(practice)
        options.status_page_phi = phi
        options.save()
    html = client.get(reverse("status_page", args=[token])).content.decode()
    for text in shows:
        assert text in html
    for text in hides:
        assert text not in html


def test_every_use_is_logged(client, practice, case, token):
    letter = the_letter(case)
    client.get(reverse("status_page", args=[token]), HTTP_USER_AGENT="GP browser")
    response = client.get(reverse("status_letter_pdf", args=[token, letter.pk]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert "no-store" in response["Cache-Control"]
    with practice_scope(practice):
        accesses = list(StatusLinkAccess.objects.order_by("id"))
        link = StatusLink.objects.get()
    assert [a.target for a in accesses] == ["page", f"letter:{letter.pk}"]
    assert accesses[0].user_agent == "GP browser" and accesses[0].ip_address == "127.0.0.1"
    assert link.last_used_at is not None


def test_unknown_revoked_and_expired_tokens_are_404(admin_client, practice, case, token):
    client = admin_client  # a logged-in member changes nothing: the token decides
    assert client.get(reverse("status_page", args=["not-a-token"])).status_code == 404
    with practice_scope(practice):
        link = StatusLink.objects.get()
        _, second = create_status_link(case.referring_office)
    assert client.get(reverse("status_page", args=[token])).status_code == 200
    response = client.post(reverse("status_link_revoke", args=[link.pk]))
    assert response.status_code == 302 and response.url.endswith(
        reverse("office_detail", args=[case.referring_office_id])
    )
    assert client.get(reverse("status_page", args=[token])).status_code == 404
    letter = the_letter(case)
    assert client.get(reverse("status_letter_pdf", args=[token, letter.pk])).status_code == 404
    # The other link still works until it expires.
    assert client.get(reverse("status_page", args=[second])).status_code == 200
    with practice_scope(practice):
        expires_at = StatusLink.objects.get(token_hash=hash_token(second)).expires_at
    with time_machine.travel(expires_at + dt.timedelta(seconds=1)):
        assert client.get(reverse("status_page", args=[second])).status_code == 404


def test_another_offices_token_shows_none_of_this_office(client, practice, case):
    with practice_scope(practice):
        other_office = OfficeFactory(practice=practice, name="Birch Lane Dentistry")
        _, other_token = create_status_link(other_office)
    html = client.get(reverse("status_page", args=[other_token])).content.decode()
    assert "RQ" not in html and "No referrals from your office" in html
    url = reverse("status_letter_pdf", args=[other_token, the_letter(case).pk])
    assert client.get(url).status_code == 404


def test_a_letter_not_yet_sent_cannot_be_downloaded(client, practice, case, token):
    letter = the_letter(case)
    with practice_scope(practice):
        Letter.objects.filter(pk=letter.pk).update(status=LetterStatus.QUEUED, sent_at=None)
    url = reverse("status_letter_pdf", args=[token, letter.pk])
    assert client.get(url).status_code == 404


def test_another_practice_cannot_manage_our_links(client, outsider, practice, case, token):
    with practice_scope(practice):
        link = StatusLink.objects.get()
    client.force_login(outsider)
    office_id = case.referring_office_id
    assert client.post(reverse("status_link_create", args=[office_id])).status_code == 404
    assert client.post(reverse("status_link_revoke", args=[link.pk])).status_code == 404
    with practice_scope(practice):
        link.refresh_from_db()
        assert link.revoked_at is None and StatusLink.objects.count() == 1


def test_staff_of_another_practice_see_the_link_as_the_office_does(client, outsider, case, token):
    # The token, not the viewer's login, decides what is shown.
    client.force_login(outsider)
    response = client.get(reverse("status_page", args=[token]))
    assert response.status_code == 200 and "RQ" in response.content.decode()


def test_no_phi_email_carries_only_a_link_that_works(client, practice, smtp_server):
    with practice_scope(practice):
        options = settings_for(practice)
        options.no_phi_in_email = True
        options.save()
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        step(referral, K.CONSULT_COMPLETED)
        (letter,) = letters_of(referral)
    assert send_letter.run(practice.pk, letter.pk) == "sent"
    (message,) = smtp_server.messages
    types = [part.get_content_type() for part in message.walk()]
    assert "application/pdf" not in types
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Quill" not in body and "Robin" not in body
    match = re.search(r"https?://[^\s]+/status/([A-Za-z0-9_-]+)/", body)
    assert match, body
    response = client.get(reverse("status_page", args=[match.group(1)]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "RQ" in html and "Consult completed" in html
    pdf = client.get(reverse("status_letter_pdf", args=[match.group(1), letter.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
