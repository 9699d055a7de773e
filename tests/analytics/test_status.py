"""Status boundaries for each status, and the article's example end to end."""

import datetime as dt
from decimal import Decimal

import pytest

from alerts.choices import AlertKind
from alerts.models import Alert
from analytics.choices import ReferrerStatus
from analytics.models import ReferrerSnapshot
from analytics.nightly import recompute
from tests.factories import OfficeFactory

from .history import add_monthly, add_referrals, month_list

AS_OF = dt.date(2026, 11, 26)


def status_of(practice, office, as_of=AS_OF):
    recompute(practice, as_of)
    return ReferrerSnapshot.objects.get(office=office, as_of=as_of)


@pytest.fixture
def office(in_practice):
    return OfficeFactory(practice=in_practice)


def test_never_referred_is_a_prospect(in_practice, office):
    assert status_of(in_practice, office).status == ReferrerStatus.PROSPECT


@pytest.mark.parametrize(
    "first_days_ago, expected",
    [(0, ReferrerStatus.NEW), (89, ReferrerStatus.NEW), (90, ReferrerStatus.ACTIVE)],
)
def test_new_for_ninety_days_after_the_first_referral(
    in_practice, office, first_days_ago, expected
):
    first = AS_OF - dt.timedelta(days=first_days_ago)
    add_referrals(office, [first, AS_OF - dt.timedelta(days=min(first_days_ago, 10))])
    assert status_of(in_practice, office).status == expected


@pytest.mark.parametrize(
    "last_days_ago, expected",
    [
        (90, ReferrerStatus.ACTIVE),
        (91, ReferrerStatus.INACTIVE),
        (365, ReferrerStatus.INACTIVE),
        (366, ReferrerStatus.LOST),
    ],
)
def test_inactive_after_ninety_quiet_days_and_lost_after_twelve_months(
    in_practice, office, last_days_ago, expected
):
    last = AS_OF - dt.timedelta(days=last_days_ago)
    history = [last - dt.timedelta(days=30 * k) for k in range(1, 14)]
    add_referrals(office, [*history, last])
    assert status_of(in_practice, office).status == expected


def test_a_big_office_silent_for_five_weeks_is_inactive_with_its_evidence(in_practice, office):
    months = month_list(dt.date(2022, 11, 1), 47)  # Nov 2022 .. Sep 2026
    add_monthly(office, months, [8] * 47)
    add_referrals(office, [dt.date(2026, 10, 20)])
    snap = status_of(in_practice, office)
    assert snap.status == ReferrerStatus.INACTIVE
    assert snap.evidence.startswith(
        "No referral since Oct 20, 2026: a steady office would have sent about 10 by now"
    )
    assert snap.evidence_since == dt.date(2026, 10, 20) and snap.received_since == 0


def test_a_steady_office_is_active_with_its_counts(in_practice, office):
    months = month_list(dt.date(2024, 11, 1), 24)
    add_monthly(office, months, [4] * 24)
    add_referrals(office, [dt.date(2026, 11, 20), dt.date(2026, 11, 3)])
    snap = status_of(in_practice, office)
    assert snap.status == ReferrerStatus.ACTIVE
    # Monthly referrals fall on the 1st, 7th, 14th and 21st; as of Nov 26 the last 30 days
    # hold Nov 3 and Nov 20, the last 60 add October's four, the last 90 September's four.
    assert (snap.count_30, snap.count_60, snap.count_90) == (2, 6, 10)
    assert snap.rolling_12 == 48 and snap.prior_12 == 48
    assert snap.monthly_counts[-1] == 2 and snap.monthly_counts[-2] == 4
    assert snap.last_referral_on == dt.date(2026, 11, 20)


def test_the_articles_example_three_offices_drop_from_six_to_two(in_practice):
    """Three offices that each sent 6 a month drop to 2 a month for 8 months at $1,800 a
    case: they are declining, alerts are open, and the revenue lost reads $172,800."""
    months = month_list(dt.date(2024, 11, 1), 24)  # Nov 2024 .. Oct 2026
    offices = [OfficeFactory(practice=in_practice, name=f"Office {i}") for i in range(3)]
    steady = OfficeFactory(practice=in_practice, name="Steady")
    for office in offices:
        add_monthly(office, months, [6] * 16 + [2] * 8)
    add_monthly(steady, months, [5] * 24)
    for office in [*offices, steady]:
        add_referrals(office, [dt.date(2026, 11, 10)])

    result = recompute(in_practice, AS_OF)

    snaps = {s.office_id: s for s in result.snapshots}
    for office in offices:
        snap = snaps[office.pk]
        assert snap.status == ReferrerStatus.DECLINING
        assert (snap.baseline_rate, snap.recent_rate, snap.drop_months) == (6, 2, 8)
        assert snap.revenue_at_risk == Decimal("57600.00")
        assert "March 2026" in snap.reason
        # The evidence, in figures and in one sentence (season-adjusted, 80% band).
        assert (snap.evidence_since, snap.received_since) == (dt.date(2026, 3, 1), 16)
        assert snap.evidence == (
            f"Since March 2026: 16 referrals where {round(snap.expected_since)} were expected "
            f"(80% band {snap.expected_low}-{snap.expected_high})."
        )
        assert 44 <= snap.expected_since <= 52 and snap.expected_low < 40 < snap.expected_high
        assert len(snap.expected_counts) == 24
    assert snaps[steady.pk].status == ReferrerStatus.ACTIVE
    assert snaps[steady.pk].evidence == "" and snaps[steady.pk].evidence_since is None
    assert sum(snaps[o.pk].revenue_at_risk for o in offices) == Decimal("172800.00")
    open_alerts = Alert.objects.filter(kind=AlertKind.DECLINING)
    assert sorted(a.office_id for a in open_alerts) == sorted(o.pk for o in offices)
    # The alert a practice administrator opens carries the same evidence in numbers.
    for alert in open_alerts:
        assert alert.detail.endswith(snaps[alert.office_id].evidence)
        assert "16 referrals where" in alert.detail
