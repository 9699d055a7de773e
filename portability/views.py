"""Settings → Export all data: an administrator asks for the practice's whole export, sees
it being built, and downloads it through a link that expires."""

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from practices.access import Action
from practices.audit import record
from practices.models import AuditAction
from practices.permissions import practice_required

from . import services
from .entities import ENTITIES
from .models import ExportJob


def _job_context(job: ExportJob | None) -> dict:
    if job is None:
        return {"job": None, "valid_hours": services.valid_hours()}
    done, total = services.progress_of(job)
    return {
        "job": job,
        "in_progress": job.status in services.IN_PROGRESS,
        "percent": min(100, round(100 * done / total)) if total else 0,
        "downloadable": services.is_downloadable(job),
        "download_url": (
            reverse("practice_export_download", args=[job.pk, services.download_token(job)])
            if services.is_downloadable(job)
            else ""
        ),
        "valid_hours": services.valid_hours(),
        # In the order of the export's files (the stored JSON keeps no order).
        "counts": [
            (name.replace("_", " ").capitalize(), job.counts[name])
            for name in [*(e.name for e in ENTITIES), "files"]
            if name in job.counts
        ],
    }


@never_cache
@require_http_methods(["GET", "POST"])
@practice_required(Action.EXPORT_PRACTICE)
def export_page(request):
    if request.method == "POST":
        services.request_export(request, request.practice, request.user)
        return redirect("practice_export")
    services.expire_exports()
    services.fail_stale_exports()
    latest = ExportJob.objects.select_related("requested_by").first()
    context = {
        **_job_context(latest),
        "history": ExportJob.objects.select_related("requested_by")[:10],
    }
    return render(request, "portability/export.html", context)


@never_cache
@practice_required(Action.EXPORT_PRACTICE)
def export_progress(request, pk: int):
    """The card the page polls while the export is built; when it is over, the page."""
    job = get_object_or_404(ExportJob, pk=pk)
    if not request.htmx:
        return redirect("practice_export")
    if job.status not in services.IN_PROGRESS:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("practice_export")
        return response
    return render(request, "portability/_progress.html", _job_context(job))


@never_cache
@practice_required(Action.EXPORT_PRACTICE)
def export_download(request, pk: int, token: str):
    job = get_object_or_404(ExportJob, pk=pk)
    if not services.token_matches(job, token):
        raise Http404("This download link is not valid.")
    if not services.is_downloadable(job):
        return render(request, "portability/expired.html", {"job": job}, status=410)
    try:
        stream = job.file.open("rb")
    except FileNotFoundError:  # removed from the storage by hand: as good as expired
        return render(request, "portability/expired.html", {"job": job}, status=410)
    # Reading the export is reading every patient's record: on the record, each time.
    record(
        request,
        AuditAction.DOWNLOADED,
        obj=job,
        summary="Export of all practice data (zip)",
        count=sum(v for k, v in job.counts.items() if k != "files"),
    )
    stamp = job.finished_at.strftime("%Y-%m-%d")
    response = FileResponse(
        stream,
        as_attachment=True,
        filename=f"{request.practice.slug}-export-{stamp}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response
