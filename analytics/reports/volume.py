"""Referral volume: referrals received per referrer and period (optionally per case type).

Rows are the referring offices, then the referrals without an office grouped by source
type (self-referrals, website, ...); columns are the months, quarters or years of the
range. One GROUP BY over the referrals table: the rollups have neither source nor case
type, which this report filters and breaks down by.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count
from django.db.models.functions import TruncMonth, TruncQuarter, TruncYear

from referrals.choices import CaseType, SourceType

from .filters import Period, PeriodColumn, ReportFilters
from .tables import Column, Kind, Row, Table

TRUNC = {Period.MONTH: TruncMonth, Period.QUARTER: TruncQuarter, Period.YEAR: TruncYear}
CASE_TYPES = dict(CaseType.choices)
SOURCE_TYPES = dict(SourceType.choices)


def as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


@dataclass
class VolumeLine:
    label: str
    source: str  # the source type(s), in words
    office_id: int | None = None
    case_type: str = ""  # set on the lines of a case-type breakdown
    counts: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    case_types: list["VolumeLine"] = field(default_factory=list)
    source_types: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def per_period(self, periods: list[PeriodColumn]) -> list[int]:
        return [self.counts.get(p.start, 0) for p in periods]


@dataclass
class VolumeReport:
    filters: ReportFilters
    periods: list[PeriodColumn]
    offices: list[VolumeLine]
    sources: list[VolumeLine]  # referrals without an office, by source type

    @property
    def lines(self) -> list[VolumeLine]:
        return [*self.offices, *self.sources]

    @property
    def totals(self) -> list[int]:
        return [sum(line.counts.get(p.start, 0) for line in self.lines) for p in self.periods]

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    def line(self, label: str) -> VolumeLine:
        return next(line for line in self.lines if line.label == label)


def referral_volume(filters: ReportFilters) -> VolumeReport:
    trunc = TRUNC[filters.period]("received_on")
    fields = ["referring_office_id", "referring_office__name", "source_type", "period"]
    if filters.by_case_type:
        fields.append("case_type")
    rows = (
        filters.referrals()
        .annotate(period=trunc)
        .values(*fields)
        .annotate(n=Count("id"))
        .order_by()
    )
    lines: dict[tuple, VolumeLine] = {}
    for row in rows:
        office_id = row["referring_office_id"]
        if office_id is not None:
            key = ("office", office_id)
            label = row["referring_office__name"]
        else:
            key = ("source", row["source_type"])
            label = SOURCE_TYPES.get(row["source_type"], row["source_type"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = VolumeLine(label=label, source="", office_id=office_id)
        line.source_types.add(row["source_type"])
        period = as_date(row["period"])
        line.counts[period] += row["n"]
        if filters.by_case_type:
            _case_line(line, row["case_type"]).counts[period] += row["n"]

    for line in lines.values():
        line.source = ", ".join(
            SOURCE_TYPES.get(s, s) for s in sorted(line.source_types, key=list(SOURCE_TYPES).index)
        )
        line.case_types.sort(key=lambda c: (-c.total, list(CASE_TYPES).index(c.case_type)))
        for sub in line.case_types:
            sub.source = line.source

    def order(line: VolumeLine):
        return (-line.total, line.label.lower(), line.office_id or 0)

    offices = sorted((v for k, v in lines.items() if k[0] == "office"), key=order)
    sources = sorted((v for k, v in lines.items() if k[0] == "source"), key=order)
    return VolumeReport(
        filters=filters, periods=filters.periods(), offices=offices, sources=sources
    )


def _case_line(line: VolumeLine, case_type: str) -> VolumeLine:
    for sub in line.case_types:
        if sub.case_type == case_type:
            return sub
    sub = VolumeLine(
        label=line.label,
        source="",
        office_id=line.office_id,
        case_type=case_type,
    )
    line.case_types.append(sub)
    return sub


# --- presentation ------------------------------------------------------------------------


def period_columns(periods: list[PeriodColumn]) -> list[Column]:
    return [
        Column(
            label=f"{p.label}*" if p.partial else p.label,
            title=f"{p.covered} only" if p.partial else "",
        )
        for p in periods
    ]


def partial_notes(periods: list[PeriodColumn]) -> list[str]:
    return [f"* {p.label} covers {p.covered} only." for p in periods if p.partial]


def volume_tables(report: VolumeReport) -> list[Table]:
    breakdown = report.filters.by_case_type
    columns = [Column("Referrer", Kind.TEXT), Column("Source", Kind.TEXT)]
    if breakdown:
        columns.append(Column("Case type", Kind.TEXT))
    columns += [*period_columns(report.periods), Column("Total")]

    rows: list[Row] = []
    for line in report.lines:
        counts = [*line.per_period(report.periods), line.total]
        if not breakdown:
            rows.append(Row([line.label, line.source, *counts]))
            continue
        rows.append(Row([line.label, line.source, "All", *counts], "subtotal"))
        for sub in line.case_types:
            rows.append(
                Row(
                    ["", "", CASE_TYPES.get(sub.case_type, sub.case_type)]
                    + [*sub.per_period(report.periods), sub.total],
                    "detail",
                )
            )
    lead = ["Total", "", ""] if breakdown else ["Total", ""]
    totals = [Row([*lead, *report.totals, report.total], "total")] if rows else []
    notes = partial_notes(report.periods)
    if report.sources:
        notes.append("Referrals without a referring office are grouped by their source.")
    return [
        Table(
            title="Referrals received",
            columns=columns,
            rows=rows,
            totals=totals,
            notes=notes,
            testid="volume",
        )
    ]


def volume_csv(report: VolumeReport, money: bool = True) -> tuple[list[str], list[list]]:
    """One line per referrer (per case type with the breakdown) and a total line."""
    breakdown = report.filters.by_case_type
    header = ["Referrer", "Source"] + (["Case type"] if breakdown else [])
    header += [
        f"{p.label} ({p.covered} only)" if p.partial else p.label for p in report.periods
    ] + ["Total"]
    lines = []
    for line in report.lines:
        subs = line.case_types if breakdown else [line]
        for sub in subs:
            lead = [line.label, line.source]
            if breakdown:
                lead.append(CASE_TYPES.get(sub.case_type, sub.case_type))
            lines.append([*lead, *sub.per_period(report.periods), sub.total])
    lead = ["Total", ""] + ([""] if breakdown else [])
    lines.append([*lead, *report.totals, report.total])
    return header, lines
