"""The monthly referrer review: who is referring and who is not, from the latest nightly
snapshot; the offices that are new, declining, inactive or lost with the reason the
nightly job gave; and the month's top referrers from the monthly rollups.

Four queries whatever the number of offices.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Q, Sum

from referrals.models import Referral

from ..choices import ReferrerStatus
from ..models import MonthlyRollup, ReferrerSnapshot
from .filters import add_months, month_label
from .tables import Column, Kind, Row, Table

STATUS_ORDER = [
    ReferrerStatus.NEW,
    ReferrerStatus.ACTIVE,
    ReferrerStatus.DECLINING,
    ReferrerStatus.INACTIVE,
    ReferrerStatus.LOST,
]
REFERRING = (ReferrerStatus.NEW, ReferrerStatus.ACTIVE, ReferrerStatus.DECLINING)
NOT_REFERRING = (ReferrerStatus.INACTIVE, ReferrerStatus.LOST)
LISTED = [
    ReferrerStatus.NEW,
    ReferrerStatus.DECLINING,
    ReferrerStatus.INACTIVE,
    ReferrerStatus.LOST,
]
LIST_LIMIT = 25
TOP_REFERRERS = 10


@dataclass(frozen=True)
class ListedOffice:
    name: str
    status: str
    reason: str
    count_90: int
    last_referral_on: dt.date | None
    first_referral_on: dt.date | None
    revenue_at_risk: Decimal


@dataclass(frozen=True)
class TopReferrer:
    name: str
    month: int  # referrals in the reviewed month
    year: int  # referrals in the 12 months ending with it


@dataclass
class MonthlyReview:
    month: dt.date  # the first day of the reviewed month
    as_of: dt.date | None  # the snapshot the statuses come from
    counts: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[ListedOffice]] = field(default_factory=dict)
    totals_listed: dict[str, int] = field(default_factory=dict)
    top: list[TopReferrer] = field(default_factory=list)
    referrals: int = 0  # received in the month, every source

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"

    @property
    def referring(self) -> int:
        return sum(self.counts.get(s, 0) for s in REFERRING)

    @property
    def not_referring(self) -> int:
        return sum(self.counts.get(s, 0) for s in NOT_REFERRING)

    def more(self, status: str) -> int:
        return self.totals_listed.get(status, 0) - len(self.lists.get(status, []))


def _list_order(status: str):
    if status == ReferrerStatus.DECLINING:
        return lambda o: (-o.revenue_at_risk, o.name.lower())
    if status == ReferrerStatus.NEW:
        return lambda o: (-(o.first_referral_on or dt.date.min).toordinal(), o.name.lower())
    return lambda o: (-(o.last_referral_on or dt.date.min).toordinal(), o.name.lower())


def monthly_review(month: dt.date, today: dt.date) -> MonthlyReview:
    """The review of ``month`` with the statuses of the latest snapshot up to ``today``."""
    as_of = ReferrerSnapshot.objects.filter(as_of__lte=today).aggregate(day=Max("as_of"))["day"]
    review = MonthlyReview(month=month, as_of=as_of)
    end = add_months(month, 1)
    review.referrals = Referral.objects.filter(received_on__gte=month, received_on__lt=end).count()
    if as_of is not None:
        # An office archived since the run is no longer a referrer to watch.
        current = ReferrerSnapshot.objects.filter(as_of=as_of, office__is_archived=False)
        review.counts = dict(
            current.values_list("status").annotate(n=Count("id")).order_by("status")
        )
        rows = current.filter(status__in=LISTED).values_list(
            "office__name",
            "status",
            "reason",
            "count_90",
            "last_referral_on",
            "first_referral_on",
            "revenue_at_risk",
        )
        listed: dict[str, list[ListedOffice]] = {s: [] for s in LISTED}
        for row in rows:
            listed[row[1]].append(ListedOffice(*row))
        for status, offices in listed.items():
            offices.sort(key=_list_order(status))
            review.totals_listed[status] = len(offices)
            review.lists[status] = offices[:LIST_LIMIT]
    year_start = add_months(month, -11)
    top = (
        MonthlyRollup.objects.filter(month__gte=year_start, month__lte=month)
        .values("office_id", "office__name")
        .annotate(in_month=Sum("referrals", filter=Q(month=month)), in_year=Sum("referrals"))
        .filter(in_month__gt=0)
        .order_by("-in_month", "-in_year", "office__name")[:TOP_REFERRERS]
    )
    review.top = [TopReferrer(r["office__name"], r["in_month"], r["in_year"]) for r in top]
    return review


# --- presentation ------------------------------------------------------------------------

LIST_TITLES = {
    ReferrerStatus.NEW: "New referrers",
    ReferrerStatus.DECLINING: "Declining referrers",
    ReferrerStatus.INACTIVE: "Inactive: no referral in the last 90 days",
    ReferrerStatus.LOST: "Lost: no referral in over 12 months",
}


def review_tables(review: MonthlyReview) -> list[Table]:
    tables = [
        Table(
            title=f"Top referrers in {review.label}",
            columns=[
                Column("Referring office", Kind.TEXT),
                Column(month_label(review.month)),
                Column(f"12 months to {month_label(review.month)}"),
            ],
            rows=[Row([t.name, t.month, t.year]) for t in review.top],
            empty="No referrals from referring offices this month.",
            testid="review-top",
        )
    ]
    for status in LISTED:
        offices = review.lists.get(status, [])
        columns = [Column("Office", Kind.TEXT)]
        if status == ReferrerStatus.NEW:
            columns.append(Column("First referral", Kind.DATE))
        else:
            columns.append(Column("Last referral", Kind.DATE))
        columns.append(Column("Last 90 days"))
        if status == ReferrerStatus.DECLINING:
            columns.append(Column("Revenue at risk", Kind.MONEY))
        columns.append(Column("Why", Kind.TEXT))
        rows = []
        for o in offices:
            day = o.first_referral_on if status == ReferrerStatus.NEW else o.last_referral_on
            cells = [o.name, day, o.count_90]
            if status == ReferrerStatus.DECLINING:
                cells.append(o.revenue_at_risk)
            cells.append(o.reason)
            rows.append(Row(cells))
        more = review.more(status)
        tables.append(
            Table(
                title=f"{LIST_TITLES[status]} ({review.totals_listed.get(status, 0)})",
                columns=columns,
                rows=rows,
                notes=[f"And {more} more: see the referrer board."] if more > 0 else [],
                empty="None.",
                testid=f"review-{status}",
            )
        )
    return tables


def status_tiles(review: MonthlyReview) -> list[dict]:
    labels = dict(ReferrerStatus.choices)
    return [
        {"status": s, "label": labels[s], "count": review.counts.get(s, 0)} for s in STATUS_ORDER
    ]
