"""Tasks of the practices app.

``practice_heartbeat`` is the smallest real task: it proves that a worker picks up work
from the broker, enters a practice's scope and reads its rows (the embedded-run test and
operators checking a deployment use it:
``celery -A config call practices.tasks.practice_heartbeat --args '[1]'``).
"""

from celery import shared_task
from django.utils import timezone

from .models import Practice
from .scoping import practice_scope


@shared_task
def practice_heartbeat(practice_id: int) -> dict:
    # Tasks get ids, never model instances: the row may have changed since it was queued,
    # and the scope must be entered by the worker itself.
    from referrals.models import ReferringOffice

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        offices = ReferringOffice.objects.filter(is_archived=False).count()
    return {"practice": practice.slug, "offices": offices, "at": timezone.now().isoformat()}
