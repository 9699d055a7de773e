"""Read-only queries behind the referrer-health pages and the scores API.

Pages read the nightly snapshots (one row per office and day) and, for one office, at most
three years of monthly rollups: never the raw referrals. So every page costs a fixed
number of queries, whatever the number of offices or the years of history.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, NullIf

from alerts.models import Alert
from alerts.services import UNRESOLVED
from referrals.models import ReferringOffice

from .choices import ReferrerStatus
from .models import MonthlyRollup, OutreachLog, ReferrerSnapshot

# Worst first: the order of the status column when sorted, and of the board's tabs.
STATUS_SEVERITY = [
    ReferrerStatus.DECLINING,
    ReferrerStatus.INACTIVE,
    ReferrerStatus.LOST,
    ReferrerStatus.NEW,
    ReferrerStatus.ACTIVE,
    ReferrerStatus.PROSPECT,
]
BOARD_TABS = [
    ReferrerStatus.NEW,
    ReferrerStatus.ACTIVE,
    ReferrerStatus.DECLINING,
    ReferrerStatus.INACTIVE,
    ReferrerStatus.LOST,
]
CHART_MONTHS = 24
RESOLVED_ALERTS_SHOWN = 10
OUTREACH_SHOWN = 50


def latest_as_of() -> dt.date | None:
    """The practice's most recent snapshot date (the scope picks the practice)."""
    return ReferrerSnapshot.objects.aggregate(day=Max("as_of"))["day"]


def current_snapshots(as_of: dt.date) -> QuerySet[ReferrerSnapshot]:
    # An office archived since the run is no longer a referrer to watch.
    return ReferrerSnapshot.objects.filter(as_of=as_of, office__is_archived=False)


def practice_slowdown_note(as_of: dt.date) -> str:
    """The practice-wide slowdown sentence of the run of ``as_of`` ("" when none)."""
    return (
        ReferrerSnapshot.objects.filter(as_of=as_of)
        .exclude(practice_evidence="")
        .values_list("practice_evidence", flat=True)
        .first()
        or ""
    )


def search_by_office_name(snapshots: QuerySet, query: str) -> QuerySet:
    for term in query.split():
        snapshots = snapshots.filter(office__name__icontains=term)
    return snapshots


# --- the board ---------------------------------------------------------------------------


@dataclass
class StatusTally:
    offices: int = 0
    revenue_at_risk: Decimal = Decimal("0")
    count_30: int = 0
    count_60: int = 0
    count_90: int = 0


@dataclass
class BoardSummary:
    by_status: dict[str, StatusTally] = field(default_factory=dict)
    computed_at: dt.datetime | None = None

    def tally(self, *statuses: str) -> StatusTally:
        """The sum over ``statuses``, or over every status when none is given."""
        total = StatusTally()
        for status, tally in self.by_status.items():
            if statuses and status not in statuses:
                continue
            total.offices += tally.offices
            total.revenue_at_risk += tally.revenue_at_risk
            total.count_30 += tally.count_30
            total.count_60 += tally.count_60
            total.count_90 += tally.count_90
        return total


def board_summary(snapshots: QuerySet) -> BoardSummary:
    """Offices, money at risk and recent referrals per status, in one GROUP BY."""
    rows = (
        snapshots.values("status")
        .annotate(
            offices=Count("id"),
            risk=Sum("revenue_at_risk"),
            c30=Sum("count_30"),
            c60=Sum("count_60"),
            c90=Sum("count_90"),
            computed=Max("computed_at"),
        )
        .order_by()
    )
    summary = BoardSummary()
    for row in rows:
        summary.by_status[row["status"]] = StatusTally(
            offices=row["offices"],
            revenue_at_risk=row["risk"] or Decimal("0"),
            count_30=row["c30"] or 0,
            count_60=row["c60"] or 0,
            count_90=row["c90"] or 0,
        )
        computed = row["computed"]
        if computed and (summary.computed_at is None or computed > summary.computed_at):
            summary.computed_at = computed
    return summary


def _severity() -> Case:
    return Case(
        *[When(status=s, then=Value(i)) for i, s in enumerate(STATUS_SEVERITY)],
        default=Value(len(STATUS_SEVERITY)),
        output_field=IntegerField(),
    )


def _acceptance() -> F:
    # NULL when nothing was decided: "no data" sorts after every real rate.
    decided = NullIf(F("accepted_12") + F("declined_12"), 0)
    return Cast("accepted_12", FloatField()) / Cast(decided, FloatField())


# key -> (label, the column or annotation it orders by); "-" before a key sorts descending.
BOARD_SORTS = {
    "office": ("Office", "office__name"),
    "status": ("Status", "severity"),
    "c30": ("30 days", "count_30"),
    "c60": ("60 days", "count_60"),
    "c90": ("90 days", "count_90"),
    "last": ("Last referral", "last_referral_on"),
    "acceptance": ("Case acceptance", "acceptance"),
    "risk": ("Revenue at risk", "revenue_at_risk"),
    "priority": ("Needs attention", "priority"),
}
MONEY_SORTS = frozenset({"risk"})


def board_rows(snapshots: QuerySet, sort: str) -> QuerySet[ReferrerSnapshot]:
    """The snapshots sorted by ``sort`` (a BOARD_SORTS key, "-" for descending; empty
    values last either way), ties by office name. Only the columns the board shows are
    read."""
    column = F(BOARD_SORTS[sort.lstrip("-")][1])
    order = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_last=True)
    return (
        snapshots.select_related("office")
        .only(
            "office__name",
            "status",
            "count_30",
            "count_60",
            "count_90",
            "monthly_counts",
            "last_referral_on",
            "accepted_12",
            "declined_12",
            "revenue_at_risk",
            "priority",
            "reason",
            "evidence",
            "as_of",
        )
        .annotate(severity=_severity(), acceptance=_acceptance())
        .order_by(order, "office__name", "office_id")
    )


