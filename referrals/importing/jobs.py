"""An upload's life as an ImportJob: (mapping ->) uploaded -> checked (ready or invalid)
-> importing -> done (or failed). Small files go through in the request; large ones in Celery
(``referrals.tasks``), with progress the page polls.

Claims are conditional UPDATEs on the job's status, so a task delivered twice, or a
double click, does the work once.
"""

import logging
from dataclasses import asdict

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from practices import dispatch

from ..choices import ImportMode, ImportStatus
from ..models import ImportJob
from .mapping import Mapping, MappingProblem
from .pipeline import ImportRefused, check_file, import_file
from .reading import count_data_lines
from .sources import SourceInfo, inspect

logger = logging.getLogger(__name__)

IN_PROGRESS = frozenset({ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.IMPORTING})


def sync_max_rows() -> int:
    """Files up to this many rows are checked and imported in the request."""
    return getattr(settings, "IMPORT_SYNC_MAX_ROWS", 500)


def create_job(
    practice, upload, *, user, mapping_step: bool = False, encoding: str = "", delimiter: str = ""
) -> ImportJob:
    """Store an uploaded file as a new job. Without ``mapping_step`` the file is in our own
    format and waits for its check (UPLOADED). With it the file is inspected first (kind,
    encoding, separator, header, samples: raises FileProblem for a file that cannot be
    read, before anything is stored) and waits for its mapping (MAPPING)."""
    upload.seek(0)
    if mapping_step:
        info = inspect(upload, upload.name, encoding=encoding, delimiter=delimiter)
        inspected = {
            "total_rows": info.row_estimate,
            "file_info": asdict(info),
            "status": ImportStatus.MAPPING,
        }
    else:
        inspected = {"total_rows": count_data_lines(upload)}
    upload.seek(0)
    return ImportJob.objects.create(
        practice=practice,
        file=upload,
        original_name=upload.name[:200],
        uploaded_by=user,
        **inspected,
    )


def reinspect(job: ImportJob, *, encoding: str = "", delimiter: str = "") -> ImportJob:
    """Read the stored file again with another encoding or separator (the user's
    override). Raises FileProblem; the job is unchanged then."""
    with job.file.open("rb") as stream:
        info = inspect(stream, job.original_name, encoding=encoding, delimiter=delimiter)
    job.file_info = asdict(info)
    job.total_rows = info.row_estimate
    job.save(update_fields=["file_info", "total_rows", "updated_at"])
    return job


# A mapping may be confirmed (again) until the import starts.
REMAPPABLE = (ImportStatus.MAPPING, ImportStatus.UPLOADED, ImportStatus.READY, ImportStatus.INVALID)


def confirm_mapping(job: ImportJob, mapping: Mapping, *, preset=None) -> bool:
    """Store the confirmed mapping; the job goes (back) to UPLOADED for its check. Raises
    MappingProblem when the mapping cannot read the file. False when the import has
    already started."""
    problems = mapping.problems(job_info(job).header)
    if problems:
        raise MappingProblem(" ".join(problems))
    updated = ImportJob.objects.filter(pk=job.pk, status__in=REMAPPABLE).update(
        mapping=mapping.to_json(),
        preset=preset if getattr(preset, "pk", None) else None,
        status=ImportStatus.UPLOADED,
        counts={},
        errors=[],
        failure="",
        processed_rows=0,
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    return bool(updated)


# Sent by name: referrals/tasks.py wraps this module's services, so this module does not
# import it back (no import cycle; tests/test_layers.py). ReferralsConfig imports the tasks
# at start-up, so the name finds the task itself in every process.
CHECK_TASK = "referrals.tasks.check_import"
RUN_TASK = "referrals.tasks.run_import"
CHECK_AND_IMPORT_TASK = "referrals.tasks.check_and_import"


def queue_check(job: ImportJob) -> None:
    """Hand an uploaded file's check to a worker (a large file). The job waits as UPLOADED;
    a broker that is down leaves it waiting for the sweeper (``waiting_jobs``)."""
    ImportJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now())
    dispatch.send_after_commit(CHECK_TASK, job.practice_id, job.pk)


