"""Decline detection on monthly referral counts: the article's threshold rule, a
change-point likelihood-ratio scan (the default statistical rule) and the older seasonal
Poisson CUSUM, the silence of an office against its own rate, a practice-wide slowdown, and
the 80% band of what a steady office would have sent. Pure functions of series; explained,
with the simulated evaluation, in docs/decline-detection.md.
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
    statistic: float  # the GLR or CUSUM statistic at the last full month
    onset: int | None  # index in the series of the first month of the drop
    baseline_rate: float  # raw referrals a month over the 12 months before the onset
    recent_rate: float  # raw referrals a month since the onset
    # Season-adjusted referrals a month before the onset: times a month's seasonal factor,
    # what that month should have brought (the evidence and the chart's band).
    expected_rate: float = 0.0

    @property
    def declining(self) -> bool:
        return self.threshold_rule or self.statistical_rule

    def drop_months(self, length: int) -> int:
        return 0 if self.onset is None else length - self.onset


# --- the generalized likelihood-ratio rule ------------------------------------------------


@dataclass(frozen=True)
class GlrRule:
    """(c) A generalized likelihood-ratio scan for a drop at an unknown month to an unknown
    rate. For every candidate onset in the last ``window`` months, "one rate before, a lower
    one since" is weighed against "one rate throughout", both rates estimated from the
    office's own months (season-adjusted); the office is flagged when the best onset's log
    likelihood ratio reaches ``threshold`` and the rate since is at most ``max_ratio`` of
    the rate before."""

    # Tuned on the bench's seed 1 (false alarms under 5% of steady offices); see the docs.
    threshold: float = 3.0
    max_ratio: float = 0.7
    min_baseline: float = 1.5
    # Months before the onset that make its baseline: all the history up to this many.
    baseline_months: int = 48
    window: int = 12
    min_history: int = 6


@dataclass(frozen=True)
class ChangePoint:
    statistic: float  # log likelihood ratio at the best onset (0 when no drop)
    onset: int | None  # index of the first month of the drop
    rate_before: float  # season-adjusted referrals a month before the onset
    rate_since: float  # season-adjusted referrals a month since the onset


NO_CHANGE = ChangePoint(0.0, None, 0.0, 0.0)


def _xlogy(x: float, y: float) -> float:
    return x * math.log(y) if x > 0 else 0.0


def drop_scan(
    counts: list[int],
    expected_shape: list[float],
    *,
    window: int = 12,
    baseline_months: int = 48,
    min_history: int = 6,
) -> ChangePoint:
    """The two-sample Poisson change-point scan behind :class:`GlrRule` (also the bench's
    oracle, given the true seasons). ``expected_shape[t]`` scales month t's expectation (the
    seasonal factor, times the practice's level in a practice-wide slowdown).

    For onset k: X0, S0 = counts and shape summed over the baseline months before k, X1, S1
    over k to the end; rates X0/S0 and X1/S1 against the pooled (X0+X1)/(S0+S1). The log
    likelihood ratio is X0·ln(r0/r) + X1·ln(r1/r) (the expectation terms cancel at the
    estimates). Only drops count (r1 < r0)."""
    length = len(counts)
    best = NO_CHANGE
    # Running sums: x[i] and s[i] total the first i months.
    x, s = [0] * (length + 1), [0.0] * (length + 1)
    for i in range(length):
        x[i + 1], s[i + 1] = x[i] + counts[i], s[i] + expected_shape[i]
    for k in range(max(min_history, length - window), length):
        begin = max(0, k - baseline_months)
        x0, s0 = x[k] - x[begin], s[k] - s[begin]
        x1, s1 = x[length] - x[k], s[length] - s[k]
        if s0 <= 0 or s1 <= 0:
            continue
        r0, r1 = x0 / s0, x1 / s1
        if r1 >= r0:
            continue
        pooled = (x0 + x1) / (s0 + s1)
        statistic = _xlogy(x0, r0 / pooled) + _xlogy(x1, r1 / pooled)
        if statistic > best.statistic:
            best = ChangePoint(statistic, k, r0, r1)
    return best


def glr_rule_fires(change: ChangePoint, rule: GlrRule) -> bool:
    return (
        change.onset is not None
        and change.rate_before >= rule.min_baseline
        and change.statistic >= rule.threshold
        and change.rate_since <= rule.max_ratio * change.rate_before
    )


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


def _baseline(counts, seasonal, end, months, min_history=1) -> float | None:
    """Season-adjusted referrals a month over up to ``months`` months before ``end``."""
    begin = max(0, end - months)
    if end - begin < min_history:
        return None
    return sum(counts[begin:end]) / sum(seasonal[begin:end])


def _cusum_baseline(counts, seasonal, end, rule) -> float | None:
    begin = max(0, end - rule.baseline_months)
    if end - begin < rule.min_history:
        return None
    return sum(counts[i] / seasonal[i] for i in range(begin, end)) / (end - begin)


def detect_decline(
    counts: list[int],
    seasonal: list[float],
    threshold: ThresholdRule | None,
    statistical: "CusumRule | GlrRule | None",
) -> Decline:
    """Assess a series of full-month counts (oldest first) with a seasonal factor per month
    (times the practice's level when the whole practice slowed down).

    The statistical rule is the GLR scan (default) or the older CUSUM; the threshold rule
    may fire beside either."""
    if isinstance(statistical, GlrRule):
        return _detect_glr(counts, seasonal, threshold, statistical)
    return _detect_cusum(counts, seasonal, threshold, statistical)


def _recovered(counts, seasonal, onset, rate_before, rate_since) -> bool:
    """A drop that is over: the last months are closer to the rate before than to the rate
    during the drop (the statistics remember a long drop for months after the office came
    back)."""
    length = len(counts)
    if onset is None or length - onset <= RECOVERY_MONTHS:
        return False
    tail = range(length - RECOVERY_MONTHS, length)
    recent = sum(counts[i] for i in tail) / sum(seasonal[i] for i in tail)
    return recent >= (rate_before + rate_since) / 2


def _threshold_onset(counts, threshold: ThresholdRule) -> int:
    onset = len(counts) - threshold.months
    # Extend back over the months that were already at or below the threshold.
    while onset > 0 and counts[onset - 1] <= threshold.max_recent:
        onset -= 1
    return onset


def _decline(counts, fired_threshold, fired_statistical, statistic, onset, rate_before):
    length = len(counts)
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
        statistic=round(statistic, 3),
        onset=onset,
        baseline_rate=baseline_rate,
        recent_rate=recent_rate,
        expected_rate=rate_before,
    )


def _detect_glr(counts, seasonal, threshold, rule: GlrRule) -> Decline:
    change = drop_scan(
        counts,
        seasonal,
        window=rule.window,
        baseline_months=rule.baseline_months,
        min_history=rule.min_history,
    )
    fired = glr_rule_fires(change, rule) and not _recovered(
        counts, seasonal, change.onset, change.rate_before, change.rate_since
    )
    fired_threshold = bool(threshold) and threshold_rule_fires(counts, threshold)
    onset, rate_before = change.onset, change.rate_before
    if fired_threshold and not fired:
        onset = _threshold_onset(counts, threshold)
        rate_before = _baseline(counts, seasonal, onset, 12) or 0.0
    return _decline(counts, fired_threshold, fired, change.statistic, onset, rate_before)


def _detect_cusum(counts, seasonal, threshold, cusum: CusumRule | None) -> Decline:
    """The seasonal Poisson CUSUM (the rule before the GLR scan). The baseline must come
    from before the drop, but where the drop starts is what we look for: a first pass takes
    the baseline from before the monitored window, a second from before the onset found."""
    length = len(counts)
    fired_threshold = bool(threshold) and threshold_rule_fires(counts, threshold)
    statistic, onset, lam0 = 0.0, None, None
    if cusum is not None:
        start = max(0, length - cusum.window)
        lam0 = _cusum_baseline(counts, seasonal, start, cusum)
        if lam0 is not None and lam0 >= cusum.min_baseline:
            statistic, onset = _cusum(counts, seasonal, lam0, cusum, start)
            if onset is not None:
                refined = _cusum_baseline(counts, seasonal, onset, cusum)
                if refined is not None and refined >= cusum.min_baseline:
                    lam0 = refined
                    statistic, onset = _cusum(counts, seasonal, lam0, cusum, start)
        else:
            lam0 = None
    fired_statistical = cusum is not None and lam0 is not None and statistic >= cusum.threshold
    if fired_statistical and _recovered(counts, seasonal, onset, lam0, lam0 * cusum.drop_ratio):
        fired_statistical = False
    if fired_threshold and (onset is None or not fired_statistical):
        onset = _threshold_onset(counts, threshold)
        lam0 = _baseline(counts, seasonal, onset, 12)
    return _decline(counts, fired_threshold, fired_statistical, statistic, onset, lam0 or 0.0)


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
    # Per calendar month: the sum and number of its ratios (added in month order, as summing
    # a list of them would). Running sums (whole numbers, so the same averages as summing
    # each window): this runs once per office a night (seasons without the office itself).
    sums, counts = [0.0] * 13, [0] * 13
    running = [0] * (n + 1)
    for i, total in enumerate(monthly_totals):
        running[i + 1] = running[i] + total
    for i in range(6, n - 6):
        # Centred 2x12 moving average.
        inner = running[i + 6] - running[i - 5]
        average = (inner + (monthly_totals[i - 6] + monthly_totals[i + 6]) / 2) / 12
        if average > 0:
            month = month_numbers[i]
            sums[month] += monthly_totals[i] / average
            counts[month] += 1
    for month in range(1, 13):
        if counts[month]:
            raw = sums[month] / counts[month]
            weight = counts[month] / (counts[month] + 1)
            factors[month] = min(1.4, max(0.7, 1 + weight * (raw - 1)))
    mean = sum(factors.values()) / 12
    return {m: f / mean for m, f in factors.items()}


# --- silence, practice-wide slowdowns, bands ---------------------------------------------


@dataclass(frozen=True)
class SilenceRule:
    """An office is inactive when it has been silent for longer than a steady office of its
    own rate almost ever is: no referral in t months at λ a month happens with probability
    e^(−λ·t) (season-adjusted). Beside the fixed "inactive after N days", which still
    applies; ``min_days`` keeps a busy office's fortnight off the board."""

    odds: float = 0.002
    min_days: int = 30
    min_rate: float = 1.0


def silence_probability(rate: float, expected_months: float) -> float:
    """Chance that a steady office sending ``rate`` a month sends nothing over a stretch
    worth ``expected_months`` ordinary months (its days × their seasonal factors)."""
    return math.exp(-rate * expected_months)


@dataclass(frozen=True)
class SlowdownRule:
    """The whole practice slowing down (a surgeon on leave, a closed referral channel): the
    same scan on the practice's monthly totals, at a much stricter threshold, and broad —
    the median office (of those sending at least ``min_rate`` a month before) fell to at
    most ``max_ratio`` of its rate. A few offices dropping hard move the total, not the
    median: they stay each office's own decline."""

    threshold: float = 10.0
    max_ratio: float = 0.75
    # Small offices' ratios over a few months are skewed low (a Poisson count's median is
    # under its mean): at 1 a month the median office of a steady practice reads 0.8.
    min_rate: float = 2.0
    # With fewer offices than this, "most offices" is two or three of them: each is judged
    # on its own (the article's three of four offices dropping are three declines).
    min_offices: int = 5
    max_share_above: float = 0.1
    window: int = 12
    baseline_months: int = 48
    min_history: int = 12


@dataclass(frozen=True)
class Slowdown:
    onset: int  # index of the first month of the slowdown in the practice's series
    ratio: float  # the median office's season-adjusted rate since over its rate before
    statistic: float
    expected: float  # referrals the practice should have had since the onset
    received: int


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def practice_slowdown(
    totals: list[int], seasonal: list[float], rule: SlowdownRule, offices: list[list[int]]
) -> Slowdown | None:
    """A practice-wide drop, or None. ``totals`` are the practice's monthly referrals and
    ``offices`` each office's monthly counts (aligned with ``totals``)."""
    first = next((i for i, total in enumerate(totals) if total), len(totals))
    change = drop_scan(
        totals[first:],
        seasonal[first:],
        window=rule.window,
        baseline_months=rule.baseline_months,
        min_history=rule.min_history,
    )
    if change.onset is None or change.statistic < rule.threshold:
        return None
    onset = first + change.onset
    if _recovered(totals, seasonal, onset, change.rate_before, change.rate_since):
        return None
    begin = max(first, onset - rule.baseline_months)
    since_weight = sum(seasonal[onset:])
    ratios, pace = [], []
    for counts in offices:
        # Each office from its own first referral: months before it are not zeros.
        start = next((i for i in range(begin, onset) if counts[i]), onset)
        if onset - start < rule.min_history:
            continue
        before = sum(counts[start:onset]) / sum(seasonal[start:onset])
        if before >= rule.min_rate:
            ratios.append(sum(counts[onset:]) / since_weight / before)
            pace.append((sum(counts[onset:]), before * since_weight))
    if len(ratios) < rule.min_offices or _median(ratios) > rule.max_ratio:
        return None
    ratio = _median(ratios)
    # A slowdown of the whole practice slows every office alike. Offices that kept a pace
    # well above it (a count a steady office at the practice's new pace would reach less
    # than 1 time in 100) mean that some offices dropped, not the practice: each is then
    # judged on its own.
    pooled = sum(came for came, _ in pace) / sum(usual for _, usual in pace)
    above = sum(1 for came, usual in pace if _poisson_tail(came, pooled * usual) < 0.001)
    if above > rule.max_share_above * len(pace):
        return None
    return Slowdown(
        onset=onset,
        ratio=ratio,
        statistic=round(change.statistic, 3),
        expected=change.rate_before * since_weight,
        received=sum(totals[onset:]),
    )


def practice_level(length: int, slowdown: Slowdown | None) -> list[float]:
    """Per month, the practice's activity relative to before its slowdown (1 throughout
    when there is none): each office's expectation is scaled by it, so an office that slowed
    down with the whole practice is not declining on its own."""
    if slowdown is None:
        return [1.0] * length
    return [1.0] * slowdown.onset + [slowdown.ratio] * (length - slowdown.onset)


def _poisson_tail(count: int, mean: float) -> float:
    """P(X ≥ count) for a Poisson count of mean ``mean``."""
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    term = math.exp(-mean)
    if term == 0.0:  # a mean past ~700: the normal approximation
        return 0.5 * math.erfc((count - 0.5 - mean) / math.sqrt(2 * mean))
    below = 0.0
    for k in range(count):
        below += term
        term *= mean / (k + 1)
    return max(0.0, 1.0 - below)


def poisson_band(mean: float, low: float = 0.1, high: float = 0.9) -> tuple[int, int]:
    """The ``low`` and ``high`` quantiles of a Poisson count of mean ``mean`` (80% band by
    default): what a steady office would have sent, 8 times in 10."""
    if mean <= 0:
        return 0, 0
    if mean > 400:  # far past where the normal approximation is exact enough
        spread = 1.2816 * math.sqrt(mean)
        return max(0, math.floor(mean - spread)), math.ceil(mean + spread)
    k, term = 0, math.exp(-mean)
    cumulative = term
    bounds = []
    for q in (low, high):
        while cumulative < q:
            k += 1
            term *= mean / k
            cumulative += term
        bounds.append(k)
    return bounds[0], bounds[1]
