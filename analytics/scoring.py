"""Referrer health as of a date: status, rates, revenue at risk, priority, the reason and
the evidence of a flag.

``practice_book`` (the practice's seasons and any practice-wide slowdown, once per run) and
``assess_office`` (figures in, assessment out) are pure; ``analytics.nightly`` gathers the
figures for a whole practice in a few queries and writes the snapshots; the bench
(bench/decline_simulation.py) calls the same two functions on simulated practices.
"""

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from .choices import ReferrerStatus
from .detection import (
    CusumRule,
    Decline,
    GlrRule,
    SilenceRule,
    Slowdown,
    SlowdownRule,
    ThresholdRule,
    detect_decline,
    poisson_band,
    practice_level,
    practice_slowdown,
    seasonal_index,
    silence_probability,
)

HISTORY_MONTHS = 48  # full months of history the assessment looks at (the GLR's baseline)
SERIES_MONTHS = 24  # full months kept on the snapshot for charts


@dataclass(frozen=True)
class HealthRules:
    new_days: int = 90
    inactive_days: int = 90
    lost_months: int = 12
    threshold: ThresholdRule | None = ThresholdRule()
    statistical: CusumRule | GlrRule | None = GlrRule()
    silence: SilenceRule | None = SilenceRule()
    slowdown: SlowdownRule | None = SlowdownRule()
    # Seasonal factors from the practice's totals without the office's own referrals, so a
    # big office's drop does not pass for a season of its own.
    seasonal_without_office: bool = True
    case_value: Decimal = Decimal("1800")

    @classmethod
    def from_settings(cls, settings, case_value: Decimal) -> "HealthRules":
        statistical = None
        if settings.statistical_rule_enabled and settings.statistical_method == "cusum":
            statistical = CusumRule(
                drop_ratio=float(settings.cusum_drop_ratio),
                threshold=float(settings.cusum_threshold),
                min_baseline=float(settings.statistical_min_baseline),
            )
        elif settings.statistical_rule_enabled:
            statistical = GlrRule(
                threshold=float(settings.glr_threshold),
                min_baseline=float(settings.statistical_min_baseline),
            )
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
            statistical=statistical,
            silence=SilenceRule() if settings.silence_rule_enabled else None,
            case_value=case_value,
        )


@dataclass(frozen=True)
class PracticeBook:
    """What every office's assessment shares: the months, the practice's monthly totals,
    its seasonal factors and, if the whole practice slowed down, that slowdown."""

    months: list[dt.date]
    totals: list[int]
    factors: dict[int, float]  # calendar month -> seasonal factor
    seasonal: list[float]  # per month of ``months``
    slowdown: Slowdown | None
    level: list[float]  # per month: the practice's activity relative to before a slowdown
    # Calendar month (1-12) of each of ``months``: read for every office's own seasons.
    month_numbers: list[int] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "month_numbers", [m.month for m in self.months])

    @property
    def slowdown_sentence(self) -> str:
        """The board's banner when the whole practice slowed down, else ""."""
        s = self.slowdown
        if s is None:
            return ""
        low, high = poisson_band(s.expected)
        return (
            f"The whole practice has slowed down since {self.months[s.onset]:%B %Y}: "
            f"{s.received} referrals where {round(s.expected)} were expected (80% band "
            f"{low}-{high}); the typical office is at {s.ratio:.0%} of its usual rate. "
            "Each office is judged against the practice's pace since."
        )


def practice_book(
    totals: list[int], months: list[dt.date], rules: HealthRules, offices: list[list[int]]
) -> PracticeBook:
    """``totals``: the practice's referrals per month of ``months``; ``offices``: each
    office's (the breadth of a practice-wide slowdown)."""
    factors = seasonal_index(totals, [m.month for m in months])
    seasonal = [factors[m.month] for m in months]
    slowdown = None
    if rules.slowdown is not None:
        slowdown = practice_slowdown(totals, seasonal, rules.slowdown, offices)
    return PracticeBook(
        months, totals, factors, seasonal, slowdown, practice_level(len(months), slowdown)
    )


