"""Settings → Audit log: who looked at or changed which patient's data, and account events.

Practice administrators only. Filters (person, patient chart number, action, date range)
are a GET form: with JavaScript htmx swaps the table in place and keeps the URL; without
it the same URL answers as a whole page. The CSV export streams every filtered entry, and
is itself recorded (``exported``): the log leaves the product in that file. Reading the
page is not recorded: it holds ids and labels, not patient data.
"""

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from practices.access import Action
from practices.audit import AuditAction, record
from practices.csv_export import streaming_csv_response
from practices.permissions import practice_required

from .. import audit_log
from ..audit_log import AuditFilters, AuditLogFilterForm

FILTER_FIELDS = ("person", "chart", "action", "start", "end")


def _read_filters(request) -> tuple[AuditLogFilterForm, AuditFilters]:
    bound = any(request.GET.get(name) for name in FILTER_FIELDS)
    form = AuditLogFilterForm(request.GET if bound else None)
    return form, AuditFilters.from_form(form)


def _filter_query(request) -> dict[str, str]:
    return {name: request.GET[name] for name in FILTER_FIELDS if request.GET.get(name)}


@never_cache
@practice_required(Action.VIEW_AUDIT_LOG)
@require_GET
def audit_log_page(request):
    form, filters = _read_filters(request)
    patient = audit_log.patient_for_chart(filters.chart)
    entries = audit_log.filtered_entries(filters, patient)
    if form.errors:
        # Never "everything" in place of what was asked for: the message says what to fix.
        entries = entries.none()
    page = audit_log.page_of(
        entries, before=request.GET.get("before", ""), after=request.GET.get("after", "")
    )
    query = _filter_query(request)
    base = reverse("audit_log")

    def link(**cursor: str) -> str:
        return f"{base}?{urlencode({**query, **cursor})}"

    context = {
        "form": form,
        "filters": filters,
        "unknown_chart": bool(filters.chart) and patient is None,
        "rows": audit_log.rows_of(page.entries),
        "page": page,
        "older_url": link(before=page.older) if page.older else "",
        "newer_url": link(after=page.newer) if page.newer else "",
        "newest_url": link() if not page.is_first else "",
        "csv_url": f"{reverse('audit_log_csv')}?{urlencode(query)}",
        "page_size": audit_log.PAGE_SIZE,
    }
    template = (
        "referrals/audit_log/_table.html" if request.htmx else "referrals/audit_log/page.html"
    )
    # htmx swaps only 2xx answers: the table then says what is wrong with the filters.
    status = 400 if form.errors and not request.htmx else 200
    response = render(request, template, context, status=status)
    if request.htmx:
        # The address bar keeps the filters that are set, not every empty field.
        cursor = {k: request.GET[k] for k in ("before", "after") if request.GET.get(k)}
        response["HX-Push-Url"] = link(**cursor) if query or cursor else base
    patch_vary_headers(response, ["HX-Request"])
    return response


@practice_required(Action.VIEW_AUDIT_LOG)
@require_GET
def audit_log_csv(request):
    form, filters = _read_filters(request)
    if form.errors:
        # A file must hold what was asked for: send the user back to the form's message.
        return audit_log_page(request)
    patient = audit_log.patient_for_chart(filters.chart)
    people = dict(form.fields["person"].choices)
    record(
        request,
        AuditAction.EXPORTED,
        object_type="auditentry",
        patient=patient.pk if patient else None,
        summary=f"Audit log, CSV; {filters.describe(people)}",
    )
    day = filters.end.isoformat() if filters.end else "latest"
    rows = audit_log.csv_rows(request.practice, filters, patient.pk if patient else None)
    return streaming_csv_response(f"audit-log-{day}.csv", audit_log.CSV_HEADER, rows)


urlpatterns = [
    path("settings/audit-log/", audit_log_page, name="audit_log"),
    path("settings/audit-log/export.csv", audit_log_csv, name="audit_log_csv"),
]
