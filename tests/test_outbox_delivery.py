"""The nightly digest and the email outbox, delivered to a real SMTP server on loopback
(aiosmtpd): one digest a night, nothing when nothing is new, retries with backoff while the
server is down, one send however often delivery runs, stuck rows re-queued, permanent
refusals marked failed."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.nightly import recompute
from communications import outbox
from communications.models import EmailKind, EmailStatus, OutgoingEmail
from communications.tasks import send_outgoing_email, sweep_outbox
from practices.models import PracticeSettings
from tests.analytics.history import add_monthly, add_referrals, month_list
from tests.factories import OfficeFactory
from tests.smtp import serve_smtp

AS_OF = dt.date(2026, 11, 26)
T0 = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.UTC)  # 02:00 in New York: the nightly run


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to; it can go down
    and come back on the same port."""
    yield from serve_smtp(settings)


@pytest.fixture
def recipients(practice):
    with scopes_disabled():
        PracticeSettings.objects.update_or_create(
            practice=practice, defaults={"alert_recipients": "manager@lakeside.test"}
        )


@pytest.fixture
def offices(in_practice):
    declining = OfficeFactory(practice=in_practice, name="Birch Dental")
    add_monthly(declining, month_list(dt.date(2024, 11, 1), 24), [6] * 18 + [1] * 6)
    add_referrals(declining, [dt.date(2026, 11, 2)])
    new = OfficeFactory(practice=in_practice, name="Cedar Smiles")
    add_referrals(new, [dt.date(2026, 10, 20), dt.date(2026, 11, 12)])
    return declining, new


def night(practice, as_of, capture):
    """One nightly run; its on-commit callbacks (the outbox dispatch) run after 'commit'."""
    with capture() as callbacks:
        recompute(practice, as_of)
    for callback in callbacks:
        callback()
    return callbacks


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- The digest ---------------------------------------------------------------------------


def test_one_digest_a_night_lists_every_new_alert_and_a_quiet_night_sends_nothing(
    in_practice, offices, recipients, smtp, tasks_inline, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        callbacks = night(in_practice, AS_OF, django_capture_on_commit_callbacks)
    assert len(callbacks) == 1  # one dispatch, not one per alert
    (message,) = smtp.messages
    (digest,) = OutgoingEmail.objects.all()
    assert digest.kind == EmailKind.ALERT_DIGEST and digest.status == EmailStatus.SENT
    assert digest.attempts == 1 and digest.sent_at == T0
    assert message["To"] == "manager@lakeside.test"
    assert message["Subject"] == "2 new referrer alerts — Lakeside Oral Surgery"
    assert message["X-Correlation-ID"] == str(digest.correlation_id)
    body = text_of(message)
    assert "- Declining referrer: Birch Dental is declining" in body
    assert "- New referrer: New referrer: Cedar Smiles" in body
    assert "/alerts/" in body
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Birch Dental is declining" in html and "Cedar Smiles" in html

    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        callbacks = night(
            in_practice, AS_OF + dt.timedelta(days=1), django_capture_on_commit_callbacks
        )
    assert callbacks == []
    assert len(smtp.messages) == 1
    assert OutgoingEmail.objects.count() == 1


def test_a_second_run_on_the_same_day_announces_only_its_new_alerts(
    in_practice, offices, recipients, smtp, tasks_inline, django_capture_on_commit_callbacks
):
    """A "Recompute now" after the night's run: alerts it raises get their own digest
    (the first run's digest must not swallow them)."""
    night(in_practice, AS_OF, django_capture_on_commit_callbacks)
    late = OfficeFactory(practice=in_practice, name="Dogwood Dental")
    add_referrals(late, [dt.date(2026, 11, 25)])
    night(in_practice, AS_OF, django_capture_on_commit_callbacks)
    assert len(smtp.messages) == 2
    second = text_of(smtp.messages[1])
    assert "New referrer: Dogwood Dental" in second
    assert "Birch Dental" not in second
    assert smtp.messages[1]["Subject"] == "1 new referrer alert — Lakeside Oral Surgery"
    # A third run with nothing new sends nothing.
    assert night(in_practice, AS_OF, django_capture_on_commit_callbacks) == []
    assert len(smtp.messages) == 2


def test_without_recipients_the_admins_get_the_digest(
    in_practice, offices, admin_user, smtp, tasks_inline, django_capture_on_commit_callbacks
):
    night(in_practice, AS_OF, django_capture_on_commit_callbacks)
    (message,) = smtp.messages
    assert message["To"] == admin_user.email


# --- Delivery -----------------------------------------------------------------------------


@pytest.fixture
def queued(in_practice, django_capture_on_commit_callbacks):
    """An outbox row as a job writes it; its on-commit dispatch is not run here."""
    with django_capture_on_commit_callbacks():
        row, created = outbox.queue_email(
            in_practice,
            kind=EmailKind.MONTHLY_REVIEW,
            dedupe_key="monthly-review:2026-11",
            to=["manager@lakeside.test"],
            subject="Referrer review — November 2026",
            body_text="Your monthly referrer review.",
        )
    assert created
    return row


def reloaded(row) -> OutgoingEmail:
    row.refresh_from_db()
    return row


def test_the_same_key_queues_one_row(in_practice, queued):
    again, created = outbox.queue_email(
        in_practice,
        kind=EmailKind.MONTHLY_REVIEW,
        dedupe_key="monthly-review:2026-11",
        to=["someone@else.test"],
        subject="x",
        body_text="y",
    )
    assert again.pk == queued.pk and created is False


def test_a_server_that_is_down_means_a_retry_later_and_one_send_when_it_is_back(
    in_practice, queued, smtp, tasks_inline
):
    smtp.stop()
    with time_machine.travel(T0, tick=False):
        assert send_outgoing_email.apply(args=(in_practice.pk, queued.pk)).get() == "retry"
    row = reloaded(queued)
    assert row.status == EmailStatus.QUEUED
    assert row.attempts == 1
    assert row.next_attempt_at == T0 + dt.timedelta(seconds=30)
    assert row.claimed_at is None and row.sent_at is None
    assert "refused" in row.last_error.lower()  # the error is recorded

    smtp.start()
    # Not due before its time: the sweeper leaves it alone ...
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 0}
    assert smtp.messages == []
    # ... and sends it once when its time has come, however often it runs.
    with time_machine.travel(T0 + dt.timedelta(seconds=31), tick=False):
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 1}
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 0}
    (message,) = smtp.messages
    assert message["X-Correlation-ID"] == str(queued.correlation_id)
    row = reloaded(queued)
    assert row.status == EmailStatus.SENT and row.attempts == 2


