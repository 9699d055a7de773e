"""The delivery log: the case's and the office's letters with what became of them, the
practice-wide letters page and its filters, resend (through the outbox) and the PDF
download; another practice's ids are 404 everywhere."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from communications.letters import dispatch
from communications.models import Letter, LetterKind, LetterStatus
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind as K

from ..factories import OfficeFactory
from .letter_cases import letters_of, make_case, step


def refreshed(letter) -> Letter:
    with scopes_disabled():
        return Letter.objects.get(pk=letter.pk)


@pytest.fixture
def case(practice):
    """A case with a sent consult-scheduled letter and a failed consult-completed one."""
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        step(referral, K.CONSULT_SCHEDULED)
        step(referral, K.CONSULT_COMPLETED)
        sent, failed = letters_of(referral)
        Letter.objects.filter(pk=sent.pk).update(
            status=LetterStatus.SENT, sent_at=timezone.now(), subject="Consult booked"
        )
        Letter.objects.filter(pk=failed.pk).update(
            status=LetterStatus.FAILED, reason="550 mailbox unavailable"
        )
    return referral


@pytest.fixture
def no_email_case(practice):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Quiet Pines Dental", email="")
        referral = make_case(
            practice, office=office, provider_email="", first_name="Sam", last_name="Reed"
        )
        step(referral, K.CONSULT_SCHEDULED)
    return referral


def test_case_page_shows_each_letter_with_status_reason_and_loop(admin_client, case):
    html = admin_client.get(reverse("referral_detail", args=[case.pk])).content.decode()
    assert 'data-testid="case-letters"' in html
    assert "Consult scheduled" in html and "Consult completed" in html
    assert "550 mailbox unavailable" in html
    assert "Dr." in html or "Vale" in html  # the recipient
    assert "Loop: 1 of 2 letters sent" in html


def test_a_letter_skipped_for_no_email_shows_why(admin_client, no_email_case):
    html = admin_client.get(reverse("referral_detail", args=[no_email_case.pk])).content.decode()
    assert "Skipped" in html
    assert "No email on file for" in html
    assert "Loop: 0 of 1 letter sent" in html


def test_office_page_lists_the_office_letters_and_its_loop_rate(admin_client, case):
    url = reverse("office_detail", args=[case.referring_office_id])
    html = admin_client.get(url).content.decode()
    assert 'data-testid="office-letters"' in html
    assert html.count('data-testid="office-letter"') == 2
    assert "Loop closed on time for" in html and "0 of 1" in html


def test_letters_page_filters_by_status_kind_office_and_dates(admin_client, case, no_email_case):
    url = reverse("letter_list")
    html = admin_client.get(url).content.decode()
    assert html.count('data-testid="letter-row"') == 3
    html = admin_client.get(url, {"status": "failed"}).content.decode()
    assert html.count('data-testid="letter-row"') == 1 and "550 mailbox" in html
    html = admin_client.get(url, {"kind": LetterKind.CONSULT_SCHEDULED}).content.decode()
    assert html.count('data-testid="letter-row"') == 2
    html = admin_client.get(url, {"office": no_email_case.referring_office_id}).content.decode()
    assert html.count('data-testid="letter-row"') == 1 and "Sam Reed" in html
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    html = admin_client.get(url, {"from": tomorrow}).content.decode()
    assert "No letters match" in html
    html = admin_client.get(url, {"from": "yesterday"}).content.decode()
    assert "From: enter a date like" in html


def test_letters_page_overdue_only(admin_client, case, practice):
    url = reverse("letter_list")
    html = admin_client.get(url, {"overdue": "1"}).content.decode()
    assert "No letters match" in html
    with practice_scope(practice):
        Letter.objects.filter(referral=case).update(due_at=timezone.now() - dt.timedelta(days=10))
    html = admin_client.get(url, {"overdue": "1"}).content.decode()
    assert html.count('data-testid="letter-row"') == 1 and "550 mailbox" in html


def test_letters_page_queries_do_not_grow_with_the_letters(admin_client, practice):
    def add_cases(n):
        with practice_scope(practice):
            for i in range(n):
                referral = make_case(practice, first_name=f"Pat{i}", last_name="Lee")
                step(referral, K.CONSULT_SCHEDULED)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(reverse("letter_list"))
        assert response.status_code == 200
        return len(captured)

    add_cases(1)
    admin_client.get(reverse("letter_list"))  # warm the session and settings rows
    one = queries()
    add_cases(12)
    assert queries() == one


def test_letters_page_htmx_returns_only_the_table(admin_client, case):
    response = admin_client.get(reverse("letter_list"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-testid="letter-table"' in html and "<html" not in html


def test_resend_a_failed_letter_requeues_it_and_dispatches_on_commit(
    admin_client, case, django_capture_on_commit_callbacks
):
    failed = letters_of_unscoped(case)[1]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("letter_resend", args=[failed.pk]), {"next": "/letters/"}
        )
    assert response.status_code == 302 and response.url == "/letters/"
    letter = refreshed(failed)
    assert letter.status == LetterStatus.QUEUED and letter.reason == ""
    assert any(getattr(cb, "func", None) is dispatch for cb in callbacks)


def test_resend_of_a_sent_letter_asks_first(admin_client, case):
    sent = letters_of_unscoped(case)[0]
    url = reverse("letter_resend", args=[sent.pk])
    response = admin_client.post(url)  # no confirmation: nothing happens
    assert response.status_code == 200 and "already went out" in response.content.decode()
    assert refreshed(sent).status == LetterStatus.SENT
    response = admin_client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert refreshed(sent).status == LetterStatus.QUEUED


def test_resend_refused_without_an_address_says_so(admin_client, no_email_case):
    (letter,) = letters_of_unscoped(no_email_case)
    response = admin_client.post(reverse("letter_resend", args=[letter.pk]), follow=True)
    assert "No email on file" in response.content.decode()
    assert refreshed(letter).status == LetterStatus.SKIPPED


def test_download_the_pdf_as_an_attachment(admin_client, case):
    letter = letters_of_unscoped(case)[0]
    response = admin_client.get(reverse("letter_download", args=[letter.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="Consult-scheduled-RQ')
    assert response.content.startswith(b"%PDF")
    assert refreshed(letter).pdf  # stored for next time


def test_download_needs_a_login(client, case):
    letter = letters_of_unscoped(case)[0]
    response = client.get(reverse("letter_download", args=[letter.pk]))
    assert response.status_code == 302 and "/login" in response.url


@pytest.mark.parametrize(
    "name, method",
    [
        ("letter_resend", "get"),
        ("letter_resend", "post"),
        ("letter_download", "get"),
    ],
)
def test_another_practice_gets_404_for_our_letters(client, outsider, case, name, method):
    client.force_login(outsider)
    letter = letters_of_unscoped(case)[1]
    response = getattr(client, method)(reverse(name, args=[letter.pk]), {"confirm": "yes"})
    assert response.status_code == 404
    assert refreshed(letter).status == LetterStatus.FAILED


def test_another_practice_sees_none_of_our_letters(client, outsider, case):
    client.force_login(outsider)
    html = client.get(reverse("letter_list")).content.decode()
    assert "Robin Quill" not in html and "No letters match" in html
    assert client.get(reverse("letters_overdue")).status_code == 200
    assert client.get(reverse("office_detail", args=[case.referring_office_id])).status_code == 404
    assert client.get(reverse("referral_detail", args=[case.pk])).status_code == 404


def letters_of_unscoped(referral) -> list[Letter]:
    with scopes_disabled():
        return list(Letter.objects.filter(referral_id=referral.pk).order_by("id"))
