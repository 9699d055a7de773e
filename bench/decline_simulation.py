"""Decline detection judged the way a practice would: whole simulated practices, each office
assessed by the product's own status function, next to the oracle.

Each simulated practice has ``--offices`` referring offices with long-tailed base rates
(log-normal, median 2 a month, a few at 8-12), its own monthly seasonality (up to ±30%),
Poisson counts spread over the days of each month, and 4 years of history before the
evaluation date. Most offices are steady; some drop (to 0, 25%, 40% or 50% of their rate,
abruptly or over 1-3 months, 3-12 months before the evaluation date), some are new, some
stopped long ago. Every office's ``OfficeFigures`` is built in memory as
``analytics.nightly.gather_figures`` would from the rollups and referral dates, and
``analytics.scoring.assess_office`` gives its status with the practice book (seasonal index
from the practice's totals, practice-wide slowdown) exactly as the nightly job does. An office
asks for attention when its status is declining, inactive or lost.

Reported per rule:
- recall: offices with a base rate of at least 1.5 a month whose drop to at most half began
  at least 3 months ago, that ask for attention;
- false alarms: steady offices of at least 1 a month that ask for attention;
- the oracle: a change-point likelihood-ratio scan over the last 12 months given the true
  seasonal factors (``analytics.detection.drop_scan`` on all 4 years), its threshold set so
  that its false-alarm share equals the rule's: its recall there is the limit.

A second part simulates practices that slow down as a whole (a surgeon on leave: every
office at 55% for the last 2-5 months) and reports how often the board's banner shows it and
how many steady offices each rule blames.

Run: .venv/bin/python bench/decline_simulation.py [--practices 300] [--offices 40] [--seed 2]
Tune on one seed, report on another. No database needed: the rules are pure functions.
"""

import argparse
import calendar
import datetime as dt
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field, replace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analytics.choices import ReferrerStatus  # noqa: E402
from analytics.detection import CusumRule, GlrRule, drop_scan  # noqa: E402
from analytics.scoring import (  # noqa: E402
    HISTORY_MONTHS,
    HealthRules,
    OfficeFigures,
    assess_office,
    month_starts,
    practice_book,
)

AS_OF = dt.date(2026, 11, 16)
YEARS = 4
ATTENTION = {ReferrerStatus.DECLINING, ReferrerStatus.INACTIVE, ReferrerStatus.LOST}
RATIOS = (0.0, 0.25, 0.4, 0.5)

# The rule before issue 11: threshold rule + seasonal CUSUM, fixed 90-day inactive, the
# practice's season taken with the office in it, no practice-wide slowdown, 36 months read.
OLD_RULES = HealthRules(
    statistical=CusumRule(), silence=None, slowdown=None, seasonal_without_office=False
)
OLD_HISTORY_MONTHS = 36
NEW_RULES = HealthRules()


def history_months(rules: HealthRules) -> int:
    return OLD_HISTORY_MONTHS if rules is OLD_RULES else HISTORY_MONTHS


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


@dataclass
class SimOffice:
    kind: str  # steady | drop | new | stopped
    rate: float
    days: list[dt.date] = field(default_factory=list)
    monthly: list[int] = field(default_factory=list)  # every full month of the 4 years
    ratio: float = 1.0
    onset_months_ago: int = 0
    first_month: int = 0  # index of the office's first possible month


@dataclass
class SimPractice:
    months: list[dt.date]  # the full months of the 4 years, oldest first
    factors: dict[int, float]  # the true seasonal factor per calendar month
    offices: list[SimOffice]
    slowdown_months: int = 0


def true_season(rng: random.Random) -> dict[int, float]:
    amplitude = rng.uniform(0.05, 0.30)
    phase, phase2, second = rng.uniform(0, 12), rng.uniform(0, 12), rng.uniform(-0.4, 0.4)
    shape = {
        m: math.sin(2 * math.pi * (m + phase) / 12)
        + second * math.sin(4 * math.pi * (m + phase2) / 12)
        for m in range(1, 13)
    }
    mean = sum(shape.values()) / 12
    peak = max(abs(v - mean) for v in shape.values())
    return {m: 1 + amplitude * (v - mean) / peak for m, v in shape.items()}


def base_rate(rng: random.Random) -> float:
    return min(12.0, max(0.2, math.exp(rng.gauss(math.log(2.0), 0.8))))


