"""The decline rules on crafted series (noiseless and edge cases): they flag the drop and
stay quiet on noise, seasons, gaps, recoveries and a practice-wide slowdown."""

import random

import pytest

from analytics.detection import (
    NO_CHANGE,
    CusumRule,
    GlrRule,
    SlowdownRule,
    ThresholdRule,
    detect_decline,
    drop_scan,
    poisson_band,
    practice_level,
    practice_slowdown,
    seasonal_index,
    silence_probability,
    threshold_rule_fires,
)

FLAT = [1.0] * 36


def test_threshold_rule_fires_on_the_articles_pattern():
    series = [9] * 12 + [3, 2]
    assert threshold_rule_fires(series, ThresholdRule())


@pytest.mark.parametrize(
    "series",
    [
        [9] * 12 + [3, 4],  # only one month at or below 3
        [7] * 12 + [2, 2],  # baseline under 8
        [9] * 10 + [2, 2],  # not enough baseline months
    ],
)
def test_threshold_rule_boundaries(series):
    assert not threshold_rule_fires(series, ThresholdRule())


def test_threshold_rule_at_its_exact_limits():
    assert threshold_rule_fires([8] * 12 + [3, 3], ThresholdRule())


def first_alarm(series, start):
    for t in range(start, len(series) + 1):
        if detect_decline(series[:t], FLAT[:t], None, CusumRule()).statistical_rule:
            return t - start
    return None