def test_delivering_twice_sends_once(in_practice, queued, smtp):
    assert outbox.deliver(queued.pk) == "sent"
    assert outbox.deliver(queued.pk) == "skipped"
    assert len(smtp.messages) == 1
    assert reloaded(queued).attempts == 1


def test_a_row_another_worker_claimed_is_not_sent_again(in_practice, queued, smtp):
    assert outbox.claim(queued.pk) is True  # another worker is sending it right now
    assert outbox.deliver(queued.pk) == "skipped"
    assert smtp.messages == []


def test_a_row_stuck_in_sending_is_requeued_and_sent_once(in_practice, queued, smtp, tasks_inline):
    # A worker claimed it and was killed before it could send.
    with time_machine.travel(T0, tick=False):
        assert outbox.claim(queued.pk)
    assert reloaded(queued).status == EmailStatus.SENDING
    # Within the grace period the sweeper does not steal it from a slow worker.
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 0}
    with time_machine.travel(T0 + dt.timedelta(minutes=11), tick=False):
        assert sweep_outbox.apply().get() == {"requeued": 1, "dispatched": 1}
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 0}
    assert len(smtp.messages) == 1
    row = reloaded(queued)
    assert row.status == EmailStatus.SENT and row.attempts == 2


def test_requeue_stuck_gives_back_only_old_claims(in_practice, queued, smtp):
    OutgoingEmail.objects.filter(pk=queued.pk).update(
        status=EmailStatus.SENDING, claimed_at=timezone.now() - dt.timedelta(hours=1)
    )
    with scopes_disabled():
        assert outbox.requeue_stuck() == 1
        assert outbox.requeue_stuck() == 0
    assert outbox.deliver(queued.pk) == "sent"
    assert outbox.deliver(queued.pk) == "skipped"
    assert len(smtp.messages) == 1


def test_a_550_refusal_fails_for_good_with_the_reason(in_practice, queued, smtp, tasks_inline):
    smtp.refuse_recipients("550 5.1.1 <manager@lakeside.test>: no such mailbox")
    assert outbox.deliver(queued.pk) == "failed"
    row = reloaded(queued)
    assert row.status == EmailStatus.FAILED
    assert row.next_attempt_at is None
    assert "550" in row.last_error and "no such mailbox" in row.last_error
    # The sweeper never picks a failed row up again.
    smtp.accept()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        assert sweep_outbox.apply().get() == {"requeued": 0, "dispatched": 0}
    assert smtp.messages == []


def test_a_temporary_refusal_is_retried(in_practice, queued, smtp):
    smtp.refuse_recipients("451 4.3.0 try again later")
    assert outbox.deliver(queued.pk) == "retry"
    row = reloaded(queued)
    assert row.status == EmailStatus.QUEUED and "451" in row.last_error


def test_after_the_last_attempt_a_row_fails(in_practice, queued, smtp):
    smtp.stop()
    OutgoingEmail.objects.filter(pk=queued.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    assert outbox.deliver(queued.pk) == "failed"
    row = reloaded(queued)
    assert row.status == EmailStatus.FAILED and row.attempts == outbox.MAX_ATTEMPTS
