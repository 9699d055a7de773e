"""Referring offices ("Referrers"): the list, an office's page, editing, archiving, its
doctors, and merging duplicates.

Every member of the practice sees the list and the office pages; changing an office
(edit, archive, doctors, merge) needs an administrator or a coordinator. Every lookup runs
in the request's practice scope, so another practice's office is a 404 everywhere.
"""

import datetime as dt
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from practices.access import Action, can
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from .. import duplicates
from ..choices import LetterChannel, OfficeEventKind
from ..forms.offices import OfficeForm, ProviderForm
from ..merging import FILLABLE_FIELDS, MergeRefused, merge_offices, preview_merge
from ..models import OfficeEvent, Referral, ReferringOffice, ReferringProvider
from ..office_services import (
    archive_office,
    filter_by_health,
    office_health,
    office_health_statuses,
    restore_office,
)

PER_PAGE = 100
RECENT_DAYS = 90
RECENT_REFERRALS_SHOWN = 20

SHOW_CHOICES = {"active": "Active", "archived": "Archived", "all": "All"}
SORTS = {
    "name": ("Name", ["name", "id"]),
    "recent": (f"Referrals, last {RECENT_DAYS} days", ["-referrals_recent", "name", "id"]),
    "total": ("Referrals, all time", ["-referrals_total", "name", "id"]),
    "last": ("Last referral", [F("last_referral_on").desc(nulls_last=True), "name", "id"]),
}
# Words people type before a name that no office or doctor field contains.
SEARCH_NOISE = {"dr", "dr.", "drs", "drs.", "doctor"}


def can_manage(request) -> bool:
    return can(request, Action.MANAGE_OFFICES)


manager_required = practice_required(Action.MANAGE_OFFICES)
merger_required = practice_required(Action.MERGE_OFFICES)


def _get_office(pk: int) -> ReferringOffice:
    # Inside the request's practice scope: another practice's office is a 404.
    return get_object_or_404(ReferringOffice, pk=pk)


# --- the list ---------------------------------------------------------------------------


