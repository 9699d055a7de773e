"""Thin Celery wrappers over the outbox services."""

from celery import shared_task
from django_scopes import scopes_disabled

from practices.models import Practice
from practices.scoping import practice_scope

from . import outbox


@shared_task(acks_late=True)
def send_outgoing_email(practice_id: int, email_id: int) -> str:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        return outbox.deliver(email_id)


@shared_task
def sweep_outbox() -> dict:
    """Every minute: re-queue rows stuck in 'sending', dispatch the ones that are due."""
    with scopes_disabled():
        stuck = outbox.requeue_stuck()
        due = list(outbox.due_emails().values_list("practice_id", "pk")[:500])
    for practice_id, email_id in due:
        send_outgoing_email.delay(practice_id, email_id)
    return {"requeued": stuck, "dispatched": len(due)}
