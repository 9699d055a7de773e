"""Referrer health as of a date: status, rates, revenue at risk, priority and the reason.

``assess_office`` is pure (figures in, assessment out); ``analytics.nightly`` gathers the
figures for a whole practice in a few queries and writes the snapshots.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from .choices import ReferrerStatus
from .detection import CusumRule, Decline, ThresholdRule, detect_decline

HISTORY_MONTHS = 36  # full months of history the assessment looks at
SERIES_MONTHS = 24  # full months kept on the snapshot for charts


@dataclass(frozen=True)
class HealthRules:
    new_days: int = 90
    inactive_days: int = 90
    lost_months: int = 12
    threshold: ThresholdRule | None = ThresholdRule()
    cusum: CusumRule | None = CusumRule()
    case_value: Decimal = Decimal("1800")

    @classmethod
    def from_settings(cls, settings, case_value: Decimal) -> "HealthRules":
        return cls(
            new_days=settings.new_days,
            inactive_days=settings.inactive_days,
            lost_months=settings.lost_months,
            threshold=ThresholdRule(
                min_baseline=float(settings.threshold_min_baseline),
                max_recent=float(settings.threshold_max_recent),
                months=settings.threshold_months,
            )
            if settings.threshold_rule_enabled
            else None,
            cusum=CusumRule(
                drop_ratio=float(settings.cusum_drop_ratio),
                threshold=float(settings.cusum_threshold),
                min_baseline=float(settings.statistical_min_baseline),
            )
            if settings.statistical_rule_enabled
            else None,
            case_value=case_value,
        )


@dataclass
class OfficeFigures:
    """What the assessment needs to know about one office, as of a date."""

    office_id: int
    first_referral_on: dt.date | None
    last_referral_on: dt.date | None
    count_30: int = 0
    count_60: int = 0
    count_90: int = 0
    # Full months before the as-of month, oldest first (HISTORY_MONTHS of them).
    monthly: list[int] = field(default_factory=list)
    partial_month: int = 0
    consults_12: int = 0
    accepted_12: int = 0
    declined_12: int = 0
    production_12: Decimal = Decimal("0")


@dataclass
class Assessment:
    status: str
    decline: Decline | None
    baseline_rate: float
    recent_rate: float
    drop_months: int
    revenue_at_risk: Decimal
    priority: float
    reason: str
    same_month_last_year: int
    rolling_12: int
    prior_12: int


def month_starts(as_of: dt.date, count: int) -> list[dt.date]:
    """The first days of the ``count`` full months before ``as_of``'s month, oldest first."""
    current = as_of.replace(day=1)
    return [current - relativedelta(months=count - i) for i in range(count)]


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _fmt_day(day: dt.date | None) -> str:
    return f"{day:%b} {day.day}, {day.year}" if day else "never"


def _rate(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _rate_up_to(counts: list[int], months: list[dt.date], day: dt.date) -> float:
    """Referrals a month over the 12 months up to and including ``day``'s month."""
    end = sum(1 for m in months if m <= day)
    window = counts[max(0, end - 12) : end]
    return sum(window) / 12 if window else 0.0


def assess_office(
    figures: OfficeFigures,
    as_of: dt.date,
    rules: HealthRules,
    seasonal: list[float],
    months: list[dt.date],
) -> Assessment:
    """Status, drop, money and words for one office. ``seasonal`` and ``months`` align with
    ``figures.monthly``."""
    counts = figures.monthly
    rolling_12 = sum(counts[-12:])
    prior_12 = sum(counts[-24:-12])
    # Same calendar month last year as the current (partial) month.
    same_month_last_year = counts[-12] if len(counts) >= 12 else 0
    common = {
        "same_month_last_year": same_month_last_year,
        "rolling_12": rolling_12,
        "prior_12": prior_12,
    }
    last = figures.last_referral_on
    first = figures.first_referral_on
    value = rules.case_value

    if first is None or last is None:
        return Assessment(
            ReferrerStatus.PROSPECT, None, 0.0, 0.0, 0, Decimal("0"), 0.0,
            "No referrals yet.", **common,
        )  # fmt: skip

    days_since_last = (as_of - last).days
    if (as_of - first).days < rules.new_days:
        total = sum(counts) + figures.partial_month
        return Assessment(
            ReferrerStatus.NEW, None, 0.0, 0.0, 0, Decimal("0"),
            # Worth a welcome: a few cases a year if the relationship takes.
            float(value) * 3,
            f"First referral on {_fmt_day(first)}: {total} so far. A relationship to build.",
            **common,
        )  # fmt: skip

    if last < as_of - relativedelta(months=rules.lost_months):
        baseline = _rate_up_to(counts, months, last)
        return Assessment(
            ReferrerStatus.LOST, None, baseline, 0.0, 0, Decimal("0"),
            # Rarely won back, but a long silence from a big referrer is still worth a call.
            float(value) * baseline * 12 * 0.2,
            f"No referral since {_fmt_day(last)} ({days_since_last // 30} months); "
            f"sent {_rate(baseline)} a month in the year before.",
            **common,
        )  # fmt: skip

    if days_since_last > rules.inactive_days:
        months_quiet = min(12, days_since_last // 30)
        baseline = _rate_up_to(counts, months, last)
        at_risk = _money(Decimal(str(baseline)) * value * months_quiet)
        return Assessment(
            ReferrerStatus.INACTIVE, None, baseline, 0.0, months_quiet, at_risk,
            float(at_risk) * 0.6,
            f"No referral for {days_since_last} days; sent {rolling_12} in the last 12 "
            f"months. Last referral {_fmt_day(last)}.",
            **common,
        )  # fmt: skip

    # Before its first referral an office was not "sending zero": it was not a referrer.
    start = sum(1 for m in months if m < first.replace(day=1))
    series, series_months = counts[start:], months[start:]
    decline = detect_decline(series, seasonal[start:], rules.threshold, rules.cusum)
    if decline.declining:
        drop_months = decline.drop_months(len(series))
        gap = max(0.0, decline.baseline_rate - decline.recent_rate)
        at_risk = _money(Decimal(str(gap)) * value * drop_months)
        # A recent drop is easier to win back than an old one.
        recoverability = 1 / (1 + drop_months / 6)
        onset_month = series_months[decline.onset]
        reason = (
            f"Sent {_rate(decline.baseline_rate)} a month before {onset_month:%B %Y}, "
            f"{_rate(decline.recent_rate)} a month over the {drop_months} months since; "
            f"last referral {_fmt_day(last)}."
        )
        return Assessment(
            ReferrerStatus.DECLINING, decline, decline.baseline_rate, decline.recent_rate,
            drop_months, at_risk, float(gap) * float(value) * 12 * recoverability, reason,
            **common,
        )  # fmt: skip

    reason = (
        f"Sent {figures.count_90} in the last 90 days, {rolling_12} in the last 12 months; "
        f"last referral {_fmt_day(last)}."
    )
    # Active offices rank below every problem, by how much they send.
    return Assessment(
        ReferrerStatus.ACTIVE, decline, decline.baseline_rate, decline.recent_rate, 0,
        Decimal("0"), min(decline.cusum, 1.0), reason, **common,
    )  # fmt: skip
