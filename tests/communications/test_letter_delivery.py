"""Delivering GP letters to a real SMTP server on loopback: the message and its PDF,
retries when the server refuses or is down, exactly once whatever fails in between,
failures that need a person (an alert), and the sweeper."""

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from alerts.choices import AlertKind
from alerts.models import Alert
from communications import delivery, letters, sending
from communications.models import (
    EmailKind,
    EmailStatus,
    Letter,
    LetterKind,
    LetterStatus,
    StatusLink,
)
from communications.outbox import queue_email
from communications.status_links import hash_token
from communications.tasks import send_letter, send_outgoing_email, sweep_letters, sweep_outbox
from practices.models import settings_for
from practices.scoping import practice_scope
from referrals import services
from referrals.choices import MilestoneKind as K

from ..smtp import serve_smtp
from .letter_cases import letters_of, make_case, step, tasks_run_inline


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


@pytest.fixture
def eager_tasks():
    with tasks_run_inline():
        yield


@pytest.fixture
def letter(in_practice):
    """A consult-completed letter queued for Dr. Jordan Vale (patient Robin Quill)."""
    referral = make_case(in_practice)
    step(referral, K.CONSULT_COMPLETED)
    (queued,) = letters_of(referral)
    return queued


def send(letter) -> str:
    """What the worker runs for one dispatched message."""
    return send_letter(letter.practice_id, letter.pk)


def pdf_parts(message):
    return [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]


def minutes_from_now(moment) -> float:
    return (moment - timezone.now()).total_seconds() / 60


def later(minutes: float):
    return time_machine.travel(timezone.now() + dt.timedelta(minutes=minutes), tick=False)


# --- a letter delivered ------------------------------------------------------------------


def test_the_letter_reaches_the_mail_server_with_its_pdf_and_headers(
    in_practice, letter, smtp_server
):
    options = settings_for(in_practice)
    options.letters_reply_to = "frontdesk@lakeside.example"
    options.save()

    assert send(letter) == "sent"

    (message,) = smtp_server.messages
    assert message.envelope_to == ["dr.vale@maple.example"]
    assert message["To"] == "dr.vale@maple.example"
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Lakeside Oral Surgery",
        "referrals@localhost",
    )
    assert message["Reply-To"] == "frontdesk@lakeside.example"
    assert message["X-Correlation-ID"] == str(letter.correlation_id)
    assert message["Message-ID"] == f"<letter-{letter.correlation_id}@localhost>"
    assert message["Subject"] == "Consultation report for your patient RQ"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Impacted #17 and #32" in text and "Impacted #17 and #32" in html
    (pdf,) = pdf_parts(message)
    content = pdf.get_content()
    assert content.startswith(b"%PDF")
    # Initials and the consult's date in the file name, never the patient's name.
    consult_day = timezone.localdate(letter.event.occurred_at)
    assert pdf.get_filename() == f"Consult-completed-RQ-{consult_day:%Y-%m-%d}.pdf"

    letter.refresh_from_db()
    assert letter.status == LetterStatus.SENT
    assert letter.sent_at is not None
    assert (letter.attempts, letter.reason) == (1, "")
    assert letter.subject == "Consultation report for your patient RQ"
    with letter.pdf.open("rb") as stored:
        assert stored.read() == content  # the PDF sent is the PDF kept


def test_no_reply_to_unless_the_practice_sets_one(letter, smtp_server):
    send(letter)
    (message,) = smtp_server.messages
    assert message["Reply-To"] is None


def test_no_phi_in_email_sends_only_a_link_to_the_status_page(
    in_practice, letter, smtp_server, settings
):
    settings.SITE_URL = "https://referrals.example"
    options = settings_for(in_practice)
    options.no_phi_in_email = True
    options.save()

    assert send(letter) == "sent"

    (message,) = smtp_server.messages
    assert pdf_parts(message) == []
    raw = message.as_string()
    for phi in ("Robin", "Quill", "RQ", "Impacted"):
        assert phi not in raw
    assert message["Subject"] == "Consult completed: a new letter from Lakeside Oral Surgery"
    text = message.get_body(("plain",)).get_content()
    url = next(w for w in text.split() if w.startswith("https://referrals.example/status/"))
    token = url.removeprefix("https://referrals.example/status/").strip("/")
    link = StatusLink.objects.get(token_hash=hash_token(token))
    assert link.office == letter.office
    assert link.expires_at > timezone.now() + dt.timedelta(days=179)
    assert url in message.get_body(("html",)).get_content()