def queue_run(job: ImportJob) -> None:
    """Hand a started import (``start_job``) to a worker; it waits as IMPORTING."""
    dispatch.send_after_commit(RUN_TASK, job.practice_id, job.pk)


def import_now(job: ImportJob, mode: str, mapping: Mapping | None = None, *, preset=None) -> bool:
    """Confirm (a preset's) mapping, then check and import in one Celery job: the
    two-click re-import of a file whose preset is known. False when it cannot start."""
    if mapping is not None and not confirm_mapping(job, mapping, preset=preset):
        return False
    # The mode is kept on the job so that the sweeper can hand it over again.
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
        mode=mode, dispatched_at=timezone.now()
    ):
        return False
    dispatch.send_after_commit(CHECK_AND_IMPORT_TASK, job.practice_id, job.pk, mode)
    return True


def waiting_jobs(now) -> list[tuple[str, tuple]]:
    """For the sweeper (practices/dispatch.py), all practices: jobs handed to a worker that
    none has taken — uploaded and not checked, or started and not running — with the task
    that does each. A running import's row is locked by its transaction and passed over."""
    waiting = ImportJob.objects.filter(dispatched_at__isnull=False).filter(
        models.Q(status=ImportStatus.UPLOADED)
        | models.Q(status=ImportStatus.IMPORTING, started_at__isnull=True)
    )
    sends = []
    for job in dispatch.lease_waiting(waiting, now=now):
        if job.status == ImportStatus.IMPORTING:
            sends.append((RUN_TASK, (job.practice_id, job.pk)))
        elif job.mapping:  # the wizard's check-and-import (import_now)
            sends.append((CHECK_AND_IMPORT_TASK, (job.practice_id, job.pk, job.mode)))
        else:  # a file in our own format, checked first, started by the user
            sends.append((CHECK_TASK, (job.practice_id, job.pk)))
    return sends


def check_and_run_job(job_id: int, mode: str) -> ImportJob | None:
    """The worker's side of import_now: check, and import when the mode allows."""
    job = check_job(job_id)
    if job is None or not start_job(job, mode):
        return job
    return run_job(job_id)


def job_info(job: ImportJob) -> SourceInfo:
    return SourceInfo.from_json(job.file_info)


def job_source(job: ImportJob) -> tuple[SourceInfo | None, Mapping | None]:
    """The job's file description and mapping; (None, None) for a file in our own format
    (jobs uploaded before mappings existed, or the plain upload)."""
    if not job.file_info or not job.mapping:
        return None, None
    return job_info(job), Mapping.from_json(job.mapping)


def runs_in_worker(job: ImportJob) -> bool:
    return job.total_rows > sync_max_rows()


def _progress_key(job_id: int) -> str:
    return f"import-progress:{job_id}"


def live_progress(job: ImportJob) -> int:
    """Rows processed so far. During the import the job row is written inside the import's
    transaction (invisible until it commits), so the live count is also put in the cache."""
    if job.status == ImportStatus.IMPORTING:
        return max(job.processed_rows, cache.get(_progress_key(job.pk)) or 0)
    return job.processed_rows


