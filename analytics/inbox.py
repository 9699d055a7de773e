"""Read-only queries of the alerts inbox: filters, tab and kind counts, the navigation count.

Every query runs inside the caller's practice scope (Alert has a scoped manager), so counts
and lists are the current practice's only.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Count, QuerySet

from alerts.choices import AlertKind, AlertState
from alerts.models import Alert

# What still needs a person: the navigation count. Snoozed alerts are out of sight until
# their date; resolved ones are done.
NEEDS_ATTENTION = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
STATES = tuple(AlertState.values)
KINDS = tuple(AlertKind.values)
OWNER_FILTERS = {"": "Anyone", "mine": "Mine", "unassigned": "Unassigned"}


@dataclass(frozen=True)
class InboxFilter:
    """The inbox's query string, parsed; unknown values fall back to the defaults."""

    state: str = AlertState.OPEN
    kind: str = ""
    owner: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params) -> "InboxFilter":
        state = params.get("state", "")
        kind = params.get("kind", "")
        owner = params.get("owner", "")
        try:
            page = max(1, int(params.get("page", 1)))
        except (TypeError, ValueError):
            page = 1
        return cls(
            state=state if state in STATES else AlertState.OPEN,
            kind=kind if kind in KINDS else "",
            owner=owner if owner in OWNER_FILTERS else "",
            page=page,
        )

    def query_string(self, **changes) -> str:
        """``?state=…&kind=…`` with only the values that differ from the defaults."""
        values = {"state": self.state, "kind": self.kind, "owner": self.owner, "page": self.page}
        values.update(changes)
        if "page" not in changes and ({"state", "kind", "owner"} & changes.keys()):
            values["page"] = 1  # a new filter starts on its first page
        defaults = {"state": AlertState.OPEN, "kind": "", "owner": "", "page": 1}
        wanted = {k: v for k, v in values.items() if v != defaults[k]}
        return f"?{urlencode(wanted)}" if wanted else ""


@dataclass
class TabCounts:
    by_state: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)


def _owned(qs: QuerySet, owner: str, user) -> QuerySet:
    if owner == "mine":
        return qs.filter(owner=user)
    if owner == "unassigned":
        return qs.filter(owner__isnull=True)
    return qs


def tab_counts(flt: InboxFilter, user) -> TabCounts:
    """Counts for the state tabs (under the kind and owner filters) and for the kind filter
    (under the state and owner filters): two GROUP BY queries."""
    owned = _owned(Alert.objects.all(), flt.owner, user)
    states = owned.filter(kind=flt.kind) if flt.kind else owned
    by_state = dict(states.values_list("state").annotate(n=Count("id")).order_by())
    by_kind = dict(
        owned.filter(state=flt.state).values_list("kind").annotate(n=Count("id")).order_by()
    )
    return TabCounts(
        by_state={s: by_state.get(s, 0) for s in STATES},
        by_kind={k: by_kind.get(k, 0) for k in KINDS},
    )


def inbox_alerts(flt: InboxFilter, user) -> QuerySet:
    """The alerts of one tab, newest first (resolved: most recently resolved first)."""
    qs = _owned(Alert.objects.filter(state=flt.state), flt.owner, user)
    if flt.kind:
        qs = qs.filter(kind=flt.kind)
    if flt.state == AlertState.RESOLVED:
        qs = qs.order_by("-resolved_at", "-id")
    elif flt.state == AlertState.SNOOZED:
        qs = qs.order_by("snoozed_until", "-id")
    else:
        qs = qs.order_by("-opened_on", "-id")
    return qs.select_related("office", "owner", "acknowledged_by", "resolved_by")


def attention_count() -> int:
    """Open and acknowledged alerts of the current practice: the navigation badge."""
    return Alert.objects.filter(state__in=NEEDS_ATTENTION).count()
