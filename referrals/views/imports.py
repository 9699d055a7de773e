"""Import of referral history: check with a preview, import, summary (the upload and the
column mapping before it are the wizard, ``imports_wizard.py``).

Small files are checked and imported in the request; large ones by Celery workers while
the page polls a progress fragment. Only administrators and coordinators import.
"""

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from practices.access import Action
from practices.audit import AuditAction, record
from practices.csv_export import csv_response
from practices.permissions import practice_required

from ..choices import CaseType, ImportMode, ImportStatus, MilestoneKind, SourceType, Status
from ..forms.imports import ImportStartForm
from ..importing import jobs
from ..importing.mapping import Mapping
from ..importing.matching import Matcher, Row
from ..importing.pipeline import preview_csv
from ..models import ImportJob, ImportPreset

PREVIEW_ROWS = 20
SHOWN_ERRORS = 200


@practice_required(Action.IMPORT)
def import_list(request):
    recent = ImportJob.objects.select_related("uploaded_by").order_by("-created_at")[:50]
    saved = ImportPreset.objects.select_related("created_by").order_by("name")
    return render(request, "referrals/imports/list.html", {"jobs": recent, "presets": saved})


@dataclass
class PreviewLine:
    """A row of the preview table, as the import will treat it."""

    line: int
    errors: list = field(default_factory=list)
    action: str = ""  # "create", "match" or "reject"
    chart_number: str = ""
    patient: str = ""
    date_of_birth: object = None
    patient_new: bool = False
    received_on: object = None
    source: str = ""
    office: str = ""
    office_zip: str = ""
    office_new: bool = False
    provider: str = ""
    provider_new: bool = False
    case_type: str = ""
    steps: list = field(default_factory=list)
    status: str = ""
    production: object = None


def _preview_line(row: Row, matcher: Matcher) -> PreviewLine:
    if not row.ok:
        return PreviewLine(line=row.line, errors=row.errors, action="reject")
    p = row.parsed
    return PreviewLine(
        line=row.line,
        action="match" if row.matched_referral else "create",
        chart_number=p.chart_number,
        patient=f"{p.first_name} {p.last_name}",
        date_of_birth=p.date_of_birth,
        patient_new=row.patient_new,
        received_on=p.received_on,
        source=SourceType(p.source_type).label,
        # The office as it is (or will be) stored, whatever this line's spelling.
        office=matcher.office_names.get(row.office_key, "") if row.office_key else "",
        office_zip=p.office_zip,
        office_new=row.office_new,
        provider=f"Dr. {p.provider_first} {p.provider_last}" if p.provider_last else "",
        provider_new=row.provider_new,
        case_type=CaseType(p.case_type).label,
        steps=[(MilestoneKind(m.kind).label, m.on) for m in p.milestones],
        status=Status(p.status).label,
        production=p.production,
    )


def _job_or_404(request, pk) -> ImportJob:
    # Inside the practice's scope: another practice's job is not found (404).
    return get_object_or_404(ImportJob.objects.select_related("uploaded_by"), pk=pk)


def _progress_context(job: ImportJob) -> dict:
    done = jobs.live_progress(job)
    total = max(job.total_rows, done)
    return {
        "job": job,
        "processed": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "importing": job.status == ImportStatus.IMPORTING,
        "waiting": job.status == ImportStatus.UPLOADED
        or (job.status == ImportStatus.IMPORTING and done == 0),
    }


@practice_required(Action.IMPORT)
def import_detail(request, pk):
    job = _job_or_404(request, pk)
    if job.status == ImportStatus.MAPPING:
        return redirect("import_wizard_preview", job.pk)
    context = {
        "job": job,
        "in_progress": job.status in jobs.IN_PROGRESS,
        "errors": job.errors[:SHOWN_ERRORS],
        "more_errors": max(0, len(job.errors) - SHOWN_ERRORS),
        "can_import_all": jobs.can_start(job, ImportMode.ALL_OR_NOTHING),
        "can_import_valid": job.status == ImportStatus.INVALID
        and jobs.can_start(job, ImportMode.VALID_ONLY),
        "counts": job.counts,
        # Procedure-level files are counted in cases (their rows grouped), not file rows.
        "procedure_level": bool(job.mapping) and Mapping.from_json(job.mapping).procedure_level,
    }
    if context["in_progress"]:
        context.update(_progress_context(job))
    elif job.status in (ImportStatus.READY, ImportStatus.INVALID) and job.file and not job.failure:
        with job.file.open("rb") as stream:
            rows, matcher = preview_csv(request.practice, stream, limit=PREVIEW_ROWS)
        context["preview"] = [_preview_line(r, matcher) for r in rows]
        record(
            request,
            AuditAction.LISTED,
            object_type="patient",
            count=len(context["preview"]),
            summary=f"Import #{job.pk} preview",
        )
    return render(request, "referrals/imports/detail.html", context)


@practice_required(Action.IMPORT)
def import_progress(request, pk):
    """The progress fragment the detail page polls every second. When the work is over it
    sends the browser to the detail page, which then shows the preview or the summary."""
    job = _job_or_404(request, pk)
    detail = reverse("import_detail", args=[job.pk])
    if not request.htmx:
        return redirect(detail)
    if job.status not in jobs.IN_PROGRESS:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = detail
        return response
    context = {**_progress_context(job), "swap_status": True}
    response = render(request, "referrals/imports/_progress.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@practice_required(Action.IMPORT)
def import_start(request, pk):
    job = _job_or_404(request, pk)
    form = ImportStartForm(request.POST)
    mode = form.cleaned_data["mode"] if form.is_valid() else None
    if mode is None or not jobs.start_job(job, mode):
        if job.status in (ImportStatus.IMPORTING, ImportStatus.DONE):
            return redirect("import_detail", job.pk)  # a second click: it is under way
        messages.error(
            request,
            "This import cannot start: the file has errors. Choose to import only the valid "
            "rows, or upload a corrected file.",
        )
        return redirect("import_detail", job.pk)
    counts = job.counts or {}
    record(
        request,
        AuditAction.IMPORTED,
        obj=job,
        count=counts.get("valid_rows"),
        summary=(
            f"Import #{job.pk} started ({mode}): "
            f"{counts.get('valid_rows', 0)} valid of {job.total_rows} rows"
        ),
    )
    if jobs.runs_in_worker(job):
        jobs.queue_run(job)
    else:
        jobs.run_job(job.pk)
    return redirect("import_detail", job.pk)


@practice_required(Action.IMPORT)
def import_errors(request, pk):
    """The errors as a CSV to fix the file in a spreadsheet (line, column, message)."""
    job = _job_or_404(request, pk)
    # The messages quote the file's cells, which may be patient data.
    record(request, AuditAction.EXPORTED, obj=job, summary=f"Import #{job.pk} errors, CSV")
    return csv_response(
        f"import-{job.pk}-errors.csv",
        ["line", "column", "message"],
        ([error["line"] or "", error["column"], error["message"]] for error in job.errors),
    )


urlpatterns = [
    path("imports/", import_list, name="import_list"),
    path("imports/<int:pk>/", import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", import_progress, name="import_progress"),
    path("imports/<int:pk>/start/", import_start, name="import_start"),
    path("imports/<int:pk>/errors.csv", import_errors, name="import_errors"),
]