@dataclass(frozen=True)
class Evidence:
    """Why an office is flagged, in figures: since ``since``, ``received`` referrals where a
    steady office would have sent ``expected`` (80% band ``low``-``high``), season- and
    practice-adjusted."""

    since: dt.date
    received: int
    expected: float
    low: int
    high: int
    # An inactive office's evidence: ``since`` is its last referral, and nothing came since.
    silent: bool = False

    @property
    def sentence(self) -> str:
        if self.silent:
            return (
                f"No referral since {_fmt_day(self.since)}: a steady office would have sent "
                f"about {round(self.expected)} by now (80% band {self.low}-{self.high})."
            )
        noun = "referral" if self.received == 1 else "referrals"
        were = "was" if round(self.expected) == 1 else "were"
        return (
            f"Since {self.since:%B %Y}: {self.received} {noun} where {round(self.expected)} "
            f"{were} expected (80% band {self.low}-{self.high})."
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
    evidence: Evidence | None = None
    # What each month of ``figures.monthly`` should have brought at the office's usual rate
    # (season- and practice-adjusted); empty when the office has no usual rate yet.
    expected_monthly: list[float] = field(default_factory=list)


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


def office_shape(figures: OfficeFigures, book: PracticeBook, rules: HealthRules) -> list[float]:
    """Per month of ``book.months``: the seasonal factor times the practice's level, the
    shape of what a steady office sends."""
    seasonal = book.seasonal
    if rules.seasonal_without_office and any(figures.monthly):
        others = [t - c for t, c in zip(book.totals, figures.monthly, strict=True)]
        factors = seasonal_index(others, book.month_numbers)
        seasonal = [factors[m] for m in book.month_numbers]
    return [s * level for s, level in zip(seasonal, book.level, strict=True)]


@lru_cache(maxsize=64)
def _months_before(day: dt.date, months: int) -> dt.date:
    """``day - relativedelta(months=months)``, once per night rather than once per office."""
    return day - relativedelta(months=months)


def _silent_months(last: dt.date, as_of: dt.date, book: PracticeBook) -> float:
    """The days after ``last`` up to ``as_of``, in ordinary months (each day weighted by its
    month's seasonal factor and the practice's level)."""
    total, day = 0.0, last + dt.timedelta(days=1)
    level = book.level[-1] if book.level else 1.0
    while day <= as_of:
        # Plain calendar arithmetic: this runs for every office every night.
        length = calendar.monthrange(day.year, day.month)[1]
        stop = min(day.replace(day=length), as_of)
        days = (stop - day).days + 1
        total += days / length * book.factors[day.month] * level
        day = stop + dt.timedelta(days=1)
    return total


def _adjusted_rate(counts: list[int], shape: list[float], begin: int, end: int) -> float:
    weight = sum(shape[begin:end])
    return sum(counts[begin:end]) / weight if weight > 0 else 0.0


def assess_office(
    figures: OfficeFigures,
    as_of: dt.date,
    rules: HealthRules,
    book: PracticeBook,
) -> Assessment:
    """Status, drop, money, evidence and words for one office; ``book.months`` align with
    ``figures.monthly``."""
    counts = figures.monthly
    months = book.months
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

    if last < _months_before(as_of, rules.lost_months):
        baseline = _rate_up_to(counts, months, last)
        return Assessment(
            ReferrerStatus.LOST, None, baseline, 0.0, 0, Decimal("0"),
            # Rarely won back, but a long silence from a big referrer is still worth a call.
            float(value) * baseline * 12 * 0.2,
            f"No referral since {_fmt_day(last)} ({days_since_last // 30} months); "
            f"sent {_rate(baseline)} a month in the year before.",
            **common,
        )  # fmt: skip

    shape = office_shape(figures, book, rules)
    # Before its first referral an office was not "sending zero": it was not a referrer.
    first_month, last_month = first.replace(day=1), last.replace(day=1)
    start = sum(1 for m in months if m < first_month)
    # The usual rate over the 12 months before the last referral's month (that month is
    # cut short by the silence itself): what a silence is measured against.
    end = sum(1 for m in months if m < last_month)
    if end - start < 3:
        end += 1
    usual = _adjusted_rate(counts, shape, max(start, end - 12), end)
    silent_for = _silent_months(last, as_of, book)
    improbable_silence = (
        rules.silence is not None
        and days_since_last >= rules.silence.min_days
        and usual >= rules.silence.min_rate
        and silence_probability(usual, silent_for) < rules.silence.odds
    )
    if days_since_last > rules.inactive_days or improbable_silence:
        months_quiet = min(12, days_since_last // 30)
        baseline = _rate_up_to(counts, months, last)
        at_risk = _money(Decimal(str(baseline)) * value * months_quiet)
        expected = usual * silent_for
        low, high = poisson_band(expected)
        reason = (
            f"No referral for {days_since_last} days; sent {rolling_12} in the last 12 "
            f"months. Last referral {_fmt_day(last)}."
        )
        return Assessment(
            ReferrerStatus.INACTIVE, None, baseline, 0.0, months_quiet, at_risk,
            float(at_risk) * 0.6, reason, **common,
            evidence=Evidence(last, 0, expected, low, high, silent=True),
            expected_monthly=[usual * x if i >= start else 0.0 for i, x in enumerate(shape)],
        )  # fmt: skip

    series = counts[start:]
    decline = detect_decline(series, shape[start:], rules.threshold, rules.statistical)
    if decline.declining:
        drop_months = decline.drop_months(len(series))
        gap = max(0.0, decline.baseline_rate - decline.recent_rate)
        at_risk = _money(Decimal(str(gap)) * value * drop_months)
        # A recent drop is easier to win back than an old one.
        recoverability = 1 / (1 + drop_months / 6)
        onset = start + decline.onset
        onset_month = months[onset]
        expected = decline.expected_rate * sum(shape[onset:])
        low, high = poisson_band(expected)
        evidence = Evidence(onset_month, sum(counts[onset:]), expected, low, high)
        reason = (
            f"Sent {_rate(decline.baseline_rate)} a month before {onset_month:%B %Y}, "
            f"{_rate(decline.recent_rate)} a month over the {drop_months} months since; "
            f"last referral {_fmt_day(last)}."
        )
        return Assessment(
            ReferrerStatus.DECLINING, decline, decline.baseline_rate, decline.recent_rate,
            drop_months, at_risk, float(gap) * float(value) * 12 * recoverability, reason,
            **common, evidence=evidence,
            expected_monthly=[
                decline.expected_rate * x if i >= start else 0.0 for i, x in enumerate(shape)
            ],
        )  # fmt: skip

    reason = (
        f"Sent {figures.count_90} in the last 90 days, {rolling_12} in the last 12 months; "
        f"last referral {_fmt_day(last)}."
    )
    rate = _adjusted_rate(series, shape[start:], max(0, len(series) - 24), len(series))
    # Active offices rank below every problem, by how much they send.
    return Assessment(
        ReferrerStatus.ACTIVE, decline, decline.baseline_rate, decline.recent_rate, 0,
        Decimal("0"), min(decline.statistic, 1.0), reason, **common,
        expected_monthly=[rate * x if i >= start else 0.0 for i, x in enumerate(shape)]
        if len(series) >= 6 else [],
    )  # fmt: skip
