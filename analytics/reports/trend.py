"""The 12-month rolling trend: for each month of the range, the referrals in the 12 months
ending that month against the 12 months before, for the practice and its top offices.

One GROUP BY (office x month) over the referrals of the range and the 23 months before
it; the windows are summed in Python from that small table.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncMonth

from .filters import ReportFilters, add_months, month_label, months_between
from .tables import Column, Kind, Row, Table, change
from .volume import as_date

WINDOW = 12
TOP_OFFICES = 5


@dataclass(frozen=True)
class TrendPoint:
    month: dt.date
    rolling: int  # referrals in the 12 months ending with ``month``
    prior: int  # referrals in the 12 months before those

    @property
    def change(self) -> float | None:
        return change(self.rolling, self.prior)


@dataclass
class TrendSeries:
    label: str
    points: list[TrendPoint]
    office_id: int | None = None

    @property
    def last(self) -> TrendPoint:
        return self.points[-1]

    def at(self, month: dt.date) -> TrendPoint:
        return next(p for p in self.points if p.month == month)


@dataclass
class TrendReport:
    filters: ReportFilters
    months: list[dt.date]
    practice: TrendSeries
    offices: list[TrendSeries]


def rolling_trend(filters: ReportFilters, top: int = TOP_OFFICES) -> TrendReport:
    months = filters.months
    first = add_months(months[0], -(2 * WINDOW - 1))
    history = months_between(first, months[-1])
    index = {m: i for i, m in enumerate(history)}
    rows = (
        filters.referrals(first, filters.end)
        .annotate(month=TruncMonth("received_on"))
        .values_list("referring_office_id", "referring_office__name", "month")
        .annotate(n=Count("id"))
        .order_by()
    )
    practice = [0] * len(history)
    offices: dict[int, list[int]] = defaultdict(lambda: [0] * len(history))
    names: dict[int, str] = {}
    for office_id, name, month, n in rows:
        i = index[as_date(month)]
        practice[i] += n
        if office_id is not None:
            offices[office_id][i] += n
            names[office_id] = name

    def series(counts: list[int]) -> list[TrendPoint]:
        points = []
        for k, month in enumerate(months):
            i = k + 2 * WINDOW - 1
            points.append(
                TrendPoint(
                    month=month,
                    rolling=sum(counts[i - WINDOW + 1 : i + 1]),
                    prior=sum(counts[i - 2 * WINDOW + 1 : i - WINDOW + 1]),
                )
            )
        return points

    office_series = [
        TrendSeries(names[office_id], series(counts), office_id)
        for office_id, counts in offices.items()
    ]
    office_series.sort(key=lambda s: (-s.last.rolling, -s.last.prior, s.label.lower()))
    return TrendReport(
        filters=filters,
        months=months,
        practice=TrendSeries("Practice total", series(practice)),
        offices=[s for s in office_series if s.last.rolling or s.last.prior][:top],
    )


# --- presentation ------------------------------------------------------------------------


def trend_tables(report: TrendReport) -> list[Table]:
    practice_rows = [
        Row([month_label(p.month), p.rolling, p.prior, p.change]) for p in report.practice.points
    ]
    tables = [
        Table(
            title="Practice total",
            columns=[
                Column("Month", Kind.TEXT),
                Column("Referrals, 12 months to this month"),
                Column("The 12 months before"),
                Column("Change", Kind.CHANGE),
            ],
            rows=practice_rows
            if report.practice.last.rolling or report.practice.last.prior
            else [],
            testid="trend-practice",
        )
    ]
    if report.offices:
        columns = [Column("Month", Kind.TEXT)]
        for office in report.offices:
            columns += [
                Column("12 months", group=office.label),
                Column("Change", Kind.CHANGE, group=office.label),
            ]
        rows = []
        for k, month in enumerate(report.months):
            cells: list = [month_label(month)]
            for office in report.offices:
                point = office.points[k]
                cells += [point.rolling, point.change]
            rows.append(Row(cells))
        tables.append(
            Table(
                title="Top office"
                if len(report.offices) == 1
                else f"Top {len(report.offices)} offices",
                columns=columns,
                rows=rows,
                notes=[
                    "Top offices by referrals in the 12 months to "
                    f"{month_label(report.months[-1])}; change against the 12 months before."
                ],
                testid="trend-offices",
            )
        )
    return tables


def trend_csv(report: TrendReport, money: bool = True) -> tuple[list[str], list[list]]:
    header = [
        "Month",
        "Series",
        "Referrals in the 12 months to this month",
        "Referrals in the 12 months before",
        "Change (%)",
    ]
    lines = []
    for series in [report.practice, *report.offices]:
        for p in series.points:
            lines.append([f"{p.month:%Y-%m}", series.label, p.rolling, p.prior, p.change])
    return header, lines
