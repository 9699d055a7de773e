"""Referrer health: the board of every office and one office's page.

Both read the nightly snapshots and (for one office) at most three years of monthly
rollups, so they cost a fixed number of queries whatever the size of the practice or the
length of its history. Every member of the practice sees them; the front desk without
money figures (``Action.VIEW_MONEY``). Logging outreach and working alerts is for the
people who own GP relationships; recomputing is for administrators (``practices.access``).
"""

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from alerts import services as alert_services
from alerts.models import Alert
from practices.access import Action, can
from practices.permissions import can_see_revenue, practice_required
from referrals.models import Referral, ReferringOffice

from .. import queries
from ..choices import RecomputeStatus, ReferrerStatus
from ..detection import poisson_band
from ..forms import (
    AssignForm,
    OutreachForm,
    ResolveForm,
    SnoozeForm,
    working_members,
)
from ..models import RecomputeRequest
from ..nightly import recompute
from ..recompute_now import request_recompute
from ..templatetags.referrer_health import rate as rate_label

PER_PAGE = 100
DEFAULT_SORT = "-priority"
# Columns whose first click sorts ascending; the rest start with the largest first.
ASCENDING_FIRST = {"office", "status"}
# Up to this many referrals "compute now" runs in the request (about a second on SQLite
# for 4,000); a bigger practice gets a Celery task and a progress card.
SYNC_MAX_REFERRALS = 5000
PENDING_KEY = "referrer_recompute"
STATUS_CHOICES = dict(ReferrerStatus.choices)

working_required = practice_required(Action.WORK_ALERTS)
outreach_required = practice_required(Action.LOG_OUTREACH)


def can_work(request) -> bool:
    return can(request, Action.WORK_ALERTS)


def get_office(office_id: int) -> ReferringOffice:
    # Inside the request's practice scope: another practice's office is a 404.
    return get_object_or_404(ReferringOffice, pk=office_id)


# --- the board ---------------------------------------------------------------------------


def board_url(**params) -> str:
    """The board's URL with only the parameters that differ from the defaults."""
    defaults = {"status": "all", "q": "", "sort": DEFAULT_SORT, "page": 1}
    wanted = {k: v for k, v in params.items() if v not in (None, "") and v != defaults.get(k)}
    base = reverse("referrer_board")
    return f"{base}?{urlencode(wanted)}" if wanted else base


def _tabs(summary_for_search, status: str, query: str, sort: str, money: bool) -> list[dict]:
    tabs = []
    keys = ["all", *queries.BOARD_TABS]
    if summary_for_search.tally(ReferrerStatus.PROSPECT).offices:
        keys.append(ReferrerStatus.PROSPECT)
    for key in keys:
        tally = summary_for_search.tally() if key == "all" else summary_for_search.tally(key)
        tabs.append(
            {
                "key": key,
                "label": "All" if key == "all" else STATUS_CHOICES[key],
                "count": tally.offices,
                "risk": tally.revenue_at_risk if money else None,
                "url": board_url(status=key, q=query, sort=sort),
                "active": key == status,
            }
        )
    return tabs


def _columns(status: str, query: str, sort: str, money: bool) -> dict[str, dict]:
    """Each sortable column's header: its link (which flips the direction when it is the
    current sort) and the direction it sorts now, if it does."""
    columns = {}
    for key, (label, _field) in queries.BOARD_SORTS.items():
        if key == "priority" or (key in queries.MONEY_SORTS and not money):
            continue
        if sort.lstrip("-") == key:
            direction = "desc" if sort.startswith("-") else "asc"
            next_sort = key if direction == "desc" else f"-{key}"
        else:
            direction = None
            next_sort = key if key in ASCENDING_FIRST else f"-{key}"
        columns[key] = {
            "label": label,
            "direction": direction,
            "url": board_url(status=status, q=query, sort=next_sort),
        }
    return columns


def _board_params(request) -> tuple[str, str, str, int]:
    status = request.GET.get("status", "all")
    if status not in STATUS_CHOICES:
        status = "all"
    query = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", DEFAULT_SORT)
    key = sort.lstrip("-")
    money_sort_refused = key in queries.MONEY_SORTS and not can_see_revenue(request)
    if key not in queries.BOARD_SORTS or money_sort_refused:
        sort = DEFAULT_SORT
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    return status, query, sort, page


