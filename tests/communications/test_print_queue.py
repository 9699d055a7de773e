"""The print queue: letters to offices that take fax or mail wait there for a person to
print or fax them; marking them done, in one go or one by one; skipping with a reason;
the PDF; every role may work it; another practice sees none of it (404)."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from communications.models import Letter, LetterStatus
from practices.scoping import practice_scope
from referrals.choices import LetterChannel
from referrals.choices import MilestoneKind as K

from ..factories import OfficeFactory
from .letter_cases import letters_of, make_case, step


@pytest.fixture
def fax_letter(practice):
    with practice_scope(practice):
        referral = make_case(practice, channel=LetterChannel.FAX, first_name="Robin")
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
    return letter


@pytest.fixture
def mail_letter(practice):
    with practice_scope(practice):
        office = OfficeFactory(
            practice=practice,
            name="Birch Lane Dentistry",
            address="400 Birch Lane",
            city="Shelbyville",
            state="IL",
            zip_code="62565",
            preferred_channel=LetterChannel.MAIL,
        )
        referral = make_case(practice, office=office, first_name="Casey", last_name="Moss")
        step(referral, K.CONSULT_COMPLETED)
        (letter,) = letters_of(referral)
    return letter


@pytest.fixture
def email_letter(practice):
    with practice_scope(practice):
        referral = make_case(practice, first_name="Emery", last_name="Stone")
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
    return letter


def page_of(client, **params) -> str:
    response = client.get(reverse("print_queue"), params)
    assert response.status_code == 200
    return response.content.decode()


def queued_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-letter="(\d+)"', html)]


def refreshed(letter) -> Letter:
    with scopes_disabled():
        return Letter.objects.get(pk=letter.pk)


def test_it_lists_fax_and_mail_letters_with_what_is_needed_to_send_them(
    admin_client, fax_letter, mail_letter, email_letter
):
    html = page_of(admin_client)
    assert queued_ids(html) == [fax_letter.pk, mail_letter.pk]  # oldest due first
    assert "Robin Quill" in html and "Casey Moss" in html
    assert "Emery Stone" not in html  # email letters go by themselves
    assert "555-0199" in html  # the fax number
    assert "400 Birch Lane" in html and "Shelbyville, IL 62565" in html
    assert "Mark faxed" in html and "Mark printed" in html
    assert re.search(r'data-testid="tab-fax">To fax <span class="pq-count">1<', html)
    assert re.search(r'data-testid="tab-mail">To print and mail <span class="pq-count">1<', html)


def test_tabs_show_one_channel_and_htmx_gets_only_the_list(admin_client, fax_letter, mail_letter):
    assert queued_ids(page_of(admin_client, channel="fax")) == [fax_letter.pk]
    assert queued_ids(page_of(admin_client, channel="mail")) == [mail_letter.pk]
    fragment = admin_client.get(
        reverse("print_queue"), {"channel": "mail"}, headers={"HX-Request": "true"}
    )
    body = fragment.content.decode()
    assert "<html" not in body and queued_ids(body) == [mail_letter.pk]
    assert "HX-Request" in fragment["Vary"]


def test_an_empty_queue_says_so(admin_client, email_letter):
    html = page_of(admin_client)
    assert "Nothing to print or fax." in html
    assert queued_ids(html) == []


def test_marking_a_letter_faxed_takes_it_out_of_the_queue(admin_client, fax_letter):
    response = admin_client.post(reverse("print_queue_mark", args=[fax_letter.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("print_queue")

    letter = refreshed(fax_letter)
    assert letter.status == LetterStatus.PRINTED
    assert letter.sent_at is not None
    html = admin_client.get(response["Location"]).content.decode()
    assert "Marked faxed: Consult scheduled letter" in html
    assert queued_ids(html) == []
    done = html.split('data-testid="print-queue-done"')[1]
    assert "Consult scheduled to Dr. Jordan Vale" in done and "faxed" in done


def test_with_htmx_the_row_says_done_and_the_queue_is_told(admin_client, fax_letter):
    response = admin_client.post(
        reverse("print_queue_mark", args=[fax_letter.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<tr") and "✓ Faxed" in body
    assert response["HX-Trigger"] == "printQueueChanged"


def test_a_letter_marked_twice_is_not_marked_again(admin_client, fax_letter):
    url = reverse("print_queue_mark", args=[fax_letter.pk])
    admin_client.post(url)
    first = refreshed(fax_letter).sent_at
    response = admin_client.post(url, follow=True)
    assert "This letter is not in the print queue (it is Printed / faxed)." in (
        response.content.decode()
    )
    assert refreshed(fax_letter).sent_at == first


def test_a_batch_is_marked_at_once(admin_client, fax_letter, mail_letter):
    response = admin_client.post(
        reverse("print_queue_mark_many"),
        {"letter": [fax_letter.pk, mail_letter.pk], "channel": "mail"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("print_queue") + "?channel=mail"
    assert "2 letters marked as sent." in response.content.decode()
    assert {refreshed(x).status for x in (fax_letter, mail_letter)} == {LetterStatus.PRINTED}


def test_a_batch_with_nothing_ticked_says_what_to_do(admin_client, fax_letter):
    response = admin_client.post(reverse("print_queue_mark_many"), {}, follow=True)
    assert "Tick the letters you printed or faxed first." in response.content.decode()
    assert refreshed(fax_letter).status == LetterStatus.PRINT_QUEUED


def test_skipping_a_letter_needs_a_reason(admin_client, mail_letter):
    url = reverse("print_queue_skip", args=[mail_letter.pk])
    assert "Why will it not be sent?" in admin_client.get(url).content.decode()

    response = admin_client.post(url, {"reason": "  "})
    assert response.status_code == 422
    assert "Say why this letter will not be sent." in response.content.decode()
    assert refreshed(mail_letter).status == LetterStatus.PRINT_QUEUED

    response = admin_client.post(url, {"reason": "Handed over at the study club"})
    assert response.status_code == 302
    letter = refreshed(mail_letter)
    assert (letter.status, letter.reason) == (
        LetterStatus.SKIPPED,
        "Handed over at the study club",
    )
    # Gone from the queue; its skip page is gone too.
    assert queued_ids(page_of(admin_client)) == []
    assert admin_client.get(url).status_code == 404


def test_the_pdf_opens_for_printing_named_with_initials_only(admin_client, fax_letter):
    response = admin_client.get(reverse("print_queue_pdf", args=[fax_letter.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    disposition = response["Content-Disposition"]
    assert re.fullmatch(
        r'inline; filename="Consult-scheduled-RQ-\d{4}-\d\d-\d\d\.pdf"', disposition
    )
    assert "private" in response["Cache-Control"]
    # Stored: printed again later, it is the same document.
    letter = refreshed(fax_letter)
    with letter.pdf.open("rb") as stored:
        assert stored.read() == response.content


@pytest.mark.parametrize("role_user", ["front_desk_user", "clinician_user", "coordinator_user"])
def test_every_role_works_the_queue(client, request, role_user, fax_letter):
    client.force_login(request.getfixturevalue(role_user))
    assert queued_ids(page_of(client)) == [fax_letter.pk]
    client.post(reverse("print_queue_mark", args=[fax_letter.pk]))
    assert refreshed(fax_letter).status == LetterStatus.PRINTED


def test_it_needs_a_login(client, fax_letter):
    response = client.get(reverse("print_queue"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.post(reverse("print_queue_mark", args=[fax_letter.pk]))
    assert refreshed(fax_letter).status == LetterStatus.PRINT_QUEUED


def test_another_practice_sees_and_touches_none_of_our_letters(
    client, outsider, fax_letter, mail_letter
):
    client.force_login(outsider)
    html = page_of(client)
    assert queued_ids(html) == [] and "Robin Quill" not in html
    assert client.get(reverse("print_queue_pdf", args=[fax_letter.pk])).status_code == 404
    assert client.post(reverse("print_queue_mark", args=[fax_letter.pk])).status_code == 404
    assert client.get(reverse("print_queue_skip", args=[fax_letter.pk])).status_code == 404
    skip = client.post(reverse("print_queue_skip", args=[mail_letter.pk]), {"reason": "x"})
    assert skip.status_code == 404
    client.post(reverse("print_queue_mark_many"), {"letter": [fax_letter.pk, mail_letter.pk]})
    assert {refreshed(x).status for x in (fax_letter, mail_letter)} == {LetterStatus.PRINT_QUEUED}


def test_the_navigation_counts_letters_waiting(admin_client, fax_letter, mail_letter):
    html = page_of(admin_client)
    assert re.search(r'data-testid="nav-print-queue">Print queue<span class="count"[^>]*>2<', html)


def test_the_page_takes_a_fixed_number_of_queries(
    admin_client, practice, django_assert_max_num_queries
):
    with practice_scope(practice):
        for n in range(12):
            channel = LetterChannel.FAX if n % 2 else LetterChannel.MAIL
            referral = make_case(practice, channel=channel, last_name=f"Synthetic{n}")
            step(referral, K.CONSULT_SCHEDULED)
            if n < 4:
                (letter,) = letters_of(referral)
                Letter.objects.filter(pk=letter.pk).update(
                    status=LetterStatus.PRINTED, sent_at=timezone.now()
                )
    page_of(admin_client)  # warm the session and the practice settings
    with django_assert_max_num_queries(10):
        html = page_of(admin_client)
    assert len(queued_ids(html)) == 8