# --- one office --------------------------------------------------------------------------


@dataclass
class Funnel:
    referred: int = 0
    consults_completed: int = 0
    accepted: int = 0
    declined: int = 0
    surgeries_completed: int = 0
    production: Decimal = Decimal("0")

    @property
    def case_acceptance(self) -> float | None:
        decided = self.accepted + self.declined
        return self.accepted / decided if decided else None

    def steps(self) -> list[tuple[str, int, float | None]]:
        """(label, count, share of referred) for each step of the journey."""
        first = self.referred

        def share(n: int) -> float | None:
            return n / first if first else None

        return [
            ("Referred", self.referred, share(self.referred)),
            ("Consult completed", self.consults_completed, share(self.consults_completed)),
            ("Treatment accepted", self.accepted, share(self.accepted)),
            ("Surgery completed", self.surgeries_completed, share(self.surgeries_completed)),
        ]


@dataclass
class OfficeHistory:
    """An office's months up to (not including) the as-of month, from the rollups."""

    months: list[dt.date]  # CHART_MONTHS full months, oldest first
    counts: list[int | None]  # None before the office's first referral
    last_year: list[int | None]  # the same months a year earlier
    funnel: Funnel  # the last 12 of those months


def office_history(office: ReferringOffice, as_of: dt.date) -> OfficeHistory:
    """One query over at most 36 rollup rows, however long the office has referred."""
    current = as_of.replace(day=1)
    first = current - relativedelta(months=CHART_MONTHS + 12)
    rows = {
        r.month: r
        for r in MonthlyRollup.objects.filter(office=office, month__gte=first, month__lt=current)
    }
    months = [current - relativedelta(months=CHART_MONTHS - i) for i in range(CHART_MONTHS)]

    # Before its first referral an office was not a referrer sending zero: no point at all.
    first_referral = office.first_referral_on.replace(day=1) if office.first_referral_on else None

    def referrals(month: dt.date) -> int | None:
        if first_referral is None or month < first_referral:
            return None
        row = rows.get(month)
        return row.referrals if row else 0

    funnel = Funnel()
    for month in months[-12:]:
        row = rows.get(month)
        if row is None:
            continue
        funnel.referred += row.referrals
        funnel.consults_completed += row.consults_completed
        funnel.accepted += row.accepted
        funnel.declined += row.declined
        funnel.surgeries_completed += row.surgeries_completed
        funnel.production += row.production
    return OfficeHistory(
        months=months,
        counts=[referrals(m) for m in months],
        last_year=[referrals(m - relativedelta(years=1)) for m in months],
        funnel=funnel,
    )


def office_snapshot(office: ReferringOffice, as_of: dt.date | None) -> ReferrerSnapshot | None:
    if as_of is None:
        return None
    return ReferrerSnapshot.objects.filter(office=office, as_of=as_of).first()


def office_alerts(office: ReferringOffice) -> tuple[list[Alert], list[Alert]]:
    """(unresolved, recently resolved) alerts of an office. Unresolved ones are at most one
    per kind; resolved ones are capped, so the page stays the same size over the years."""
    people = ("owner", "acknowledged_by", "resolved_by")
    alerts = Alert.objects.filter(office=office).select_related(*people)
    unresolved = list(alerts.filter(state__in=UNRESOLVED).order_by("-opened_on", "-id"))
    resolved = list(
        alerts.exclude(state__in=UNRESOLVED).order_by("-resolved_at", "-id")[:RESOLVED_ALERTS_SHOWN]
    )
    return unresolved, resolved


def office_outreach(office: ReferringOffice) -> list[OutreachLog]:
    return list(
        OutreachLog.objects.filter(office=office)
        .select_related("by")
        .order_by("-occurred_on", "-id")[:OUTREACH_SHOWN]
    )


# --- the outreach plan -------------------------------------------------------------------


def outreach_plan(snapshots: QuerySet, *, everyone: bool) -> QuerySet[ReferrerSnapshot]:
    """Offices by outreach priority, each with its latest contact, in one query.

    Offices that never referred, and active offices with nothing to win back (priority 0),
    are left out unless ``everyone``. The follow-up shown is the one set by the latest
    contact: a later contact replaces it.
    """
    if not everyone:
        snapshots = snapshots.exclude(status=ReferrerStatus.PROSPECT).exclude(
            Q(status=ReferrerStatus.ACTIVE) & Q(priority__lte=0)
        )
    latest = OutreachLog.objects.filter(office=OuterRef("office_id")).order_by(
        "-occurred_on", "-id"
    )
    return (
        snapshots.select_related("office")
        .only(
            "office__name",
            "status",
            "reason",
            "revenue_at_risk",
            "priority",
            "last_referral_on",
            "as_of",
        )
        .annotate(
            last_outreach_kind=Subquery(latest.values("kind")[:1]),
            last_outreach_on=Subquery(latest.values("occurred_on")[:1]),
            last_outreach_outcome=Subquery(latest.values("outcome")[:1]),
            follow_up_on=Subquery(latest.values("follow_up_on")[:1]),
        )
        .order_by("-priority", "office__name", "office_id")
    )