@practice_required(Action.VIEW_REFERRERS)
def referrer_board(request):
    as_of = queries.latest_as_of()
    money = can_see_revenue(request)
    context = {
        "as_of": as_of,
        "show_revenue": money,
        "can_recompute": can(request, Action.RECOMPUTE),
        "pending": _pending_recompute(request, as_of),
        "today": timezone.localdate(),
    }
    if as_of is None:
        return render(request, "analytics/board/empty.html", context)

    status, query, sort, page = _board_params(request)
    snapshots = queries.current_snapshots(as_of)
    overall = queries.board_summary(snapshots)
    searched = queries.search_by_office_name(snapshots, query)
    summary = queries.board_summary(searched) if query else overall
    shown = searched if status == "all" else searched.filter(status=status)
    tally = summary.tally() if status == "all" else summary.tally(status)
    pages = max(1, -(-tally.offices // PER_PAGE))
    page = min(page, pages)
    start = (page - 1) * PER_PAGE
    rows = list(queries.board_rows(shown, sort)[start : start + PER_PAGE])

    context.update(
        {
            "overall": overall,
            "overall_total": overall.tally(),
            "declining": overall.tally(ReferrerStatus.DECLINING),
            "quiet": overall.tally(ReferrerStatus.INACTIVE, ReferrerStatus.LOST),
            "referring": overall.tally(
                ReferrerStatus.ACTIVE, ReferrerStatus.NEW, ReferrerStatus.DECLINING
            ),
            "computed_at": overall.computed_at,
            "slowdown": queries.practice_slowdown_note(as_of),
            "stale": as_of < timezone.localdate() - dt.timedelta(days=1),
            "status": status,
            "status_label": "All offices" if status == "all" else STATUS_CHOICES[status],
            "query": query,
            "sort": sort,
            "default_sort": DEFAULT_SORT,
            "tabs": _tabs(summary, status, query, sort, money),
            "columns": _columns(status, query, sort, money),
            "rows": rows,
            "tally": tally,
            "page": page,
            "pages": pages,
            "previous_url": board_url(status=status, q=query, sort=sort, page=page - 1)
            if page > 1
            else None,
            "next_url": board_url(status=status, q=query, sort=sort, page=page + 1)
            if page < pages
            else None,
        }
    )
    template = "analytics/board/board.html"
    if request.htmx and request.htmx.target == "board-results":
        template = "analytics/board/_results.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- computing now -----------------------------------------------------------------------


def _pending_recompute(request, as_of: dt.date | None) -> dict | None:
    """The recompute this user started that has not produced snapshots yet, if any. Its
    state is read from its row (RecomputeRequest), never from Celery's result store: the
    board serves the same with Redis down (docs/reliability.md)."""
    pending = request.session.get(PENDING_KEY)
    if not pending or pending.get("practice_id") != request.practice.pk:
        return None
    if as_of is not None and as_of >= dt.date.fromisoformat(pending["as_of"]):
        request.session.pop(PENDING_KEY, None)
        return None
    started = dt.datetime.fromisoformat(pending["started_at"])
    status = (
        RecomputeRequest.objects.filter(pk=pending.get("request_id"))
        .values_list("status", flat=True)
        .first()
    )
    return {
        **pending,
        "started": started,
        "seconds": int((timezone.now() - started).total_seconds()),
        "waiting": status == RecomputeStatus.QUEUED,
        "failed": status == RecomputeStatus.FAILED,
    }


@practice_required(Action.RECOMPUTE)
def referrer_recompute(request):
    """POST: compute referrer health now (in the request for a small practice, else in a
    Celery task). GET (htmx): the progress card, which polls until the snapshots exist."""
    if request.method == "POST":
        return _start_recompute(request)
    as_of = queries.latest_as_of()
    pending = _pending_recompute(request, as_of)
    if not request.htmx:
        return redirect("referrer_board")
    if pending is None:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("referrer_board")
        return response
    if pending["failed"]:
        request.session.pop(PENDING_KEY, None)
    return render(request, "analytics/board/_progress.html", {"pending": pending})


def _start_recompute(request):
    practice = request.practice
    today = timezone.localdate()
    sync_max = getattr(settings, "REFERRER_RECOMPUTE_SYNC_MAX_REFERRALS", SYNC_MAX_REFERRALS)
    if Referral.objects.count() <= sync_max:
        result = recompute(practice, today)
        request.session.pop(PENDING_KEY, None)
        messages.success(
            request,
            f"Referrer health computed as of {today:%b} {today.day}, {today.year} for "
            f"{len(result.snapshots)} offices.",
        )
        return redirect("referrer_board")
    pending = request_recompute(practice, today, request.user)
    # Kept in the session so the board shows this user a progress card until it is done.
    request.session[PENDING_KEY] = {
        "practice_id": practice.pk,
        "as_of": today.isoformat(),
        "started_at": pending.created_at.isoformat(),
        "request_id": pending.pk,
    }
    messages.info(request, "Computing referrer health. This page updates when it is done.")
    return redirect("referrer_board")


# --- one office --------------------------------------------------------------------------


def expected_band(history: queries.OfficeHistory, snapshot) -> list[dict]:
    """Traces of what the office would have sent at its usual rate (season- and practice-
    adjusted, from the snapshot): the 80% band of a steady office and its middle. Drawn
    under the referrals, so a drop shows as the line leaving the band."""
    expected = snapshot.expected_counts if snapshot is not None else []
    if len(expected) != len(history.months):
        return []
    x, low, high, middle = [], [], [], []
    for month, count, mean in zip(history.months, history.counts, expected, strict=True):
        if count is None or mean <= 0:
            continue  # before the office's first referral there is nothing to expect
        band = poisson_band(mean)
        x.append(month.isoformat())
        low.append(band[0])
        high.append(band[1])
        middle.append(round(mean, 1))
    if not x:
        return []
    fill = "rgba(178,107,0,0.12)"
    return [
        {
            "type": "scatter",
            "mode": "lines",
            "x": x,
            "y": low,
            "line": {"width": 0},
            "hoverinfo": "skip",
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Expected (80% band)",
            "x": x,
            "y": high,
            "fill": "tonexty",
            "fillcolor": fill,
            "line": {"width": 0},
            "customdata": low,
            "hovertemplate": "expected %{customdata}-%{y}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Expected",
            "x": x,
            "y": middle,
            "line": {"color": "#b26b00", "width": 1.5, "dash": "dash"},
            "hovertemplate": "about %{y} expected<extra></extra>",
        },
    ]


def chart_figure(history: queries.OfficeHistory, snapshot) -> dict:
    """A Plotly figure (plain JSON) of the office's last 24 months against a year earlier."""
    x = [m.isoformat() for m in history.months]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "Same month last year",
            "x": x,
            "y": history.last_year,
            "line": {"color": "#9aa5b4", "width": 2, "dash": "dot"},
            "hovertemplate": "%{y} a year earlier<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Referrals",
            "x": x,
            "y": history.counts,
            "line": {"color": "#0f5c8c", "width": 2.5},
            "marker": {"size": 5},
            "fill": "tozeroy",
            "fillcolor": "rgba(15,92,140,0.08)",
            "hovertemplate": "%{x|%B %Y}: %{y} referrals<extra></extra>",
        },
    ]
    band = expected_band(history, snapshot)
    data[:0] = band
    shapes, annotations = [], []
    # Without a band (an old snapshot), a line at the usual rate shows the drop instead.
    if snapshot is not None and snapshot.status == ReferrerStatus.DECLINING and not band:
        rate = snapshot.baseline_rate
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": rate,
                "y1": rate,
                "line": {"color": "#b26b00", "width": 1, "dash": "dash"},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "y": rate,
                "xanchor": "right",
                "yanchor": "bottom",
                "text": f"usual: {rate_label(rate)} a month",
                "showarrow": False,
                "font": {"size": 11, "color": "#b26b00"},
            }
        )
    layout = {
        "height": 280,
        "margin": {"l": 36, "r": 12, "t": 8, "b": 36},
        "font": {"family": "DejaVu Sans, system-ui, sans-serif", "size": 12, "color": "#1d2733"},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"type": "date", "tickformat": "%b %y", "dtick": "M3", "showgrid": False},
        "yaxis": {"rangemode": "tozero", "gridcolor": "#eef1f5", "zeroline": False},
        "hovermode": "x unified",
        "shapes": shapes,
        "annotations": annotations,
    }
    return {"data": data, "layout": layout}