@pytest.mark.parametrize("rate, within", [(12, 2), (6, 4), (4, 5)])
def test_cusum_flags_a_steady_office_halving(rate, within):
    # A noiseless halving is caught after a few months; how many depends on the size of the
    # office (the simulation in bench/ gives the spread with noise).
    series = [rate] * 24 + [rate // 2] * 8
    assert first_alarm(series, 24) == within
    decline = detect_decline(series[: 24 + within], FLAT, None, CusumRule())
    assert decline.onset == 24
    assert decline.baseline_rate == rate and decline.recent_rate == rate // 2


def test_cusum_catches_what_the_threshold_rule_cannot():
    series = [6] * 16 + [2] * 8
    decline = detect_decline(series, FLAT[:24], ThresholdRule(), CusumRule())
    assert decline.statistical_rule and not decline.threshold_rule
    assert decline.drop_months(len(series)) == 8


def test_cusum_stays_quiet_on_poisson_noise():
    rng = random.Random(7)
    alarms = 0
    offices = 200
    for _ in range(offices):
        rate = rng.uniform(2, 8)
        # numpy-free Poisson draws (Knuth) for a steady office.
        series = []
        for _ in range(36):
            limit, k, p = pow(2.718281828, -rate), 0, 1.0
            while True:
                p *= rng.random()
                if p <= limit:
                    break
                k += 1
            series.append(k)
        if detect_decline(series, FLAT, None, CusumRule()).statistical_rule:
            alarms += 1
    # Measured on the simulated steady offices: a few percent alarm at a given moment.
    assert alarms / offices < 0.08


def test_seasonality_explains_a_seasonal_dip():
    # A practice whose Decembers are half as busy; an office following the season is not
    # declining in December.
    months = [(i % 12) + 1 for i in range(36)]
    totals = [50 if m == 12 else 100 for m in months]
    factors = seasonal_index(totals, months)
    assert factors[12] < 0.8 and factors[6] > 0.95
    seasonal = [factors[m] for m in months]
    office = [3 if m == 12 else 6 for m in months[:-1]] + [3]
    assert not detect_decline(office, seasonal, None, CusumRule()).statistical_rule
    # Without the season, the same December looks like the start of a drop to half.
    assert detect_decline(office, FLAT, None, CusumRule()).statistic > 0


def test_an_office_too_small_for_the_test_is_left_alone():
    series = [1, 0, 1, 1, 0, 2, 1, 0, 1, 1, 1, 0] * 2 + [0, 0, 0]
    assert not detect_decline(series, FLAT[:27], None, CusumRule()).statistical_rule


# --- the GLR change-point rule ------------------------------------------------------------


def first_glr_alarm(series, start, seasonal=None):
    seasonal = seasonal or [1.0] * len(series)
    for t in range(start + 1, len(series) + 1):
        if detect_decline(series[:t], seasonal[:t], None, GlrRule()).statistical_rule:
            return t - start
    return None


@pytest.mark.parametrize("rate, within", [(12, 2), (6, 4), (4, 6)])
def test_glr_flags_a_noiseless_halving_and_finds_its_onset(rate, within):
    series = [rate] * 36 + [rate // 2] * 8
    assert first_glr_alarm(series, 36) == within
    decline = detect_decline(series, [1.0] * 44, None, GlrRule())
    assert decline.statistical_rule and decline.onset == 36
    assert (decline.baseline_rate, decline.recent_rate, decline.expected_rate) == (
        rate,
        rate // 2,
        rate,
    )


def test_glr_estimates_the_rate_since_whatever_the_depth():
    change = drop_scan([5] * 30 + [1] * 6, [1.0] * 36)
    assert change.onset == 30 and change.rate_before == 5 and change.rate_since == 1
    # Nothing to find in a steady office, nor in one that grows.
    assert drop_scan([5] * 36, [1.0] * 36) == NO_CHANGE
    assert drop_scan([3] * 18 + [6] * 18, [1.0] * 36).onset is None


def test_glr_leaves_a_new_office_alone():
    # Four months of history: no baseline to compare with (the status is "new" anyway).
    assert not detect_decline([6, 5, 0, 0], [1.0] * 4, None, GlrRule()).declining


def test_glr_does_not_mistake_an_office_with_gaps_for_a_drop():
    # An office that pauses every August (its dentist's holiday) and is back since.
    series = [0 if i % 12 == 7 else 4 for i in range(40)]
    assert not detect_decline(series, [1.0] * 40, None, GlrRule()).declining
    # A long gap two years ago (a practice sale) does not make today's months a drop.
    series = [4] * 6 + [0] * 6 + [4] * 28
    assert not detect_decline(series, [1.0] * 40, None, GlrRule()).declining


def test_a_recovered_office_is_not_declining_any_more():
    dropped = [6] * 30 + [1] * 5
    assert detect_decline(dropped, [1.0] * 35, None, GlrRule()).declining
    recovered = dropped + [6, 6, 6]
    assert not detect_decline(recovered, [1.0] * 38, None, GlrRule()).declining


def test_glr_reads_a_seasonal_dip_as_the_season():
    months = [(i % 12) + 1 for i in range(48)]
    totals = [40 if m in (6, 7, 8) else 100 for m in months]
    factors = seasonal_index(totals, months)
    seasonal = [factors[m] for m in months]
    # An office that follows the practice's quiet summer, ending in August.
    office = [2 if m in (6, 7, 8) else 6 for m in months[:44]]
    assert not detect_decline(office, seasonal[:44], None, GlrRule()).declining
    # Without the season the same summer looks like a drop to half.
    assert detect_decline(office, [1.0] * 44, None, GlrRule()).declining


def test_the_threshold_rule_stays_available_beside_the_glr():
    series = [9] * 30 + [3, 2]
    off = GlrRule(threshold=1000)
    decline = detect_decline(series, [1.0] * 32, ThresholdRule(), off)
    assert decline.threshold_rule and not decline.statistical_rule
    assert decline.onset == 30 and decline.expected_rate == 9


def test_a_drop_too_shallow_is_not_flagged_however_sure():
    # 12 a month to 10 for a year is real but not a referrer going away.
    series = [12] * 36 + [10] * 12
    assert not detect_decline(series, [1.0] * 48, None, GlrRule()).declining


# --- silence, bands, practice-wide slowdowns ----------------------------------------------


def test_silence_probability_of_a_steady_office():
    # An office sending 6 a month is silent for a whole month e^-6 ≈ 1 time in 400.
    assert silence_probability(6, 1.0) == pytest.approx(0.00248, abs=1e-5)
    assert silence_probability(1, 3.0) == pytest.approx(0.0498, abs=1e-4)


@pytest.mark.parametrize(
    "mean, band", [(0, (0, 0)), (2, (0, 4)), (6, (3, 9)), (11, (7, 15)), (1000, (959, 1041))]
)
def test_poisson_band_is_the_80_percent_range(mean, band):
    assert poisson_band(mean) == band


def practice(offices: list[list[int]]) -> tuple[list[int], list[float]]:
    return [sum(col) for col in zip(*offices, strict=True)], [1.0] * len(offices[0])


def test_a_practice_wide_slowdown_is_found_on_the_totals():
    # Ten offices, each down to 60% over the last four months (a surgeon on leave).
    offices = [[r] * 44 + [round(r * 0.6)] * 4 for r in (2, 3, 4, 5, 5, 6, 8, 10, 3, 4)]
    totals, seasonal = practice(offices)
    slowdown = practice_slowdown(totals, seasonal, SlowdownRule(), offices)
    assert slowdown is not None and slowdown.onset == 44
    assert slowdown.received == sum(totals[44:]) and slowdown.expected == sum(totals[:1]) * 4
    assert 0.5 <= slowdown.ratio <= 0.7
    level = practice_level(48, slowdown)
    assert level[:44] == [1.0] * 44 and level[44:] == [slowdown.ratio] * 4


def test_a_few_offices_dropping_hard_are_not_a_practice_wide_slowdown():
    # Two big offices stop; the eight others keep their pace: the total falls by 40%.
    offices = [[12] * 44 + [0] * 4] * 2 + [[4] * 48] * 8
    totals, seasonal = practice(offices)
    assert practice_slowdown(totals, seasonal, SlowdownRule(), offices) is None


def test_an_office_that_slowed_with_the_practice_is_not_declining_on_its_own():
    offices = [[r] * 44 + [round(r * 0.5)] * 4 for r in (4, 4, 6, 6, 8, 8, 10, 4)]
    totals, seasonal = practice(offices)
    slowdown = practice_slowdown(totals, seasonal, SlowdownRule(), offices)
    shape = [s * level for s, level in zip(seasonal, practice_level(48, slowdown), strict=True)]
    assert not detect_decline(offices[4], shape, None, GlrRule()).declining
    # Judged without the practice's pace, every one of them would be.
    assert detect_decline(offices[4], seasonal, None, GlrRule()).declining
    # An office that stopped altogether drops far below the practice's pace: still flagged.
    assert detect_decline([8] * 44 + [0] * 4, shape, None, GlrRule()).declining
