"""Thin Celery wrappers over the outbox services (outbox.py for emails, delivery.py for
letters). Tasks take a practice id and re-enter the practice's scope themselves.

The services dispatch these tasks by the names they declare (letters.SEND_LETTER_TASK,
outbox.SEND_EMAIL_TASK), so imports run one way only: tasks -> services."""

from celery import shared_task
from django.utils import timezone
from django_scopes import scopes_disabled

from practices.models import Practice
from practices.scoping import practice_scope

from . import delivery, letters, outbox, sending
from .models import OutgoingEmail


@shared_task(name=outbox.SEND_EMAIL_TASK, acks_late=True, ignore_result=True)
def send_outgoing_email(practice_id: int, email_id: int) -> str:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        return outbox.deliver(email_id)


@shared_task(name=outbox.SEND_EMAILS_TASK, acks_late=True, ignore_result=True)
def send_outgoing_emails(pairs: list[list[int]]) -> dict:
    """A batch's emails (outbox.queue_emails): each sent in its own practice's scope, one
    after another. A row another worker (or the sweeper's message) got first is skipped by
    its claim; a failed one is retried by the sweeper like any other."""
    practices = {p.pk: p for p in Practice.objects.filter(pk__in={pid for pid, _ in pairs})}
    outcome: dict[str, int] = {}
    for practice_id, email_id in pairs:
        with practice_scope(practices[practice_id]):
            status = outbox.deliver(email_id)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


@shared_task
def sweep_outbox() -> dict:
    """Every minute: re-queue rows stuck in 'sending', dispatch the ones that are due."""
    now = timezone.now()
    with scopes_disabled():
        stuck = outbox.requeue_stuck(now)
        due = sending.lease_due(
            OutgoingEmail,
            outbox.due_filter(now),
            now=now,
            lease=outbox.REDISPATCH_AFTER,
            limit=500,
        )
    for practice_id, email_id in due:
        send_outgoing_email.delay(practice_id, email_id)
    return {"requeued": stuck, "dispatched": len(due)}


# acks_late: a worker that dies mid-task leaves the message to be delivered again (the
# claim makes that harmless). The time limits end a hung render well before the sweeper
# would consider the row stuck (delivery.STUCK_AFTER, 10 minutes).
@shared_task(
    name=letters.SEND_LETTER_TASK,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=300,
)
def send_letter(practice_id: int, letter_id: int) -> str:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice), timezone.override(practice.time_zone):
        return delivery.deliver_letter(letter_id)


@shared_task
def sweep_letters() -> dict:
    """Every minute, all practices: requeue letters whose worker died, skip obsolete
    ones, queue post-op updates whose morning has come, dispatch the due ones."""
    with scopes_disabled():
        counts, due = delivery.sweep()
    for practice_id, letter_id in due:
        send_letter.delay(practice_id, letter_id)
    return counts