def simulate_practice(rng: random.Random, offices: int, slowdown_months: int = 0) -> SimPractice:
    n = YEARS * 12
    months = month_starts(AS_OF, n)
    factors = true_season(rng)
    practice = SimPractice(months, factors, [], slowdown_months)
    for _ in range(offices):
        roll = rng.random()
        office = SimOffice("steady", base_rate(rng))
        profile = [1.0] * (n + 1)  # the last entry is the current, partial month
        if roll < 0.15:
            office.kind = "drop"
            office.ratio = rng.choice(RATIOS)
            office.onset_months_ago = rng.randint(3, 12)
            ramp = rng.choice((0, 1, 2, 3))
            onset = n - office.onset_months_ago
            for i in range(onset, n + 1):
                step = min(1.0, (i - onset + 1) / (ramp + 1))
                profile[i] = 1 - step * (1 - office.ratio)
        elif roll < 0.22:
            office.kind = "new"
            office.first_month = n - rng.randint(0, 14)
        elif roll < 0.28:
            office.kind = "stopped"
            stop = n - rng.randint(13, 36)
            office.first_month = rng.randint(0, max(0, stop - 6))
            profile = [1.0 if i < stop else 0.0 for i in range(n + 1)]
        elif roll < 0.38:
            # A steady office that started referring within the 4 years.
            office.first_month = rng.randint(1, n - 18)
        for i in range(n + 1):
            if i < office.first_month:
                profile[i] = 0.0
            if slowdown_months and i >= n - slowdown_months:
                profile[i] *= 0.55
        for i in range(n + 1):
            month = months[i] if i < n else AS_OF.replace(day=1)
            length = calendar.monthrange(month.year, month.month)[1]
            share = 1.0 if i < n else AS_OF.day / length
            count = poisson(rng, office.rate * factors[month.month] * profile[i] * share)
            last_day = length if i < n else AS_OF.day
            office.days += [month.replace(day=rng.randint(1, last_day)) for _ in range(count)]
            if i < n:
                office.monthly.append(count)
        practice.offices.append(office)
    return practice


def figures_of(office_id: int, office: SimOffice, history: int) -> OfficeFigures:
    """What gather_figures reads for the office: rollups of the last ``history`` full
    months, dates and 30/60/90-day counts of its referrals."""
    days = office.days
    f = OfficeFigures(
        office_id,
        min(days) if days else None,
        max(days) if days else None,
        monthly=office.monthly[-history:],
    )
    for day in days:
        age = (AS_OF - day).days
        f.count_30 += age < 30
        f.count_60 += age < 60
        f.count_90 += age < 90
        f.partial_month += day >= AS_OF.replace(day=1)
    return f


def assess_practice(practice: SimPractice, rules: HealthRules) -> tuple[list[str], bool]:
    """Every office's status through the product's functions; and whether the practice-wide
    slowdown banner shows."""
    history = history_months(rules)
    figures = [figures_of(i, o, history) for i, o in enumerate(practice.offices)]
    months = practice.months[-history:]
    totals = [sum(col) for col in zip(*(f.monthly for f in figures), strict=True)]
    book = practice_book(totals, months, rules, [f.monthly for f in figures])
    return [assess_office(f, AS_OF, rules, book).status for f in figures], book.slowdown is not None


def oracle_statistic(practice: SimPractice, office: SimOffice) -> float:
    """The change-point scan over the last 12 months given the true seasons, on all the
    office's months since its first referral (unknown onset and rate since)."""
    if not office.days:
        return 0.0
    first = min(office.days).replace(day=1)
    start = sum(1 for m in practice.months if m < first)
    seasonal = [practice.factors[m.month] for m in practice.months]
    return drop_scan(
        office.monthly[start:], seasonal[start:], window=12, baseline_months=48
    ).statistic


def known_rate_statistic(practice: SimPractice, office: SimOffice) -> float:
    """A stronger limit than the oracle: the scan that also knows the office's true rate
    before the drop (only the onset and the rate since are unknown)."""
    seasonal = [practice.factors[m.month] for m in practice.months]
    counts, n, best = office.monthly, len(office.monthly), 0.0
    for k in range(n - 12, n):
        x1, s1 = sum(counts[k:]), office.rate * sum(seasonal[k:])
        r1 = x1 / s1
        if r1 < 1:
            best = max(best, (x1 * math.log(r1) if x1 else 0.0) - (x1 - s1))
    return best


def is_target(office: SimOffice) -> bool:
    return office.kind == "drop" and office.rate >= 1.5 and office.onset_months_ago >= 3


def is_steady(office: SimOffice) -> bool:
    return office.kind == "steady" and office.rate >= 1.0


def oracle_recall(targets: list[float], steady: list[float], false_alarms: float) -> float:
    """Recall of the oracle with its threshold set at the false-alarm share given."""
    ranked = sorted(steady, reverse=True)
    allowed = int(false_alarms * len(ranked))
    # Flag more than the ``allowed`` highest steady statistics never: ties go against it.
    threshold = ranked[allowed] if allowed < len(ranked) else -1.0
    return sum(1 for s in targets if s > threshold) / len(targets)


