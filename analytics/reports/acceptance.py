"""Case acceptance by referring office and by source type over the range.

Each figure counts the (non-void) milestone in the month it happened, as the rollups do:
consults completed, treatment accepted and declined, surgeries completed and their
production. Acceptance = accepted / (accepted + declined). One GROUP BY over the events
joined to their referral (for the office, source and case type).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum

from referrals.choices import MilestoneKind, SourceType
from referrals.models import MilestoneEvent

from .filters import ReportFilters
from .tables import Column, Kind, Row, Table

COUNTED = {
    MilestoneKind.CONSULT_COMPLETED: "consults",
    MilestoneKind.TREATMENT_ACCEPTED: "accepted",
    MilestoneKind.TREATMENT_DECLINED: "declined",
    MilestoneKind.SURGERY_COMPLETED: "surgeries",
}
SOURCE_TYPES = dict(SourceType.choices)


@dataclass
class AcceptanceLine:
    label: str
    office_id: int | None = None
    consults: int = 0
    accepted: int = 0
    declined: int = 0
    surgeries: int = 0
    production: Decimal = field(default_factory=lambda: Decimal("0.00"))

    @property
    def rate(self) -> float | None:
        decided = self.accepted + self.declined
        return self.accepted / decided if decided else None

    def add(self, kind: str, n: int, production: Decimal | None) -> None:
        attribute = COUNTED[kind]
        setattr(self, attribute, getattr(self, attribute) + n)
        if production:
            self.production += production

    @property
    def is_empty(self) -> bool:
        return not (self.consults or self.accepted or self.declined or self.surgeries)


@dataclass
class AcceptanceReport:
    filters: ReportFilters
    offices: list[AcceptanceLine]
    sources: list[AcceptanceLine]
    total: AcceptanceLine

    def office(self, label: str) -> AcceptanceLine:
        return next(line for line in self.offices if line.label == label)

    def source(self, source_type: str) -> AcceptanceLine:
        label = SOURCE_TYPES[source_type]
        return next(line for line in self.sources if line.label == label)


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


def case_acceptance(filters: ReportFilters, zone: ZoneInfo) -> AcceptanceReport:
    rows = (
        MilestoneEvent.objects.filter(
            filters.referral_q("referral__"),
            voided_at__isnull=True,
            kind__in=list(COUNTED),
            # The practice's calendar months, not UTC's.
            occurred_at__gte=local_midnight(filters.start, zone),
            occurred_at__lt=local_midnight(filters.end, zone),
        )
        .values(
            "referral__referring_office_id",
            "referral__referring_office__name",
            "referral__source_type",
            "kind",
        )
        .annotate(n=Count("id"), production=Sum("production"))
        .order_by()
    )
    offices: dict[int, AcceptanceLine] = {}
    sources: dict[str, AcceptanceLine] = {}
    total = AcceptanceLine("Total")
    for row in rows:
        kind, n, production = row["kind"], row["n"], row["production"]
        office_id = row["referral__referring_office_id"]
        if office_id is not None:
            line = offices.get(office_id)
            if line is None:
                name = row["referral__referring_office__name"]
                line = offices[office_id] = AcceptanceLine(name, office_id)
            line.add(kind, n, production)
        source = row["referral__source_type"]
        if source not in sources:
            sources[source] = AcceptanceLine(SOURCE_TYPES.get(source, source))
        sources[source].add(kind, n, production)
        total.add(kind, n, production)

    def order(line: AcceptanceLine):
        return (-line.consults, -line.accepted, line.label.lower(), line.office_id or 0)

    source_order = list(SOURCE_TYPES)
    return AcceptanceReport(
        filters=filters,
        offices=sorted(offices.values(), key=order),
        sources=[sources[s] for s in sorted(sources, key=source_order.index)],
        total=total,
    )


# --- presentation ------------------------------------------------------------------------

FIGURE_COLUMNS = [
    Column("Consults completed"),
    Column("Accepted"),
    Column("Declined"),
    Column("Acceptance", Kind.RATE, title="accepted / (accepted + declined)"),
    Column("Surgeries completed"),
    Column("Production", Kind.MONEY),
]


def figures(line: AcceptanceLine) -> list:
    return [
        line.consults,
        line.accepted,
        line.declined,
        line.rate,
        line.surgeries,
        line.production,
    ]


def acceptance_tables(report: AcceptanceReport) -> list[Table]:
    total = [Row(["Total", *figures(report.total)], "total")] if not report.total.is_empty else []
    note = (
        "Each step counts in the month it happened; acceptance = accepted / (accepted + declined)."
    )
    return [
        Table(
            title="By referring office",
            columns=[Column("Referring office", Kind.TEXT), *FIGURE_COLUMNS],
            rows=[Row([line.label, *figures(line)]) for line in report.offices],
            empty="No consults, decisions or surgeries from referring offices in this range.",
            testid="acceptance-offices",
        ),
        Table(
            title="By source type",
            columns=[Column("Source", Kind.TEXT), *FIGURE_COLUMNS],
            rows=[Row([line.label, *figures(line)]) for line in report.sources],
            totals=total,
            notes=[note],
            empty="No consults, decisions or surgeries in this range.",
            testid="acceptance-sources",
        ),
    ]


def acceptance_csv(report: AcceptanceReport, money: bool = True) -> tuple[list[str], list[list]]:
    header = [
        "Grouping",
        "Referrer or source",
        "Consults completed",
        "Accepted",
        "Declined",
        "Acceptance rate (%)",
        "Surgeries completed",
    ]
    if money:
        header.append("Production")
    lines = []
    groups = [("Referring office", report.offices), ("Source type", report.sources)]
    for grouping, group in groups:
        for line in group:
            lines.append(_csv_line(grouping, line, money))
    lines.append(_csv_line("Total", report.total, money))
    return header, lines


def _csv_line(grouping: str, line: AcceptanceLine, money: bool) -> list:
    cells = [
        grouping,
        line.label,
        line.consults,
        line.accepted,
        line.declined,
        None if line.rate is None else line.rate * 100,
        line.surgeries,
    ]
    if money:
        cells.append(line.production)
    return cells
