"""Celery tasks of the export: thin wrappers that re-enter the practice's scope."""

from celery import shared_task

from practices.models import Practice
from practices.scoping import practice_scope

from . import services


# ignore_result: the job's row holds its state (practices/dispatch.py).
@shared_task(name=services.BUILD_EXPORT_TASK, acks_late=True, ignore_result=True)
def build_practice_export(practice_id: int, job_id: int) -> None:
    """Build a requested export. Takes ids, never instances: the worker enters the scope
    itself. Safe to deliver twice (the job is claimed by its status)."""
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return
    with practice_scope(practice):
        services.expire_exports()
        services.run_export(job_id)


@shared_task
def expire_practice_exports() -> int:
    """Hourly: delete the files of exports whose link expired, practice by practice."""
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from .models import ExportJob, ExportStatus

    # Which practices have an expired export crosses tenants (ids only); the deleting is
    # done in each practice's own scope.
    with scopes_disabled():
        practice_ids = set(
            ExportJob.objects.filter(
                status=ExportStatus.DONE, expires_at__lte=timezone.now()
            ).values_list("practice_id", flat=True)
        )
    n = 0
    for practice_id in sorted(practice_ids):
        with practice_scope(practice_id):
            n += services.expire_exports()
    return n
