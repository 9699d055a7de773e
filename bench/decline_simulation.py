"""Simulate steady offices and offices with an injected drop; measure both decline rules.

For each baseline rate, simulated offices send Poisson(rate) referrals a month (with a
seasonal swing), evaluated month by month exactly as the nightly job does. Reports:
- false alarms per office-year on steady offices (a new alarm = the rule starts firing);
- for a drop to ``ratio`` x rate at a known month: share detected within 3 and 6 months,
  and the median delay in months.

Run: .venv/bin/python bench/decline_simulation.py [--offices 400] [--seed 1]
No database needed: the rules are pure functions (analytics/detection.py).
"""

import argparse
import math
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analytics.detection import CusumRule, ThresholdRule, detect_decline  # noqa: E402

HISTORY = 24  # months of steady history before monitoring starts
MONITOR = 24  # months monitored (steady) / months after the drop


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def season(month_index: int, amplitude: float) -> float:
    return 1 + amplitude * math.sin(2 * math.pi * (month_index % 12) / 12)


def alarms(series, seasonal, rule_threshold, rule_cusum, start):
    """Months (index) at which the rule newly fires, evaluating at each month end."""
    fired_before = False
    starts = []
    for t in range(start, len(series) + 1):
        d = detect_decline(series[:t], seasonal[:t], rule_threshold, rule_cusum)
        if d.declining and not fired_before:
            starts.append(t)
        fired_before = d.declining
    return starts


def simulate(rate, ratio, offices, rng, threshold_rule, cusum_rule, amplitude):
    total = HISTORY + MONITOR
    seasonal = [season(i, amplitude) for i in range(total)]
    false_alarms = 0
    delays = []
    missed = 0
    for _ in range(offices):
        steady = [poisson(rng, rate * seasonal[i]) for i in range(total)]
        false_alarms += len(alarms(steady, seasonal, threshold_rule, cusum_rule, HISTORY))
        dropped = [
            poisson(rng, rate * seasonal[i] * (ratio if i >= HISTORY else 1)) for i in range(total)
        ]
        found = [t for t in alarms(dropped, seasonal, threshold_rule, cusum_rule, HISTORY)]
        if found:
            delays.append(found[0] - HISTORY)  # months of drop seen when it first fires
        else:
            missed += 1
    years = offices * MONITOR / 12
    return {
        "false_alarms_per_office_year": false_alarms / years,
        "detected_3m": sum(1 for d in delays if d <= 3) / offices,
        "detected_6m": sum(1 for d in delays if d <= 6) / offices,
        "median_delay": statistics.median(delays) if delays else float("nan"),
        "missed": missed / offices,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ratio", type=float, default=0.5, help="drop to this share of the rate")
    parser.add_argument("--amplitude", type=float, default=0.15, help="seasonal swing")
    parser.add_argument("--h", type=float, nargs="*", default=[2.0, 2.5, 3.0, 4.0])
    args = parser.parse_args()

    print(
        f"{args.offices} simulated offices per row; drop to {args.ratio:.0%} of the rate; "
        f"seasonal swing ±{args.amplitude:.0%}; {MONITOR} months monitored"
    )
    header = f"{'rule':<28}{'rate':>5}{'FA/office-yr':>14}{'<=3 mo':>8}{'<=6 mo':>8}{'median':>8}"
    print(header)
    print("-" * len(header))
    rules = [("threshold A=8 B=3 N=2", ThresholdRule(), None)] + [
        (f"CUSUM h={h}", None, CusumRule(threshold=h, drop_ratio=args.ratio)) for h in args.h
    ]
    for name, threshold_rule, cusum_rule in rules:
        for rate in (2, 3, 4, 6, 8, 12):
            rng = random.Random(f"{args.seed}-{name}-{rate}")
            r = simulate(
                rate, args.ratio, args.offices, rng, threshold_rule, cusum_rule, args.amplitude
            )
            print(
                f"{name:<28}{rate:>5}{r['false_alarms_per_office_year']:>14.3f}"
                f"{r['detected_3m']:>8.0%}{r['detected_6m']:>8.0%}{r['median_delay']:>8.1f}"
            )


if __name__ == "__main__":
    main()
