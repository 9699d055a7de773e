"""The alerts inbox: every alert of the practice by state, filtered by kind and owner, and
the actions that work them (acknowledge, assign, snooze, resolve; bulk acknowledge).

One URL serves the page and, for htmx, the inbox fragment. Every action is a plain POST
form that htmx enhances: without JavaScript it redirects back to the same tab (or shows
the page again with the field error); with htmx it answers with the refreshed inbox and
the navigation count. State changes go through the services in ``alerts/services.py``.
Everyone in the practice sees the inbox; the people who own GP relationships work it.
"""

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.views.decorators.http import require_POST

from alerts import services as alert_services
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from practices.access import Action, can
from practices.models import settings_for
from practices.permissions import practice_required

from ..forms import (
    AssignForm,
    ResolveForm,
    SnoozeForm,
    display_name,
    working_members,
)
from ..inbox import OWNER_FILTERS, InboxFilter, inbox_alerts, tab_counts

PER_PAGE = 50
SNOOZE_DEFAULT = dt.timedelta(days=7)
ACTIONS = ("acknowledge", "assign", "snooze", "resolve")
DONE = {
    "acknowledge": "Acknowledged: {title}.",
    "assign": "{owner} now owns “{title}”.",
    "snooze": "Snoozed until {until}: {title}.",
    "resolve": "Resolved: {title}.",
}
STATE_HELP = {
    AlertState.OPEN: "Nobody has looked at these yet.",
    AlertState.ACKNOWLEDGED: "Someone is on it.",
    AlertState.SNOOZED: "Out of sight until their date; they reopen on the morning of that day.",
    AlertState.RESOLVED: "Done, with a note saying how.",
}

working_required = practice_required(Action.WORK_ALERTS)


def can_work(request) -> bool:
    return can(request, Action.WORK_ALERTS)


def _office_route() -> str:
    """The referrer-health page of an office when that page exists, else the office page."""
    try:
        reverse("referrer_detail", args=[0])
    except NoReverseMatch:
        return "office_detail"
    return "referrer_detail"


def inbox_context(request, flt: InboxFilter, *, failed: dict | None = None) -> dict:
    working = can_work(request)
    page = Paginator(inbox_alerts(flt, request.user), PER_PAGE).get_page(flt.page)
    counts = tab_counts(flt, request.user)
    # Only the people who may act get the owner menu (and pay for its query).
    members = list(working_members(request.practice)) if working else []
    tabs = [
        {
            "state": state,
            "label": label,
            "count": counts.by_state[state],
            "query": flt.query_string(state=state),
            "active": state == flt.state,
        }
        for state, label in AlertState.choices
    ]
    kinds = [
        {
            "kind": "",
            "label": "All kinds",
            "count": sum(counts.by_kind.values()),
            "query": flt.query_string(kind=""),
            "active": not flt.kind,
        }
    ] + [
        {
            "kind": kind,
            "label": label,
            "count": counts.by_kind[kind],
            "query": flt.query_string(kind=kind),
            "active": kind == flt.kind,
        }
        for kind, label in AlertKind.choices
    ]
    owners = [
        {
            "key": key,
            "label": label,
            "query": flt.query_string(owner=key),
            "active": key == flt.owner,
        }
        for key, label in OWNER_FILTERS.items()
    ]
    today = timezone.localdate()
    return {
        "flt": flt,
        "filter_query": flt.query_string(),
        "page": page,
        "prev_query": flt.query_string(page=page.previous_page_number())
        if page.has_previous()
        else "",
        "next_query": flt.query_string(page=page.next_page_number()) if page.has_next() else "",
        "alerts": page.object_list,
        "tabs": tabs,
        "kinds": kinds,
        "owners": owners,
        "state_help": STATE_HELP[flt.state],
        "state_label": AlertState(flt.state).label.lower(),
        "can_work": working,
        "members": [(m.pk, display_name(m)) for m in members],
        "me_default": request.user.pk if any(m.pk == request.user.pk for m in members) else None,
        "office_route": _office_route(),
        "today": today,
        "snooze_default": today + SNOOZE_DEFAULT,
        "failed": failed or {},
        "nightly_hour": settings_for(request.practice).nightly_hour,
        "can_change_settings": can(request, Action.SETTINGS),
    }