def evaluate(practices: list[SimPractice], rules: dict[str, HealthRules]) -> dict:
    results = {}
    for name, r in rules.items():
        hit = total = alarms = steady = banners = 0
        by_kind: dict[str, list[int]] = {}
        for p in practices:
            statuses, banner = assess_practice(p, r)
            banners += banner
            for office, status in zip(p.offices, statuses, strict=True):
                flagged = status in ATTENTION
                if is_target(office):
                    total += 1
                    hit += flagged
                    since = office.onset_months_ago
                    for key in (
                        f"to {office.ratio:.0%}",
                        "3-5 mo" if since <= 5 else "6-8 mo" if since <= 8 else "9-12 mo",
                    ):
                        by_kind.setdefault(key, [0, 0])
                        by_kind[key][0] += flagged
                        by_kind[key][1] += 1
                if is_steady(office):
                    steady += 1
                    alarms += flagged
        results[name] = {
            "recall": hit / total,
            "false_alarms": alarms / steady,
            "targets": total,
            "steady": steady,
            "by_ratio": {k: v[0] / v[1] for k, v in by_kind.items() if k.startswith("to")},
            "by_age": {k: v[0] / v[1] for k, v in by_kind.items() if k.endswith("mo")},
            "banners": banners / len(practices),
        }
    target_stats, steady_stats, target_known, steady_known = [], [], [], []
    for p in practices:
        for office in p.offices:
            if is_target(office):
                target_stats.append(oracle_statistic(p, office))
                target_known.append(known_rate_statistic(p, office))
            elif is_steady(office):
                steady_stats.append(oracle_statistic(p, office))
                steady_known.append(known_rate_statistic(p, office))
    for r in results.values():
        r["oracle"] = oracle_recall(target_stats, steady_stats, r["false_alarms"])
    results["oracle at 5%"] = {"oracle": oracle_recall(target_stats, steady_stats, 0.05)}
    results["oracle, true rate too, at 5%"] = {
        "oracle": oracle_recall(target_known, steady_known, 0.05)
    }
    return results


def slowdown_part(seed: int, count: int, offices: int, rules: dict[str, HealthRules]) -> None:
    rng = random.Random(f"slowdown-{seed}")
    practices = [simulate_practice(rng, offices, rng.randint(2, 5)) for _ in range(count)]
    print(
        f"\nPractice-wide slowdown: {count} practices, every office at 55% for the last 2-5 months"
    )
    print(f"{'rule':<10}{'banner shown':>14}{'steady offices flagged':>24}")
    for name, r in rules.items():
        banners = flagged = steady = 0
        for p in practices:
            statuses, banner = assess_practice(p, r)
            banners += banner
            for office, status in zip(p.offices, statuses, strict=True):
                if is_steady(office):
                    steady += 1
                    flagged += status in ATTENTION
        print(f"{name:<10}{banners / count:>14.0%}{flagged / steady:>24.1%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=300)
    parser.add_argument("--offices", type=int, default=40)
    parser.add_argument("--seed", type=int, default=2, help="1 tunes the defaults; report on 2")
    parser.add_argument(
        "--glr", type=float, nargs="*", default=[], help="also try these GLR thresholds"
    )
    parser.add_argument("--slowdown-practices", type=int, default=40)
    args = parser.parse_args()

    started = time.perf_counter()
    rng = random.Random(args.seed)
    practices = [simulate_practice(rng, args.offices) for _ in range(args.practices)]
    rules = {"old": OLD_RULES, "new": NEW_RULES}
    for h in args.glr:
        rules[f"GLR h={h}"] = replace(NEW_RULES, statistical=GlrRule(threshold=h))
    results = evaluate(practices, rules)
    first = next(iter(results.values()))
    print(
        f"seed {args.seed}: {args.practices} practices x {args.offices} offices; "
        f"{first['targets']} dropped offices (>=1.5/month, drop to <=50% >=3 months ago), "
        f"{first['steady']} steady offices (>=1/month)"
    )
    header = f"{'rule':<30}{'recall':>8}{'false alarms':>14}{'oracle recall':>15}{'gap':>7}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        if "recall" not in r:
            print(f"{name:<30}{'':>8}{'5.0%':>14}{r['oracle']:>15.3f}")
            continue
        gap = r["oracle"] - r["recall"]
        print(
            f"{name:<30}{r['recall']:>8.3f}{r['false_alarms']:>14.1%}{r['oracle']:>15.3f}"
            f"{gap:>7.3f}"
        )
    print("\nslowdown banner shown (wrongly) in ordinary practices")
    for name, r in results.items():
        if "banners" in r:
            print(f"{name:<30}{r['banners']:.1%}")
    print("\nrecall by depth of the drop, and by months since it began")
    for name, r in results.items():
        if "by_ratio" in r:
            ratios = "  ".join(f"{k}: {r['by_ratio'][k]:.2f}" for k in sorted(r["by_ratio"]))
            ages = "  ".join(f"{k}: {r['by_age'][k]:.2f}" for k in ("3-5 mo", "6-8 mo", "9-12 mo"))
            print(f"{name:<30}{ratios}  |  {ages}")
    if args.slowdown_practices:
        slowdown_part(
            args.seed, args.slowdown_practices, args.offices, {"old": OLD_RULES, "new": NEW_RULES}
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
