"""Reports: referral volume, case acceptance and the 12-month trend, with shared filters,
as a page (HTML tables, a Plotly chart) and as CSV and PDF downloads.

Every member of the practice may read them; money (production) only the roles that see
revenue (``can_see_revenue``): the front desk gets the same reports without it, in the
page, the CSV and the PDF alike. An office of another practice in the filters is a 404.
"""

from urllib.parse import urlencode

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from practices.access import Action
from practices.audit import AuditAction, record
from practices.permissions import can_see_revenue, practice_required

from ..reports import DEFAULT_REPORT, REPORTS, ReportKind
from ..reports.filters import ReportFilterForm, ReportFilters
from ..reports.render import csv_response, pdf_response, render_pdf


def _read_filters(request) -> tuple[ReportFilterForm, ReportFilters]:
    form = ReportFilterForm(request.GET, today=timezone.localdate())
    form.is_valid()
    if "office" in form.errors:
        # The choices are this practice's offices (the request's scope): anything else,
        # another practice's office included, does not exist here.
        raise Http404("No such office.")
    return form, form.filters()


def _report_kind(slug: str) -> ReportKind:
    try:
        return REPORTS[slug]
    except KeyError:
        raise Http404("No such report.") from None


def _build(request, kind: ReportKind, filters: ReportFilters):
    report = kind.build(filters, request.practice)
    tables = kind.tables(report)
    if not can_see_revenue(request):
        tables = [table.without_money() for table in tables]
    return report, tables


def _download_url(name: str, kind: ReportKind, filters: ReportFilters) -> str:
    query = filters.query_string()
    url = reverse(name, args=[kind.slug])
    return f"{url}?{query}" if query else url


@practice_required(Action.REPORTS)
def reports(request):
    slug = request.GET.get("report") or DEFAULT_REPORT
    kind = REPORTS.get(slug) or REPORTS[DEFAULT_REPORT]
    form, filters = _read_filters(request)
    report, tables = _build(request, kind, filters)
    base = reverse("reports")
    context = {
        "form": form,
        "filters": filters,
        "kind": kind,
        "scope": kind.scope(filters),
        "tabs": [
            {
                "title": other.title,
                "url": f"{base}?{urlencode({'report': other.slug, **filters.params()})}",
                "active": other.slug == kind.slug,
                "slug": other.slug,
            }
            for other in REPORTS.values()
        ],
        "tables": tables,
        "figures": kind.figures(report) if kind.figures else [],
        "csv_url": _download_url("report_csv", kind, filters),
        "pdf_url": _download_url("report_pdf", kind, filters),
        "show_revenue": can_see_revenue(request),
    }
    template = "analytics/reports/page.html"
    if request.htmx and request.htmx.target == "report-body":
        template = "analytics/reports/_body.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _record_export(request, kind: ReportKind, filters: ReportFilters, file_type: str) -> None:
    # The report's name and what it covers (period, office): counts only, no patient.
    record(
        request,
        AuditAction.EXPORTED,
        object_type="report",
        object_id=kind.slug,
        summary=f"Report: {kind.title}, {file_type}; {kind.scope(filters)}",
    )


def _download_filters(request) -> ReportFilters | HttpResponseBadRequest:
    form, filters = _read_filters(request)
    if form.errors:
        # A file must cover what was asked for, never a silently replaced range.
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else name}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        return HttpResponseBadRequest(f"Check the report filters. {problems}")
    return filters


@practice_required(Action.REPORTS)
def report_csv(request, report: str):
    kind = _report_kind(report)
    filters = _download_filters(request)
    if isinstance(filters, HttpResponseBadRequest):
        return filters
    built = kind.build(filters, request.practice)
    header, lines = kind.csv(built, can_see_revenue(request))
    _record_export(request, kind, filters, "CSV")
    return csv_response(kind.file_name(filters, "csv"), header, lines)


@practice_required(Action.REPORTS)
def report_pdf(request, report: str):
    kind = _report_kind(report)
    filters = _download_filters(request)
    if isinstance(filters, HttpResponseBadRequest):
        return filters
    built, tables = _build(request, kind, filters)
    context = {
        "title": kind.title,
        "subtitle": kind.scope(filters),
        "summary": kind.summary,
        "tables": tables,
        "charts": kind.svgs(built) if kind.svgs else [],
    }
    content = render_pdf(
        request.practice,
        "analytics/reports/pdf/report.html",
        context,
        landscape=any(table.wide for table in tables),
    )
    _record_export(request, kind, filters, "PDF")
    return pdf_response(kind.file_name(filters, "pdf"), content)


urlpatterns = [
    path("reports/", reports, name="reports"),
    path("reports/<slug:report>.csv", report_csv, name="report_csv"),
    path("reports/<slug:report>.pdf", report_pdf, name="report_pdf"),
]
