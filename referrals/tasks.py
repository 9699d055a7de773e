"""Celery tasks of the referral domain: thin wrappers that re-enter the practice's scope
and call the services (import: referrals.importing.jobs).

``practice_heartbeat`` is the smallest real task: it proves that a worker picks up work
from the broker, enters a practice's scope and reads its rows (the embedded-run test and
operators checking a deployment use it:
``celery -A config call referrals.tasks.practice_heartbeat --args '[1]'``). It lives here,
not in practices, because the rows it counts are the referral domain's (imports run
downward only: docs/architecture.md).
"""

from celery import shared_task
from django.utils import timezone

from practices.models import Practice
from practices.scoping import practice_scope

from .importing import jobs
from .models import ReferringOffice


@shared_task
def practice_heartbeat(practice_id: int) -> dict:
    # Tasks get ids, never model instances: the row may have changed since it was queued,
    # and the scope must be entered by the worker itself.
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        offices = ReferringOffice.objects.filter(is_archived=False).count()
    return {"practice": practice.slug, "offices": offices, "at": timezone.now().isoformat()}


# The jobs keep their state in their rows, not in Celery's result store (ignore_result:
# practices/dispatch.py). Each claims its job by its status: safe to deliver twice.
@shared_task(name=jobs.CHECK_TASK, acks_late=True, ignore_result=True)
def check_import(practice_id: int, job_id: int) -> None:
    """Check every row of an uploaded CSV (large files); the page polls the progress."""
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return
    with practice_scope(practice):
        jobs.check_job(job_id)


@shared_task(name=jobs.RUN_TASK, acks_late=True, ignore_result=True)
def run_import(practice_id: int, job_id: int) -> None:
    """Import a checked CSV the user started. Safe to deliver twice: the job is claimed
    with a conditional UPDATE on its status."""
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return
    with practice_scope(practice):
        jobs.run_job(job_id)


@shared_task(name=jobs.CHECK_AND_IMPORT_TASK, acks_late=True, ignore_result=True)
def check_and_import(practice_id: int, job_id: int, mode: str) -> None:
    """Check a mapped upload and import it when the mode allows (the two-click re-import
    with a saved preset). Each step claims the job by its status: safe to deliver twice."""
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return
    with practice_scope(practice):
        jobs.check_and_run_job(job_id, mode)
