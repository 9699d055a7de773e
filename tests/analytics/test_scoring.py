"""The assessment of one office (analytics.scoring, pure): the evidence each flag carries,
the silence that scales with the office's own rate, and the practice-wide slowdown."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from analytics.choices import ReferrerStatus
from analytics.detection import CusumRule, GlrRule
from analytics.scoring import (
    HISTORY_MONTHS,
    HealthRules,
    OfficeFigures,
    assess_office,
    month_starts,
    practice_book,
)
from practices.models import PracticeSettings

AS_OF = dt.date(2026, 11, 26)
MONTHS = month_starts(AS_OF, HISTORY_MONTHS)  # Nov 2022 .. Oct 2026


def figures(monthly, last: dt.date, first=dt.date(2022, 11, 3)) -> OfficeFigures:
    return OfficeFigures(1, first, last, monthly=list(monthly))


DEFAULT = HealthRules()


def assess(office, others=(), rules=DEFAULT):
    offices = [office.monthly, *others]
    totals = [sum(col) for col in zip(*offices, strict=True)]
    book = practice_book(totals, MONTHS, rules, offices)
    return assess_office(office, AS_OF, rules, book), book


def test_a_declining_office_says_since_when_what_came_and_what_was_expected():
    office = figures([6] * 40 + [2] * 8, dt.date(2026, 11, 10))
    a, _ = assess(office, [[5] * 48] * 6)
    assert a.status == ReferrerStatus.DECLINING
    e = a.evidence
    assert (e.since, e.received) == (dt.date(2026, 3, 1), 16)
    assert round(e.expected) == 48 and e.low < 48 < e.high
    assert e.sentence == (
        f"Since March 2026: 16 referrals where 48 were expected (80% band {e.low}-{e.high})."
    )
    # The chart's expectation: the usual 6 a month for every month of the history.
    assert len(a.expected_monthly) == HISTORY_MONTHS
    assert all(round(x, 6) == 6 for x in a.expected_monthly)


def test_a_big_office_silent_for_five_weeks_is_inactive_before_ninety_days():
    # 8 a month: 37 days without a referral happens to a steady office e^-9.7 of the time.
    office = figures([8] * 48, dt.date(2026, 10, 20))
    a, _ = assess(office, [[5] * 48] * 6)
    assert a.status == ReferrerStatus.INACTIVE
    assert a.evidence.silent and a.evidence.received == 0
    assert a.evidence.sentence.startswith(
        "No referral since Oct 20, 2026: a steady office would have sent about 10 by now"
    )
    # Without the rate-scaled rule only the fixed 90 days count.
    fixed, _ = assess(office, [[5] * 48] * 6, replace(HealthRules(), silence=None))
    assert fixed.status == ReferrerStatus.ACTIVE and fixed.evidence is None


def test_a_small_office_silent_for_five_weeks_is_just_quiet():
    office = figures([2] * 48, dt.date(2026, 10, 20))
    a, _ = assess(office, [[5] * 48] * 6)
    assert a.status == ReferrerStatus.ACTIVE


def test_a_practice_wide_slowdown_is_told_once_and_not_blamed_on_each_office():
    # Every office at half its pace for the last four months (a surgeon on leave).
    others = [[r] * 44 + [r // 2] * 4 for r in (4, 6, 6, 8, 10, 4, 6)]
    office = figures([6] * 44 + [3] * 4, dt.date(2026, 11, 10))
    a, book = assess(office, others)
    assert book.slowdown is not None and book.months[book.slowdown.onset] == dt.date(2026, 7, 1)
    # 50 a month usually, 25 since: 100 where about 200 were expected (the seasonal index
    # reads a little of the slowdown as a season of its own).
    assert book.slowdown_sentence.startswith(
        "The whole practice has slowed down since July 2026: 100 referrals where "
    )
    assert 190 <= book.slowdown.expected <= 210
    assert "the typical office is at 50% of its usual rate" in book.slowdown_sentence
    assert a.status == ReferrerStatus.ACTIVE
    # Without the practice-wide view the same office would be declining.
    alone, _ = assess(office, others, replace(HealthRules(), slowdown=None))
    assert alone.status == ReferrerStatus.DECLINING


def test_an_office_with_a_short_history_is_judged_from_its_first_referral():
    # Referring since May 2025: the months before are not zeros.
    office = figures([0] * 30 + [4] * 18, dt.date(2026, 11, 12), first=dt.date(2025, 5, 2))
    a, _ = assess(office, [[5] * 48] * 6)
    assert a.status == ReferrerStatus.ACTIVE
    assert a.expected_monthly[:30] == [0.0] * 30 and round(a.expected_monthly[-1], 6) == 4


def test_the_practices_settings_choose_the_rules():
    settings = PracticeSettings(glr_threshold=Decimal("3.50"), silence_rule_enabled=False)
    rules = HealthRules.from_settings(settings, Decimal("1800"))
    assert rules.statistical == GlrRule(threshold=3.5, min_baseline=1.5)
    assert rules.silence is None and rules.threshold is not None
    settings.statistical_method = "cusum"
    rules = HealthRules.from_settings(settings, Decimal("1800"))
    assert rules.statistical == CusumRule(drop_ratio=0.5, threshold=3.0, min_baseline=1.5)
    settings.statistical_rule_enabled = False
    assert HealthRules.from_settings(settings, Decimal("1800")).statistical is None
