"""The quarterly trend report: a quarter against the quarter before and the same quarter a
year earlier, by office (from the monthly rollups) and, for referrals without an office,
by source type; plus the 12-month rolling trend to the quarter's last month.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from referrals.choices import SourceType
from referrals.models import Referral

from ..models import MonthlyRollup
from .filters import Period, ReportFilters, add_months, period_label, period_start
from .tables import Column, Kind, Row, Table, change
from .trend import TrendReport, rolling_trend

SOURCE_TYPES = dict(SourceType.choices)


@dataclass(frozen=True)
class QuarterLine:
    label: str
    this: int
    previous: int
    last_year: int

    @property
    def change_previous(self) -> float | None:
        return change(self.this, self.previous)

    @property
    def change_last_year(self) -> float | None:
        return change(self.this, self.last_year)


@dataclass
class QuarterlyReport:
    quarter: dt.date  # first day of the quarter
    offices: list[QuarterLine]
    sources: list[QuarterLine]
    trend: TrendReport

    @property
    def label(self) -> str:
        return quarter_label(self.quarter)

    @property
    def previous(self) -> dt.date:
        return add_months(self.quarter, -3)

    @property
    def last_year(self) -> dt.date:
        return add_months(self.quarter, -12)

    @property
    def total(self) -> QuarterLine:
        lines = [*self.offices, *self.sources]
        return QuarterLine(
            "Total",
            sum(line.this for line in lines),
            sum(line.previous for line in lines),
            sum(line.last_year for line in lines),
        )

    def office(self, label: str) -> QuarterLine:
        return next(line for line in self.offices if line.label == label)


def quarter_label(start: dt.date) -> str:
    return period_label(start, Period.QUARTER)


def _quarter(field_name: str, start: dt.date) -> Q:
    return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": add_months(start, 3)})


def quarterly_report(quarter: dt.date) -> QuarterlyReport:
    quarter = period_start(quarter, Period.QUARTER)
    quarters = {
        "this": quarter,
        "previous": add_months(quarter, -3),
        "last_year": add_months(quarter, -12),
    }
    any_quarter = Q()
    for start in quarters.values():
        any_quarter |= _quarter("month", start)
    offices = (
        MonthlyRollup.objects.filter(any_quarter)
        .values("office_id", "office__name")
        .annotate(
            **{
                key: Sum("referrals", filter=_quarter("month", start), default=0)
                for key, start in quarters.items()
            }
        )
        .order_by()
    )
    office_lines = [
        QuarterLine(r["office__name"], r["this"], r["previous"], r["last_year"])
        for r in offices
        if r["this"] or r["previous"] or r["last_year"]
    ]
    office_lines.sort(key=lambda line: (-line.this, -line.previous, line.label.lower()))

    any_received = Q()
    for start in quarters.values():
        any_received |= _quarter("received_on", start)
    sources = (
        Referral.objects.filter(any_received, referring_office__isnull=True)
        .values("source_type")
        .annotate(
            **{
                key: Count("id", filter=_quarter("received_on", start))
                for key, start in quarters.items()
            }
        )
        .order_by()
    )
    order = list(SOURCE_TYPES)
    source_lines = [
        QuarterLine(SOURCE_TYPES.get(r["source_type"], r["source_type"]), **_figures(r))
        for r in sorted(sources, key=lambda r: order.index(r["source_type"]))
    ]
    last_month = add_months(quarter, 2)
    trend = rolling_trend(
        ReportFilters(first_month=add_months(last_month, -11), last_month=last_month)
    )
    return QuarterlyReport(quarter, office_lines, source_lines, trend)


def _figures(row: dict) -> dict:
    return {"this": row["this"], "previous": row["previous"], "last_year": row["last_year"]}


# --- presentation ------------------------------------------------------------------------


def quarterly_tables(report: QuarterlyReport) -> list[Table]:
    columns = [
        Column("Referrer", Kind.TEXT),
        Column(report.label),
        Column(quarter_label(report.previous)),
        Column("Change", Kind.CHANGE),
        Column(quarter_label(report.last_year)),
        Column("Change", Kind.CHANGE),
    ]

    def cells(line: QuarterLine) -> list:
        return [
            line.label,
            line.this,
            line.previous,
            line.change_previous,
            line.last_year,
            line.change_last_year,
        ]

    rows = [Row(cells(line)) for line in report.offices]
    if report.sources:
        rows += [Row(cells(line), "detail") for line in report.sources]
    total = report.total
    return [
        Table(
            title=f"{report.label} against the quarter before and a year earlier",
            columns=columns,
            rows=rows,
            totals=[Row(cells(total), "total")] if rows else [],
            notes=["Referrals without a referring office are listed by their source, in grey."]
            if report.sources
            else [],
            empty="No referrals in these quarters.",
            testid="quarterly",
        )
    ]