def _render(request, flt: InboxFilter, *, failed=None, done=None, status=200) -> HttpResponse:
    context = inbox_context(request, flt, failed=failed)
    context["done"] = done
    if request.htmx and not request.htmx.boosted:
        context["refresh_nav_count"] = request.method == "POST"
        response = render(request, "analytics/alerts/_inbox.html", context, status=status)
    else:
        response = render(request, "analytics/alerts/inbox.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@practice_required(Action.VIEW_ALERTS)
def alert_inbox(request):
    return _render(request, InboxFilter.from_query(request.GET))


def _returning_filter(request) -> InboxFilter:
    """The tab the action was taken from, carried in a hidden field (a query string, never
    a URL, so it cannot redirect anywhere else)."""
    return InboxFilter.from_query(QueryDict(request.POST.get("filter", "").lstrip("?")))


def _apply(request, alert: Alert, action: str) -> str:
    """Run the service for ``action``; the confirmation on success. Raises ValidationError
    with field messages."""
    user = request.user
    if action == "acknowledge":
        alert = alert_services.acknowledge(alert, by=user)
        return DONE[action].format(title=alert.title)
    if action == "snooze":
        form = SnoozeForm(request.POST)
        if not form.is_valid():
            if not request.POST.get("until", "").strip():
                raise ValidationError({"until": "Choose the day the alert should come back."})
            raise ValidationError(_messages(form))
        alert = alert_services.snooze(alert, until=form.cleaned_data["until"], by=user)
        until = date_format(alert.snoozed_until, "M j, Y")
        return DONE[action].format(title=alert.title, until=until)
    if action == "resolve":
        form = ResolveForm(request.POST)
        if not form.is_valid():
            if not request.POST.get("note", "").strip():
                raise ValidationError({"note": "Say how it was resolved."})
            raise ValidationError(_messages(form))
        alert = alert_services.resolve(alert, by=user, note=form.cleaned_data["note"])
        return DONE[action].format(title=alert.title)
    form = AssignForm(request.POST, practice=request.practice)
    if not form.is_valid():
        raise ValidationError({"owner": "Choose a person of this practice who works alerts."})
    alert = alert_services.assign(alert, owner=form.cleaned_data["owner"])
    return DONE[action].format(title=alert.title, owner=display_name(alert.owner))


def _messages(form) -> dict[str, list[str]]:
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


@require_POST
@working_required
def alert_action(request, alert_id: int, action: str):
    if action not in ACTIONS:
        raise Http404("No such action.")
    # Inside the request's practice scope: another practice's alert is a 404.
    alert = get_object_or_404(Alert, pk=alert_id)
    flt = _returning_filter(request)
    try:
        with transaction.atomic():
            done = _apply(request, alert, action)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"general": exc.messages}
        # Templates cannot read "__all__" (a leading underscore): call it "general".
        fields["general"] = fields.pop("__all__", []) + fields.get("general", [])
        failed = {"alert": alert.pk, "action": action, "fields": fields, "post": request.POST}
        if request.htmx:
            return _render(request, flt, failed=failed)
        return _render(request, flt, failed=failed, status=400)
    if request.htmx:
        return _render(request, flt, done=done)
    messages.success(request, done)
    return redirect(reverse("alert_inbox") + flt.query_string())


@require_POST
@working_required
def alert_bulk_acknowledge(request):
    flt = _returning_filter(request)
    ids = [int(v) for v in request.POST.getlist("alert") if v.isdigit()]
    with transaction.atomic():
        # Scoped: ids of another practice's alerts match nothing here.
        chosen = list(Alert.objects.filter(pk__in=ids, state=AlertState.OPEN).order_by("pk"))
        for alert in chosen:
            alert_services.acknowledge(alert, by=request.user)
    if chosen:
        done = f"Acknowledged {len(chosen)} alert{'s' if len(chosen) != 1 else ''}."
    else:
        done = "Tick the open alerts to acknowledge first."
    if request.htmx:
        return _render(request, flt, done=done)
    (messages.success if chosen else messages.info)(request, done)
    return redirect(reverse("alert_inbox") + flt.query_string())


urlpatterns = [
    path("alerts/", alert_inbox, name="alert_inbox"),
    path("alerts/acknowledge/", alert_bulk_acknowledge, name="alert_bulk_acknowledge"),
    path("alerts/<int:alert_id>/<slug:action>/", alert_action, name="alert_action"),
]