# --- retries -----------------------------------------------------------------------------


def test_a_server_saying_try_later_means_retry_then_exactly_one_message(
    letter, smtp_server, eager_tasks
):
    smtp_server.refuse_data("451 4.3.0 try later")
    assert send(letter) == "retry"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.QUEUED
    assert letter.attempts == 1
    assert letter.reason.startswith("The mail server answered 451 4.3.0 try later")
    assert minutes_from_now(letter.next_attempt_at) == pytest.approx(1, abs=0.1)

    with later(1.1):
        sweep_letters()
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (LetterStatus.QUEUED, 2)
    # Backing off: 1, 2, 4 ... minutes.
    assert minutes_from_now(letter.next_attempt_at) == pytest.approx(1.1 + 2, abs=0.1)

    smtp_server.accept()
    with later(2):  # not yet due: nothing happens
        assert sweep_letters()["dispatched"] == 0
    with later(3.2):
        sweep_letters()
    with later(10):
        sweep_letters()
    letter.refresh_from_db()
    assert (letter.status, letter.attempts, letter.reason) == (LetterStatus.SENT, 3, "")
    assert smtp_server.count_by_header() == {str(letter.correlation_id): 1}


def test_a_server_that_is_down_means_retry_then_exactly_one_message(
    letter, smtp_server, eager_tasks
):
    smtp_server.stop()
    assert send(letter) == "retry"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.QUEUED
    assert letter.reason.startswith("Could not reach the mail server (connection refused)")

    smtp_server.start()
    with later(1.5):
        sweep_letters()
        sweep_letters()
    letter.refresh_from_db()
    assert letter.status == LetterStatus.SENT
    assert smtp_server.count_by_header() == {str(letter.correlation_id): 1}


def test_a_task_delivered_twice_sends_once(letter, smtp_server):
    assert send(letter) == "sent"
    assert send(letter) == "not-claimed"
    assert len(smtp_server.messages) == 1


def test_a_worker_killed_between_claim_and_send_neither_loses_nor_doubles(
    letter, smtp_server, eager_tasks
):
    # The worker claimed the row, then died (SIGKILL, OOM, a lost machine).
    assert sending.claim(Letter, letter.pk) is not None
    # The broker delivers its message again (acks_late): the row is taken, nothing sent.
    assert send(letter) == "not-claimed"
    with later(5):
        assert sweep_letters()["requeued"] == 0
    letter.refresh_from_db()
    assert letter.status == LetterStatus.SENDING
    assert smtp_server.messages == []

    with later(11):
        counts = sweep_letters()
    assert counts["requeued"] == 1
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (LetterStatus.SENT, 2)
    assert smtp_server.count_by_header() == {str(letter.correlation_id): 1}


def test_a_worker_that_lost_its_claim_does_not_send(letter, smtp_server):
    # A worker so slow (a hung render) that the sweeper gave its row to another worker.
    token = sending.claim(Letter, letter.pk)
    with later(11):
        assert delivery.sweep()[0]["requeued"] == 1
        assert send(letter) == "sent"  # the other worker
    assert sending.renew_claim(Letter, letter.pk, token) is None  # the slow one stops
    assert len(smtp_server.messages) == 1


def test_a_lost_dispatch_is_made_good_by_the_sweeper(letter, smtp_server, eager_tasks):
    # The on-commit dispatch never reached a worker (broker down at commit).
    assert sweep_letters()["dispatched"] == 0  # the worker still has its head start
    with later(2.5):
        assert sweep_letters()["dispatched"] == 1
    letter.refresh_from_db()
    assert letter.status == LetterStatus.SENT