def alerts_context(request, office, errors: dict | None = None) -> dict:
    unresolved, resolved = queries.office_alerts(office)
    working = can_work(request)
    return {
        "office": office,
        "open_alerts": unresolved,
        "resolved_alerts": resolved,
        "alert_errors": errors or {},
        "can_work": working,
        "members": list(working_members(request.practice)) if working else [],
        "snooze_form": SnoozeForm(),
        "resolve_form": ResolveForm(),
        "today": timezone.localdate(),
    }


def outreach_context(request, office, form=None, logged=None) -> dict:
    return {
        "office": office,
        "outreach": queries.office_outreach(office),
        "outreach_form": form or OutreachForm(),
        "outreach_logged": logged,
        "can_log_outreach": can(request, Action.LOG_OUTREACH),
        "today": timezone.localdate(),
    }


def detail_context(request, office, *, outreach_form=None) -> dict:
    as_of = queries.latest_as_of()
    snapshot = queries.office_snapshot(office, as_of)
    history = queries.office_history(office, as_of or timezone.localdate())
    missed = None
    if snapshot is not None and snapshot.drop_months:
        gap = max(0.0, snapshot.baseline_rate - snapshot.recent_rate)
        missed = round(gap * snapshot.drop_months)
    return {
        "office": office,
        "as_of": as_of,
        "snap": snapshot,
        "missed_cases": missed,
        "history": history,
        "funnel": history.funnel,
        "figure": chart_figure(history, snapshot),
        "show_revenue": can_see_revenue(request),
        **alerts_context(request, office),
        **outreach_context(request, office, outreach_form),
    }


