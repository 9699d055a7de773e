"""What a report covers: a range of whole calendar months, a period to group by, and the
optional case-type, source-type and office filters, read from the query string.

Ranges are whole months so the monthly rollups and the 12-month windows line up with
what the practice calls "October" or "Q3".
"""

import datetime as dt
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from dateutil.relativedelta import relativedelta
from django import forms
from django.db.models import Q, QuerySet, TextChoices

from referrals.choices import CaseType, SourceType
from referrals.models import Referral, ReferringOffice

DEFAULT_MONTHS = 12
MAX_MONTHS = 60  # five years: wide enough for a trend, narrow enough for a table


class Period(TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Year"


def add_months(month: dt.date, n: int) -> dt.date:
    return month + relativedelta(months=n)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of every month from ``first`` to ``last``, both included."""
    months, month = [], first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def period_start(month: dt.date, period: str) -> dt.date:
    """The first day of the month, quarter or year ``month`` falls in, like the
    database's TruncMonth / TruncQuarter / TruncYear."""
    if period == Period.YEAR:
        return dt.date(month.year, 1, 1)
    if period == Period.QUARTER:
        return dt.date(month.year, 3 * ((month.month - 1) // 3) + 1, 1)
    return month.replace(day=1)


def period_length(period: str) -> int:
    return {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]


def month_label(month: dt.date) -> str:
    return f"{month:%b %Y}"


def period_label(start: dt.date, period: str) -> str:
    if period == Period.YEAR:
        return str(start.year)
    if period == Period.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return month_label(start)


def span_label(first: dt.date, last: dt.date) -> str:
    """'Nov 2025 – Oct 2026', or one month's name."""
    if first == last:
        return month_label(first)
    return f"{month_label(first)} – {month_label(last)}"


def last_full_months(today: dt.date, count: int = DEFAULT_MONTHS) -> tuple[dt.date, dt.date]:
    last = add_months(today.replace(day=1), -1)
    return add_months(last, -(count - 1)), last


@dataclass(frozen=True)
class PeriodColumn:
    start: dt.date
    label: str
    months: tuple[dt.date, ...]  # the months of the range inside this period
    partial: bool

    @property
    def covered(self) -> str:
        return span_label(self.months[0], self.months[-1])


@dataclass(frozen=True)
class ReportFilters:
    first_month: dt.date
    last_month: dt.date
    period: str = Period.MONTH
    case_type: str = ""
    source_type: str = ""
    office: ReferringOffice | None = field(default=None, compare=False)
    by_case_type: bool = False

    # --- the range ---

    @property
    def start(self) -> dt.date:
        return self.first_month

    @property
    def end(self) -> dt.date:
        """The first day after the range."""
        return add_months(self.last_month, 1)

    @property
    def months(self) -> list[dt.date]:
        return months_between(self.first_month, self.last_month)

    @property
    def range_label(self) -> str:
        return span_label(self.first_month, self.last_month)

    def periods(self) -> list[PeriodColumn]:
        grouped: dict[dt.date, list[dt.date]] = {}
        for month in self.months:
            grouped.setdefault(period_start(month, self.period), []).append(month)
        size = period_length(self.period)
        return [
            PeriodColumn(
                start=start,
                label=period_label(start, self.period),
                months=tuple(months),
                partial=len(months) < size,
            )
            for start, months in grouped.items()
        ]

    def with_range(self, first_month: dt.date, last_month: dt.date) -> "ReportFilters":
        return replace(self, first_month=first_month, last_month=last_month)

    # --- the rows ---

    def referral_q(self, prefix: str = "") -> Q:
        """The case-type, source and office filters (not the dates) on Referral, or on a
        model that reaches it through ``prefix`` (e.g. "referral__")."""
        q = Q()
        if self.case_type:
            q &= Q(**{f"{prefix}case_type": self.case_type})
        if self.source_type:
            q &= Q(**{f"{prefix}source_type": self.source_type})
        if self.office is not None:
            q &= Q(**{f"{prefix}referring_office": self.office})
        return q

    def referrals(self, start: dt.date | None = None, end: dt.date | None = None) -> QuerySet:
        """Referrals received in [start, end) (default: the range) that pass the filters."""
        return Referral.objects.filter(
            self.referral_q(),
            received_on__gte=start or self.start,
            received_on__lt=end or self.end,
        )

    # --- words and links ---

    @property
    def description(self) -> str:
        """What the figures cover, in words, for page and PDF headings."""
        return self.describe(with_period=True)

    def describe(self, *, with_period: bool) -> str:
        parts = [self.range_label]
        if with_period:
            parts.append(f"by {Period(self.period).label.lower()}")
        parts.append(CaseType(self.case_type).label if self.case_type else "all case types")
        if self.source_type:
            parts.append(SourceType(self.source_type).label)
        else:
            parts.append("all sources")
        if self.office is not None:
            parts.append(self.office.name)
        return " · ".join(parts)

    def params(self, **changes) -> dict[str, str]:
        values = {
            "start": f"{self.first_month:%Y-%m}",
            "end": f"{self.last_month:%Y-%m}",
            "period": self.period,
            "case_type": self.case_type,
            "source_type": self.source_type,
            "office": str(self.office.pk) if self.office is not None else "",
            "by_case_type": "1" if self.by_case_type else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def query_string(self, **changes) -> str:
        return urlencode(self.params(**changes))

    @property
    def slug(self) -> str:
        """For file names: 2025-11_2026-10."""
        return f"{self.first_month:%Y-%m}_{self.last_month:%Y-%m}"


def default_filters(today: dt.date) -> ReportFilters:
    first, last = last_full_months(today)
    return ReportFilters(first_month=first, last_month=last)


# --- reading the query string ---------------------------------------------------------


class MonthInput(forms.TextInput):
    input_type = "month"


class MonthField(forms.CharField):
    """A calendar month as 'YYYY-MM' (what <input type=month> sends); 'YYYY-MM-DD' is
    accepted too and means its month."""

    widget = MonthInput

    def to_python(self, value):
        value = super().to_python(value).strip()
        if not value:
            return None
        for fmt in ("%Y-%m", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(value, fmt).date().replace(day=1)
            except ValueError:
                continue
        raise forms.ValidationError("Give a month as YYYY-MM, e.g. 2026-10.")


class ReportFilterForm(forms.Form):
    start = MonthField(label="From", required=False)
    end = MonthField(label="To", required=False)
    period = forms.ChoiceField(label="Period", choices=Period.choices, required=False)
    case_type = forms.ChoiceField(
        label="Case type", choices=[("", "All case types"), *CaseType.choices], required=False
    )
    source_type = forms.ChoiceField(
        label="Source", choices=[("", "All sources"), *SourceType.choices], required=False
    )
    office = forms.ModelChoiceField(
        label="Office",
        queryset=ReferringOffice.objects.none(),
        required=False,
        empty_label="All offices",
    )
    by_case_type = forms.BooleanField(label="Break down by case type", required=False)

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        # Built per request, inside the practice scope: only this practice's offices.
        self.fields["office"].queryset = ReferringOffice.objects.order_by("name", "pk")
        for name, bound in self.fields.items():
            bound.widget.attrs.setdefault("id", f"report-{name.replace('_', '-')}")

    def clean(self):
        data = super().clean()
        default_first, default_last = last_full_months(self.today)
        first = data.get("start") or (
            add_months(data["end"], -(DEFAULT_MONTHS - 1)) if data.get("end") else default_first
        )
        last = data.get("end") or (
            add_months(first, DEFAULT_MONTHS - 1) if data.get("start") else default_last
        )
        this_month = self.today.replace(day=1)
        if last > this_month:
            if data.get("end"):
                self.add_error("end", "The range cannot end after this month.")
            last = this_month
        if first > last:
            self.add_error("start", "The range must start before it ends.")
        elif len(months_between(first, last)) > MAX_MONTHS:
            self.add_error("start", f"Choose at most {MAX_MONTHS // 12} years.")
        data["first_month"], data["last_month"] = first, last
        return data

    def filters(self) -> ReportFilters:
        """The filters asked for; a field with an error falls back to its default."""
        data = self.cleaned_data
        default = default_filters(self.today)
        range_ok = "start" not in self.errors and "end" not in self.errors
        return ReportFilters(
            first_month=data["first_month"] if range_ok else default.first_month,
            last_month=data["last_month"] if range_ok else default.last_month,
            period=data.get("period") or Period.MONTH,
            case_type=data.get("case_type") or "",
            source_type=data.get("source_type") or "",
            office=data.get("office"),
            by_case_type=bool(data.get("by_case_type")),
        )