def test_the_sweeper_leases_what_it_dispatches(letter):
    with later(3):
        _, due = delivery.sweep()
        assert due == [(letter.practice_id, letter.pk)]
        # Still waiting in the broker: not dispatched again every minute...
        assert delivery.sweep()[1] == []
    with later(9):
        # ... but again if that message was lost too.
        assert delivery.sweep()[1] == [(letter.practice_id, letter.pk)]


# --- failures a person must see ------------------------------------------------------------


def test_a_refused_recipient_fails_the_letter_and_opens_one_alert(letter, smtp_server, eager_tasks):
    smtp_server.refuse_recipients("550 5.1.1 no such user")
    assert send(letter) == "failed"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.FAILED
    assert letter.reason == "The mail server refused the recipient: 550 5.1.1 no such user"
    assert letter.next_attempt_at is None
    with later(30):
        sweep_letters()
        assert send(letter) == "not-claimed"
    assert smtp_server.messages == []

    (alert,) = Alert.objects.all()
    assert alert.kind == AlertKind.LETTER_FAILED
    assert alert.office == letter.office
    assert alert.subject_key == f"letter:{letter.pk}"
    assert alert.title == "Consult completed letter to Maple Street Dental could not be sent"
    assert f"Letter #{letter.pk}" in alert.detail
    for phi in ("Robin", "Quill", "RQ"):
        assert phi not in alert.title + alert.detail


def test_a_successful_resend_resolves_the_failure_alert(
    letter, smtp_server, django_capture_on_commit_callbacks
):
    from alerts.choices import AlertState
    from communications.letters import resend

    smtp_server.refuse_recipients("550 5.1.1 no such user")
    assert send(letter) == "failed"
    smtp_server.accept()
    with django_capture_on_commit_callbacks():
        resend(letter)
    assert send(letter) == "sent"
    (alert,) = Alert.objects.filter(kind=AlertKind.LETTER_FAILED)
    assert alert.state == AlertState.RESOLVED
    assert alert.resolution_note == "The letter was resent and delivered."
    assert len(smtp_server.messages) == 1


def test_a_rejected_message_fails_too(letter, smtp_server):
    smtp_server.refuse_data("554 5.7.1 message rejected")
    assert send(letter) == "failed"
    assert Alert.objects.filter(kind=AlertKind.LETTER_FAILED).count() == 1


