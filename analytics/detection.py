"""Decline detection on monthly referral counts: the article's threshold rule and a
seasonality-aware Poisson CUSUM. Pure functions of a series; explained, with simulated
figures, in docs/decline-detection.md.
"""

import math
from dataclasses import dataclass

RECOVERY_MONTHS = 3


@dataclass(frozen=True)
class ThresholdRule:
    """(a) "Averaged at least A a month, then at most B a month for N consecutive months"."""

    min_baseline: float = 8.0
    max_recent: float = 3.0
    months: int = 2
    baseline_months: int = 12


@dataclass(frozen=True)
class CusumRule:
    """(b) A one-sided Poisson CUSUM for a drop from the office's own baseline rate
    ``lam0`` to ``drop_ratio * lam0``, each month's expectation scaled by the practice's
    seasonal index. Alarms when the statistic reaches ``threshold``."""

    drop_ratio: float = 0.5
    threshold: float = 3.0
    min_baseline: float = 1.5
    # Two years: a baseline from one year of a small office is too noisy (false alarms).
    baseline_months: int = 24
    # Months monitored at the end of the series; a drop older than this is the new normal.
    window: int = 12
    min_history: int = 6


@dataclass(frozen=True)
class Decline:
    threshold_rule: bool
    statistical_rule: bool
    cusum: float  # the statistic at the last full month
    onset: int | None  # index in the series of the first month of the drop
    baseline_rate: float  # raw referrals a month over the baseline months before the onset
    recent_rate: float  # raw referrals a month since the onset

    @property
    def declining(self) -> bool:
        return self.threshold_rule or self.statistical_rule

    def drop_months(self, length: int) -> int:
        return 0 if self.onset is None else length - self.onset


def threshold_rule_fires(counts: list[int], rule: ThresholdRule) -> bool:
    n = rule.months
    if len(counts) < n + rule.baseline_months:
        return False
    recent = counts[-n:]
    baseline = counts[-n - rule.baseline_months : -n]
    return sum(baseline) / len(baseline) >= rule.min_baseline and max(recent) <= rule.max_recent


def _cusum(counts, seasonal, lam0, rule, start):
    """Run the CUSUM from ``start``; return (statistic, onset index or None)."""
    log_ratio = math.log(rule.drop_ratio)
    s = 0.0
    onset = None
    for i in range(start, len(counts)):
        expected = lam0 * seasonal[i]
        # Log-likelihood ratio of "dropped" vs "baseline" for a Poisson count.
        s = max(0.0, s + counts[i] * log_ratio + (1 - rule.drop_ratio) * expected)
        if s == 0.0:
            onset = None
        elif onset is None:
            onset = i
    return s, onset


def _baseline(counts, seasonal, end, rule) -> float | None:
    begin = max(0, end - rule.baseline_months)
    if end - begin < rule.min_history:
        return None
    return sum(counts[i] / seasonal[i] for i in range(begin, end)) / (end - begin)


def detect_decline(
    counts: list[int],
    seasonal: list[float],
    threshold: ThresholdRule | None,
    cusum: CusumRule | None,
) -> Decline:
    """Assess a series of full-month counts (oldest first) with a seasonal factor per month.

    The baseline must come from before the drop, but where the drop starts is what we look
    for: a first pass takes the baseline from the year before the monitored window, a second
    pass re-takes it from the year before the onset that the first pass found.
    """
    length = len(counts)
    fired_threshold = bool(threshold) and threshold_rule_fires(counts, threshold)
    statistic, onset, lam0 = 0.0, None, None
    if cusum is not None:
        start = max(0, length - cusum.window)
        lam0 = _baseline(counts, seasonal, start, cusum)
        if lam0 is not None and lam0 >= cusum.min_baseline:
            statistic, onset = _cusum(counts, seasonal, lam0, cusum, start)
            if onset is not None:
                refined = _baseline(counts, seasonal, onset, cusum)
                if refined is not None and refined >= cusum.min_baseline:
                    lam0 = refined
                    statistic, onset = _cusum(counts, seasonal, lam0, cusum, start)
        else:
            lam0 = None
    fired_statistical = cusum is not None and lam0 is not None and statistic >= cusum.threshold
    if fired_statistical and onset is not None and length - onset > RECOVERY_MONTHS:
        # The statistic remembers a long drop for months after the office came back; an
        # office whose last months are closer to its baseline than to the drop has recovered.
        tail = range(length - RECOVERY_MONTHS, length)
        recent = sum(counts[i] / seasonal[i] for i in tail) / RECOVERY_MONTHS
        if recent >= lam0 * (1 + cusum.drop_ratio) / 2:
            fired_statistical = False
    if fired_threshold and onset is None:
        onset = length - threshold.months
        # Extend back over the months that were already at or below the threshold.
        while onset > 0 and counts[onset - 1] <= threshold.max_recent:
            onset -= 1
    if not (fired_statistical or fired_threshold):
        onset = None
    if onset is not None:
        before = counts[max(0, onset - 12) : onset]
        baseline_rate = sum(before) / len(before) if before else 0.0
        recent_rate = sum(counts[onset:]) / (length - onset)
    else:
        last12 = counts[-12:]
        baseline_rate = sum(last12) / len(last12) if last12 else 0.0
        last3 = counts[-3:]
        recent_rate = sum(last3) / len(last3) if last3 else 0.0
    return Decline(
        threshold_rule=fired_threshold,
        statistical_rule=fired_statistical,
        cusum=round(statistic, 3),
        onset=onset,
        baseline_rate=baseline_rate,
        recent_rate=recent_rate,
    )


def seasonal_index(monthly_totals: list[int], month_numbers: list[int]) -> dict[int, float]:
    """A practice-wide factor per calendar month (1 = an ordinary month).

    Classical ratio-to-moving-average: each month's total over its centred 12-month average,
    so a practice's growth or a single office's drop is not mistaken for a season. Averaged
    per calendar month, shrunk towards 1 (few years of data are noisy) and clamped.
    Needs two years of history; otherwise every month is 1.
    """
    factors = {m: 1.0 for m in range(1, 13)}
    # Months before the practice's first referral are not quiet months: leave them out.
    first = next((i for i, total in enumerate(monthly_totals) if total), len(monthly_totals))
    monthly_totals, month_numbers = monthly_totals[first:], month_numbers[first:]
    n = len(monthly_totals)
    if n < 24:
        return factors
    ratios: dict[int, list[float]] = {m: [] for m in range(1, 13)}
    for i in range(6, n - 6):
        # Centred 2x12 moving average.
        window = monthly_totals[i - 6 : i + 7]
        average = (sum(window[1:-1]) + (window[0] + window[-1]) / 2) / 12
        if average > 0:
            ratios[month_numbers[i]].append(monthly_totals[i] / average)
    for month, values in ratios.items():
        if values:
            raw = sum(values) / len(values)
            weight = len(values) / (len(values) + 1)
            factors[month] = min(1.4, max(0.7, 1 + weight * (raw - 1)))
    mean = sum(factors.values()) / 12
    return {m: f / mean for m, f in factors.items()}
