"""The export's life: requested (a row, queued after the commit), built by a worker with
progress, downloadable through a signed link until it expires, then its file deleted."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from practices import dispatch
from practices.audit import record
from practices.models import AuditAction, Practice, User

from .export import build_export
from .models import ExportJob, ExportStatus

logger = logging.getLogger(__name__)

_SALT = "portability.export-download"
IN_PROGRESS = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def valid_hours() -> int:
    return getattr(settings, "PRACTICE_EXPORT_VALID_HOURS", 24)


# A build that has run this long without finishing lost its worker (a deploy, a crash): the
# redelivered task may claim it again, and a person may ask for a new one.
STALE_AFTER = dt.timedelta(hours=2)


# Sent by name: portability/tasks.py wraps this module's services, so this module does not
# import it back (no import cycle; tests/test_layers.py). PortabilityConfig imports the tasks
# at start-up, so the name finds the task itself in every process.
BUILD_EXPORT_TASK = "portability.tasks.build_practice_export"


def request_export(request, practice: Practice, user: User | None) -> ExportJob:
    """Queue the practice's export; one at a time (a second click finds the first)."""
    with transaction.atomic():
        # Two clicks at once: the second waits here, then finds the first job.
        Practice.objects.select_for_update().get(pk=practice.pk)
        fail_stale_exports()
        running = ExportJob.objects.filter(status__in=IN_PROGRESS).first()
        if running is not None:
            return running
        job = ExportJob.objects.create(
            practice=practice, requested_by=user, dispatched_at=timezone.now()
        )
        # Exporting everything is the widest read of patient data there is: on the record
        # when it is asked for, and each download again.
        record(request, AuditAction.EXPORTED, obj=job, summary="Export of all practice data")
        # A broker that is down leaves the job queued for the sweeper (waiting_exports).
        dispatch.send_after_commit(BUILD_EXPORT_TASK, practice.pk, job.pk)
    return job


def waiting_exports(now: dt.datetime) -> list[tuple[str, tuple]]:
    """For the sweeper (practices/dispatch.py), all practices: exports still queued long
    after they were handed to a worker."""
    waiting = ExportJob.objects.filter(status=ExportStatus.QUEUED, dispatched_at__isnull=False)
    return dispatch.lease_sends(waiting, BUILD_EXPORT_TASK, now=now)


def fail_stale_exports() -> int:
    """Mark the practice's builds that lost their worker as failed."""
    return ExportJob.objects.filter(
        status=ExportStatus.RUNNING, started_at__lt=timezone.now() - STALE_AFTER
    ).update(
        status=ExportStatus.FAILED,
        failure="The export stopped before it was finished.",
        finished_at=timezone.now(),
    )


def _progress_key(job_id: int) -> str:
    return f"portability:export:{job_id}:progress"


def progress_of(job: ExportJob) -> tuple[int, int]:
    """(done, total) of a running export, as the worker last wrote it."""
    return cache.get(_progress_key(job.pk)) or (0, 0)


def run_export(job_id: int) -> ExportJob | None:
    """Build a queued export (in the job's practice scope). Claimed with a conditional
    UPDATE: a task delivered twice builds it once."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("practice").get(pk=job_id)

    def progress(done: int, total: int) -> None:
        cache.set(_progress_key(job_id), (done, total), timeout=24 * 3600)

    try:
        with tempfile.TemporaryFile() as out:
            counts = build_export(job.practice, out, progress=progress)
            size = out.tell()
            out.seek(0)
            job.file.save(f"export-{job.pk}.zip", File(out), save=False)
    except Exception as exc:
        logger.exception("practice export failed job=%s practice=%s", job.pk, job.practice_id)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.FAILED,
            failure=f"The export could not be built ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )
        return None
    now = timezone.now()
    job.status = ExportStatus.DONE
    job.size = size
    job.counts = counts
    job.finished_at = now
    job.expires_at = now + dt.timedelta(hours=valid_hours())
    job.save(update_fields=["status", "file", "size", "counts", "finished_at", "expires_at"])
    logger.info("practice export built job=%s practice=%s bytes=%s", job.pk, job.practice_id, size)
    return job


def download_token(job: ExportJob) -> str:
    # The job's id is unique across practices; the view finds the job in the request's
    # practice scope, so another practice's link is a 404 there.
    return signing.dumps({"job": job.pk}, salt=_SALT)


def token_matches(job: ExportJob, token: str) -> bool:
    """The link's signature names this job and is younger than the export's validity."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=dt.timedelta(hours=valid_hours()))
    except signing.BadSignature:  # also SignatureExpired
        return False
    return data == {"job": job.pk}


def is_downloadable(job: ExportJob) -> bool:
    return (
        job.status == ExportStatus.DONE
        and bool(job.file)
        and job.expires_at is not None
        and job.expires_at > timezone.now()
    )


def expire_exports() -> int:
    """Delete the files of expired exports of the current practice (an export holds every
    patient's data: it must not outlive its link)."""
    expired = ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lte=timezone.now())
    n = 0
    for job in expired:
        if job.file:
            job.file.delete(save=False)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.EXPIRED, file="")
        n += 1
    return n