def test_too_many_temporary_failures_fail_the_letter(letter, smtp_server):
    Letter.objects.filter(pk=letter.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    smtp_server.refuse_data("452 4.3.1 insufficient system storage")
    assert send(letter) == "failed"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.FAILED
    assert letter.reason.startswith(f"Gave up after {delivery.MAX_ATTEMPTS} attempts.")
    assert Alert.objects.filter(kind=AlertKind.LETTER_FAILED).count() == 1


def test_a_letter_whose_worker_always_dies_fails_instead_of_cycling(letter, smtp_server):
    Letter.objects.filter(pk=letter.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    sending.claim(Letter, letter.pk)
    with later(11):
        counts, due = delivery.sweep()
    assert counts["failed_stuck"] == 1 and due == []
    letter.refresh_from_db()
    assert letter.status == LetterStatus.FAILED
    assert Alert.objects.filter(kind=AlertKind.LETTER_FAILED).count() == 1


def test_a_failed_letter_is_resent_to_the_corrected_address(in_practice, letter, smtp_server):
    smtp_server.refuse_recipients("550 5.1.1 no such user")
    send(letter)
    smtp_server.accept()
    provider = letter.referral.referring_provider
    provider.email = "jordan.vale@maple.example"
    provider.save()
    old_correlation = letter.correlation_id

    letter = letters.resend(letter)
    assert letter.status == LetterStatus.QUEUED
    assert (letter.attempts, letter.reason) == (0, "")
    assert letter.correlation_id != old_correlation  # a new message, not a retry
    assert send(letter) == "sent"
    (message,) = smtp_server.messages
    assert message.envelope_to == ["jordan.vale@maple.example"]


def test_a_letter_whose_milestone_was_undone_is_not_sent(
    in_practice, letter, admin_user, smtp_server
):
    services.void_last_milestone(letter.referral, by=admin_user, reason="Wrong case")
    assert send(letter) == "skipped"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.SKIPPED
    assert letter.reason == delivery.VOIDED_REASON
    assert smtp_server.messages == []


def test_the_sweeper_skips_waiting_letters_whose_milestone_was_undone(in_practice, admin_user):
    referral = make_case(in_practice)
    step(referral, K.CONSULT_SCHEDULED)
    services.void_last_milestone(referral, by=admin_user, reason="Booked by mistake")
    assert delivery.sweep()[0]["skipped_obsolete"] == 1
    (letter,) = letters_of(referral)
    assert (letter.status, letter.reason) == (LetterStatus.SKIPPED, delivery.VOIDED_REASON)


# --- the shared pieces, as the email outbox uses them ----------------------------------------


def test_failures_are_classified_for_both_outboxes():
    import smtplib

    assert sending.classify_failure(ConnectionRefusedError()).permanent is False
    assert sending.classify_failure(TimeoutError()).permanent is False
    assert sending.classify_failure(smtplib.SMTPDataError(451, b"later")).permanent is False
    assert sending.classify_failure(smtplib.SMTPDataError(554, b"no")).permanent is True
    refused = smtplib.SMTPRecipientsRefused({"a@b.example": (550, b"no such user")})
    assert sending.classify_failure(refused).permanent is True
    greylisted = smtplib.SMTPRecipientsRefused({"a@b.example": (450, b"greylisted")})
    assert sending.classify_failure(greylisted).permanent is False
    minutes = [
        sending.backoff(n, base=dt.timedelta(minutes=1), cap=dt.timedelta(hours=1))
        for n in (1, 2, 3, 4, 7, 8)
    ]
    assert [m.total_seconds() / 60 for m in minutes] == [1, 2, 4, 8, 60, 60]


def test_the_email_outbox_retries_and_sends_once_the_same_way(in_practice, smtp_server):
    email, _ = queue_email(
        in_practice,
        kind=EmailKind.ALERT_DIGEST,
        dedupe_key="digest:test",
        to=["admin@lakeside.example"],
        subject="Nightly digest",
        body_text="2 alerts",
    )
    smtp_server.refuse_data("451 try later")
    assert send_outgoing_email(in_practice.pk, email.pk) == "retry"
    email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED
    assert email.last_error.startswith("The mail server answered 451")
    smtp_server.accept()
    with later(1), tasks_run_inline():
        assert sweep_outbox()["dispatched"] == 1
        assert sweep_outbox()["dispatched"] == 0  # sent: nothing left to do
    email.refresh_from_db()
    assert email.status == EmailStatus.SENT
    assert len(smtp_server.messages) == 1


# --- a real worker -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_letter_a_milestone_queued(practice, smtp_server, settings):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker that scripts/test.sh starts")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "EMAIL_URL": smtp_server.url,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-l", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=settings.BASE_DIR,
    )
    try:
        with practice_scope(practice):
            referral = make_case(practice)
            step(referral, K.CONSULT_SCHEDULED)  # commits: the worker is asked at once
            (letter,) = letters_of(referral)
        deadline = time.monotonic() + 120  # a cold worker on a busy machine
        # Wait for the row, not only the message: the worker records "sent" just after the
        # SMTP server has the message (a CI run read "sending" in between).
        while time.monotonic() < deadline:
            with practice_scope(practice):
                letter.refresh_from_db()
            if letter.status == LetterStatus.SENT:
                break
            time.sleep(0.2)
        assert letter.status == LetterStatus.SENT
        assert letter.kind == LetterKind.CONSULT_SCHEDULED
        assert smtp_server.count_by_header() == {str(letter.correlation_id): 1}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