@practice_required(Action.VIEW_REFERRERS)
def referrer_detail(request, office_id: int):
    office = get_office(office_id)
    return render(request, "analytics/detail/detail.html", detail_context(request, office))


ALERT_ACTIONS = ("acknowledge", "snooze", "resolve", "assign")


def _apply_alert_action(request, alert: Alert, action: str) -> None:
    """Run the alert service for ``action``; raises ValidationError with field messages."""
    user = request.user
    if action == "acknowledge":
        alert_services.acknowledge(alert, by=user)
    elif action == "snooze":
        form = SnoozeForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        alert_services.snooze(alert, until=form.cleaned_data["until"], by=user)
    elif action == "resolve":
        form = ResolveForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        alert_services.resolve(alert, by=user, note=form.cleaned_data["note"])
    else:
        form = AssignForm(request.POST, practice=request.practice)
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        alert_services.assign(alert, owner=form.cleaned_data["owner"])


def _form_errors(form) -> dict[str, list[str]]:
    return {field: [str(e) for e in errs] for field, errs in form.errors.items()}


DONE_MESSAGES = {
    "acknowledge": "Alert acknowledged.",
    "snooze": "Alert snoozed.",
    "resolve": "Alert resolved.",
    "assign": "Owner assigned.",
}


@require_POST
@working_required
def referrer_alert_action(request, office_id: int, alert_id: int, action: str):
    office = get_office(office_id)
    alert = get_object_or_404(Alert, pk=alert_id, office=office)
    if action not in ALERT_ACTIONS:
        return HttpResponse("Unknown action.", status=404)
    errors = {}
    try:
        with transaction.atomic():
            _apply_alert_action(request, alert, action)
    except ValidationError as exc:
        messages_by_field = (
            exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        )
        errors = {alert.pk: messages_by_field}
    if request.htmx:
        context = alerts_context(request, office, errors)
        context["alert_done"] = None if errors else (alert.pk, DONE_MESSAGES[action])
        return render(request, "analytics/detail/_alerts.html", context)
    if errors:
        for field_messages in errors[alert.pk].values():
            for message in field_messages:
                messages.error(request, message)
    else:
        messages.success(request, DONE_MESSAGES[action])
    return redirect(reverse("referrer_detail", args=[office.pk]) + "#alerts")


urlpatterns = [
    path("referrers/health/", referrer_board, name="referrer_board"),
    path("referrers/health/recompute/", referrer_recompute, name="referrer_recompute"),
    path("referrers/health/<int:office_id>/", referrer_detail, name="referrer_detail"),
    path(
        "referrers/health/<int:office_id>/alerts/<int:alert_id>/<slug:action>/",
        referrer_alert_action,
        name="referrer_alert_action",
    ),
]