def check_job(job_id: int) -> ImportJob | None:
    """Check every row of the job's file and store errors and counts. Read-only for the
    practice's data, so running it twice is harmless; it never overrides a later state."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status__in=[ImportStatus.UPLOADED, ImportStatus.VALIDATING]
    ).update(status=ImportStatus.VALIDATING, processed_rows=0)
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed_rows=done)

    try:
        info, mapping = job_source(job)
        with job.file.open("rb") as stream:
            report = check_file(job.practice, stream, info, mapping, on_progress=progress)
    except Exception as exc:
        logger.exception("import %s: check failed", job_id)
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.VALIDATING).update(
            status=ImportStatus.FAILED, failure=f"The check stopped: {type(exc).__name__}."
        )
        raise
    status = ImportStatus.INVALID if report.errors else ImportStatus.READY
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.VALIDATING).update(
        status=status,
        total_rows=report.total_rows,
        processed_rows=report.total_rows,
        counts=report.counts,
        errors=report.errors,
        failure=report.file_error,
        updated_at=timezone.now(),
    )
    logger.info(
        "import %s checked: %s rows, %s invalid", job_id, report.total_rows, report.invalid_rows
    )
    job.refresh_from_db()
    return job


def can_start(job: ImportJob, mode: str) -> bool:
    if job.failure or job.status not in (ImportStatus.READY, ImportStatus.INVALID):
        return False
    if mode == ImportMode.ALL_OR_NOTHING:
        return job.status == ImportStatus.READY
    return job.counts.get("valid_rows", 0) > 0


def start_job(job: ImportJob, mode: str) -> bool:
    """The user's go: queue the import. False when it may not start (or already did)."""
    if not can_start(job, mode):
        return False
    allowed = [ImportStatus.READY]
    if mode == ImportMode.VALID_ONLY:
        allowed.append(ImportStatus.INVALID)
    # dispatched_at: should the run not start (its message lost, its process gone before
    # the first write), the sweeper hands the job to a worker.
    started = ImportJob.objects.filter(pk=job.pk, status__in=allowed).update(
        status=ImportStatus.IMPORTING,
        mode=mode,
        processed_rows=0,
        started_at=None,
        dispatched_at=timezone.now(),
    )
    return bool(started)


def run_job(job_id: int) -> ImportJob | None:
    """Import a started job in one transaction. The claim is a conditional UPDATE inside
    that transaction: a second run waits on the row lock and then finds the job done (or
    failed), so it does nothing; if a worker dies mid-import everything rolls back and a
    redelivered task can claim it again."""
    key = _progress_key(job_id)
    try:
        with transaction.atomic():
            claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.IMPORTING).update(
                started_at=timezone.now()
            )
            if not claimed:
                return None
            job = ImportJob.objects.get(pk=job_id)

            def progress(done: int) -> None:
                cache.set(key, done, timeout=24 * 3600)
                ImportJob.objects.filter(pk=job_id).update(processed_rows=done)

            info, mapping = job_source(job)
            with job.file.open("rb") as stream:
                report = import_file(
                    job.practice,
                    stream,
                    info,
                    mapping,
                    valid_only=job.mode == ImportMode.VALID_ONLY,
                    user=job.uploaded_by,
                    on_progress=progress,
                )
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportStatus.DONE,
                processed_rows=report.total_rows,
                total_rows=report.total_rows,
                counts=report.counts,
                errors=report.errors,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
    except ImportRefused as exc:
        _fail(job_id, str(exc), errors=exc.report.errors)
        return ImportJob.objects.get(pk=job_id)
    except IntegrityError:
        # Two imports (or an import and the front desk) created the same patient or office
        # at the same moment: this one rolled back; run again, it matches what is there.
        logger.warning("import %s conflicted with a concurrent write", job_id, exc_info=True)
        _fail(
            job_id,
            "The import met data written at the same time (another import?) and stopped; "
            "nothing was imported. Upload the file again: what is already there is matched.",
        )
        return ImportJob.objects.get(pk=job_id)
    except Exception as exc:
        logger.exception("import %s failed", job_id)
        _fail(job_id, f"The import stopped ({type(exc).__name__}); nothing was imported.")
        raise
    finally:
        cache.delete(key)
    logger.info("import %s done: %s", job_id, report.counts)
    transaction.on_commit(lambda: _forget_file(job_id))
    return ImportJob.objects.get(pk=job_id)


def _fail(job_id: int, message: str, *, errors=None) -> None:
    fields = {"status": ImportStatus.FAILED, "failure": message, "finished_at": timezone.now()}
    if errors is not None:
        fields["errors"] = errors
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.IMPORTING).update(**fields)


def _forget_file(job_id: int) -> None:
    # The upload is patient data: once imported it lives in the tables, not as a file.
    # (Runs after the commit, possibly outside the scope: the job is found by its id.)
    with scopes_disabled():
        job = ImportJob.objects.filter(pk=job_id).first()
        if job and job.file:
            job.file.delete(save=False)
            ImportJob.objects.filter(pk=job_id).update(file="")
        if job and job.file_info.get("samples"):
            # The column samples shown while mapping are values of the file too.
            ImportJob.objects.filter(pk=job_id).update(file_info={**job.file_info, "samples": {}})
