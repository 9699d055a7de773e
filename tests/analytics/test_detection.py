"""Both decline rules on crafted series: they flag the drop and stay quiet on noise."""

import random

import pytest

from analytics.detection import (
    CusumRule,
    ThresholdRule,
    detect_decline,
    seasonal_index,
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