def _count(queryset) -> Coalesce:
    """A correlated COUNT per office: one SQL statement for the whole page, and no rows
    multiplied by joining referrals and doctors in the same query."""
    counted = (
        queryset.order_by().annotate(one=Value(1)).values("one").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def with_counts(offices, today: dt.date):
    since = today - dt.timedelta(days=RECENT_DAYS)
    referrals = Referral.objects.filter(referring_office=OuterRef("pk"))
    return offices.annotate(
        referrals_total=_count(referrals),
        referrals_recent=_count(referrals.filter(received_on__gt=since)),
        last_referral_on=Subquery(referrals.order_by("-received_on").values("received_on")[:1]),
        doctor_count=_count(
            ReferringProvider.objects.filter(office=OuterRef("pk"), is_archived=False)
        ),
    )


def _term_filter(term: str) -> Q:
    doctors = ReferringProvider.objects.filter(office=OuterRef("pk")).filter(
        Q(first_name__icontains=term) | Q(last_name__icontains=term)
    )
    match = (
        Q(name__icontains=term)
        | Q(city__icontains=term)
        | Q(zip_code__startswith=term)
        | Q(external_id__iexact=term)
        | Q(Exists(doctors))
    )
    digits = re.sub(r"\D", "", term)
    if len(digits) >= 3 and not re.search(r"[a-zA-Z]", term):
        # Phones are stored as typed ("(555) 201-3344", "555.201.3344"): match the digits
        # in order with anything between them.
        pattern = r"\D*".join(digits)
        match |= Q(phone__regex=pattern) | Q(fax__regex=pattern)
    return match


def search_offices(offices, query: str):
    """Every word must match the office's name, city, ZIP, phone, PMS id or a doctor."""
    for term in query.split():
        if term.lower() not in SEARCH_NOISE:
            offices = offices.filter(_term_filter(term))
    return offices


@practice_required(Action.VIEW_REFERRERS)
def office_list(request):
    # Without NUL (found by the property tests): PostgreSQL refuses one in text, a 500.
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    show = request.GET.get("show", "active")
    show = show if show in SHOW_CHOICES else "active"
    sort = request.GET.get("sort", "name")
    sort = sort if sort in SORTS else "name"

    offices = ReferringOffice.objects.all()
    if show == "active":
        offices = offices.filter(is_archived=False)
    elif show == "archived":
        offices = offices.filter(is_archived=True)
    offices = search_offices(offices, query)
    # Referrer health (computed by analytics) filters in SQL, before the page is cut.
    health_choices = dict(office_health_statuses())
    status = request.GET.get("status", "")
    status = status if status in health_choices else ""
    if status:
        offices = filter_by_health(offices, status)
    offices = with_counts(offices, timezone.localdate()).order_by(*SORTS[sort][1])

    page = Paginator(offices, PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    # Hook for referrer health (analytics): empty until a receiver answers.
    health = office_health(rows)
    for office in rows:
        office.health = health.get(office.pk)

    context = {
        "page": page,
        "offices": rows,
        "query": query,
        "show": show,
        "sort": sort,
        "status": status,
        "status_label": health_choices.get(status, ""),
        "health_choices": health_choices,
        "show_choices": SHOW_CHOICES,
        "sorts": {key: label for key, (label, _order) in SORTS.items()},
        "recent_days": RECENT_DAYS,
        "can_manage": can_manage(request),
        "can_merge": can(request, Action.MERGE_OFFICES),
    }
    template = "referrals/offices/list.html"
    if request.htmx and request.htmx.target == "office-results":
        template = "referrals/offices/_results.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- one office -------------------------------------------------------------------------


@practice_required(Action.VIEW_REFERRERS)
def office_detail(request, pk: int):
    office = _get_office(pk)
    today = timezone.localdate()
    since = today - dt.timedelta(days=RECENT_DAYS)
    stats = Referral.objects.filter(referring_office=office).aggregate(
        total=Count("pk"),
        recent=Count("pk", filter=Q(received_on__gt=since)),
        last=Max("received_on"),
    )
    recent_referrals = (
        Referral.objects.filter(referring_office=office)
        .select_related("patient", "referring_provider")
        .order_by("-received_on", "-id")[:RECENT_REFERRALS_SHOWN]
    )
    recent_referrals = list(recent_referrals)
    if recent_referrals:
        record(
            request,
            AuditAction.LISTED,
            object_type="referral",
            count=len(recent_referrals),
            summary=f"Referring office #{office.pk}: recent referrals",
        )
    keys = duplicates.office_keys()
    context = {
        "office": office,
        "stats": stats,
        "recent_days": RECENT_DAYS,
        "providers": list(office.providers.all()),
        "recent_referrals": recent_referrals,
        "history": [
            (event, describe_event(event))
            for event in office.history.select_related("by", "referral")
        ],
        "possible_duplicates": duplicates.duplicates_of(office, keys),
        "channel_gap": channel_gap(office),
        "can_manage": can_manage(request),
        "can_merge": can(request, Action.MERGE_OFFICES),
        "merge_choices": sorted(
            (k for k in keys if k.id != office.pk), key=lambda k: (k.is_archived, k.name.lower())
        ),
    }
    return render(request, "referrals/offices/detail.html", context)


def channel_gap(office: ReferringOffice) -> str:
    """What is missing to send letters the way the office asked for them ('' if nothing)."""
    needs = {
        LetterChannel.EMAIL: ("email", "email address"),
        LetterChannel.FAX: ("fax", "fax number"),
        LetterChannel.MAIL: ("address", "postal address"),
    }
    field, words = needs.get(office.preferred_channel, ("", ""))
    return words if field and not getattr(office, field).strip() else ""


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def describe_event(event: OfficeEvent) -> str:
    """One line of an office's history, from the event's kind and details (no PHI)."""
    details = event.details or {}
    if event.kind == OfficeEventKind.MERGED:
        referrals = _plural(details.get("referrals_moved", 0), "referral", "referrals")
        doctors = _plural(details.get("providers_moved", 0), "doctor", "doctors")
        entries = _plural(details.get("events_moved", 0), "history entry", "history entries")
        text = (
            f"Merged “{details.get('absorbed_name', '?')}” (#{details.get('absorbed_id', '?')}) "
            f"into this office: {referrals}, {doctors} and {entries} moved."
        )
        filled = details.get("filled_fields") or []
        if filled:
            labels = ", ".join(
                str(ReferringOffice._meta.get_field(name).verbose_name)
                for name in filled
                if name in FILLABLE_FIELDS
            )
            text += f" Filled from it: {labels}."
    else:
        text = event.get_kind_display()
    recorded_for = details.get("recorded_for")
    if recorded_for:
        text += f" (recorded for “{recorded_for.get('name')}”, merged in later)"
    return text


@manager_required
@require_http_methods(["GET", "POST"])
def office_create(request):
    form = OfficeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        office = form.save(commit=False)
        office.practice = request.practice
        office.save()
        messages.success(request, f"Added “{office.name}”.")
        return redirect("office_detail", pk=office.pk)
    return render(request, "referrals/offices/form.html", {"form": form, "office": None})


@manager_required
@require_http_methods(["GET", "POST"])
def office_edit(request, pk: int):
    office = _get_office(pk)
    form = OfficeForm(request.POST or None, instance=office)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved “{office.name}”.")
        return redirect("office_detail", pk=office.pk)
    return render(request, "referrals/offices/form.html", {"form": form, "office": office})


@manager_required
@require_POST
def office_archive(request, pk: int):
    office = _get_office(pk)
    if archive_office(office, by=request.user):
        messages.success(
            request,
            f"Archived “{office.name}”: it is hidden from intake and the list; "
            "its referrals and history stay.",
        )
    return redirect("office_detail", pk=office.pk)


@manager_required
@require_POST
def office_restore(request, pk: int):
    office = _get_office(pk)
    if restore_office(office, by=request.user):
        messages.success(request, f"Restored “{office.name}”.")
    return redirect("office_detail", pk=office.pk)


# --- doctors ----------------------------------------------------------------------------


@manager_required
@require_http_methods(["GET", "POST"])
def provider_create(request, pk: int):
    office = _get_office(pk)
    form = ProviderForm(request.POST or None, office=office)
    if request.method == "POST" and form.is_valid():
        provider = form.save()
        messages.success(request, f"Added {provider} to “{office.name}”.")
        return redirect("office_detail", pk=office.pk)
    context = {"form": form, "office": office, "provider": None}
    return render(request, "referrals/offices/provider_form.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def provider_edit(request, pk: int, provider_pk: int):
    office = _get_office(pk)
    provider = get_object_or_404(ReferringProvider, pk=provider_pk, office=office)
    form = ProviderForm(request.POST or None, instance=provider, office=office)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {provider}.")
        return redirect("office_detail", pk=office.pk)
    context = {"form": form, "office": office, "provider": provider}
    return render(request, "referrals/offices/provider_form.html", context)


# --- duplicates and merging -------------------------------------------------------------


@merger_required
def office_duplicates(request):
    keys = duplicates.office_keys()
    pairs = duplicates.find_duplicates(keys)
    ids = {k.id for pair in pairs for k in (pair.first, pair.second)}
    # One grouped query for the counts that help choose which office to keep.
    counts = dict(
        Referral.objects.filter(referring_office_id__in=ids)
        .order_by()
        .values_list("referring_office_id")
        .annotate(n=Count("pk"))
    )
    rows = []
    for pair in pairs:
        a, b = pair.first, pair.second
        # Suggest keeping the office with more referrals (then the older row).
        if (counts.get(b.id, 0), -b.id) > (counts.get(a.id, 0), -a.id):
            a, b = b, a
        rows.append(
            {
                "keep": a,
                "absorb": b,
                "keep_referrals": counts.get(a.id, 0),
                "absorb_referrals": counts.get(b.id, 0),
                "pair": pair,
            }
        )
    return render(
        request, "referrals/offices/duplicates.html", {"rows": rows, "office_count": len(keys)}
    )


def _int_param(data, name: str) -> int:
    try:
        return int(data.get(name, ""))
    except ValueError:
        raise Http404(f"No office given as {name}") from None


@merger_required
@require_http_methods(["GET", "POST"])
def office_merge(request):
    data = request.POST if request.method == "POST" else request.GET
    survivor = _get_office(_int_param(data, "survivor"))
    absorbed = _get_office(_int_param(data, "absorbed"))
    try:
        preview = preview_merge(survivor, absorbed)
    except MergeRefused as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect("office_detail", pk=survivor.pk)
    if request.method == "POST":
        try:
            result = merge_offices(survivor, absorbed, by=request.user)
        except MergeRefused as refused:
            messages.error(request, " ".join(refused.messages))
            return redirect("office_detail", pk=survivor.pk)
        messages.success(request, result.summary())
        return redirect("office_detail", pk=result.survivor.pk)
    return render(request, "referrals/offices/merge_confirm.html", {"preview": preview})


urlpatterns = [
    path("referrers/", office_list, name="office_list"),
    path("referrers/new/", office_create, name="office_create"),
    path("referrers/duplicates/", office_duplicates, name="office_duplicates"),
    path("referrers/merge/", office_merge, name="office_merge"),
    path("referrers/<int:pk>/", office_detail, name="office_detail"),
    path("referrers/<int:pk>/edit/", office_edit, name="office_edit"),
    path("referrers/<int:pk>/archive/", office_archive, name="office_archive"),
    path("referrers/<int:pk>/restore/", office_restore, name="office_restore"),
    path("referrers/<int:pk>/doctors/new/", provider_create, name="provider_create"),
    path(
        "referrers/<int:pk>/doctors/<int:provider_pk>/edit/",
        provider_edit,
        name="provider_edit",
    ),
]
