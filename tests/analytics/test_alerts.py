"""Alerts: one per office and kind across nights, re-opened after resolve only when the
office declines again, snooze wakes up, and one digest email per night."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from alerts import services as alerts
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from analytics.choices import ReferrerStatus
from analytics.models import ReferrerSnapshot
from analytics.nightly import recompute
from communications.models import EmailKind, OutgoingEmail
from tests.factories import OfficeFactory

from .history import add_monthly, add_referrals, month_list

AS_OF = dt.date(2026, 11, 26)


@pytest.fixture
def declining_office(in_practice):
    office = OfficeFactory(practice=in_practice, name="Birch Dental")
    add_monthly(office, month_list(dt.date(2024, 11, 1), 24), [6] * 18 + [1] * 6)
    add_referrals(office, [dt.date(2026, 11, 2)])
    return office


def test_a_declining_office_gets_one_alert_however_many_nights(in_practice, declining_office):
    for night in range(5):
        recompute(in_practice, AS_OF + dt.timedelta(days=night))
    alerts_ = Alert.objects.filter(office=declining_office, kind=AlertKind.DECLINING)
    assert alerts_.count() == 1
    alert = alerts_.get()
    assert alert.state == AlertState.OPEN and alert.opened_on == AS_OF
    assert alert.title == "Birch Dental is declining"


def test_a_resolved_alert_stays_resolved_while_the_same_drop_goes_on(
    in_practice, declining_office, admin_user
):
    recompute(in_practice, AS_OF)
    alert = Alert.objects.get(office=declining_office)
    alerts.resolve(alert, by=admin_user, note="Called Dr. Birch; new hygienist, will refer")
    recompute(in_practice, AS_OF + dt.timedelta(days=1))
    assert Alert.objects.filter(office=declining_office).count() == 1


def test_an_alert_reopens_when_the_office_declines_again_after_recovering(
    in_practice, declining_office, admin_user
):
    recompute(in_practice, AS_OF)
    alerts.resolve(Alert.objects.get(office=declining_office), by=admin_user, note="Visited")
    # The office recovers: back to 6 a month from December to February ...
    add_monthly(declining_office, month_list(dt.date(2026, 12, 1), 3), [6, 6, 6])
    recompute(in_practice, dt.date(2027, 3, 5))
    recovered = ReferrerSnapshot.objects.get(office=declining_office, as_of=dt.date(2027, 3, 5))
    assert recovered.status == ReferrerStatus.ACTIVE
    assert not Alert.objects.filter(office=declining_office, state__in=alerts.UNRESOLVED).exists()
    # ... and drops again: a new alert, the old one stays resolved.
    add_monthly(declining_office, month_list(dt.date(2027, 3, 1), 4), [1, 1, 0, 1])
    add_referrals(declining_office, [dt.date(2027, 7, 2)])
    recompute(in_practice, dt.date(2027, 7, 10))
    states = list(
        Alert.objects.filter(office=declining_office, kind=AlertKind.DECLINING)
        .order_by("id")
        .values_list("state", flat=True)
    )
    assert states == [AlertState.RESOLVED, AlertState.OPEN]


def test_snoozed_alerts_wake_up_on_their_date(in_practice, declining_office, admin_user):
    recompute(in_practice, AS_OF)
    alert = Alert.objects.get(office=declining_office)
    with pytest.raises(ValidationError):
        alerts.snooze(alert, until=AS_OF, by=admin_user, today=AS_OF)
    alerts.snooze(alert, until=AS_OF + dt.timedelta(days=3), by=admin_user, today=AS_OF)
    recompute(in_practice, AS_OF + dt.timedelta(days=2))
    alert.refresh_from_db()
    assert alert.state == AlertState.SNOOZED and alert.owner == admin_user
    recompute(in_practice, AS_OF + dt.timedelta(days=3))
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    assert Alert.objects.filter(office=declining_office).count() == 1


def test_a_first_referral_raises_one_new_referrer_alert(in_practice):
    office = OfficeFactory(practice=in_practice, name="Cedar Smiles")
    add_referrals(office, [AS_OF - dt.timedelta(days=3)])
    recompute(in_practice, AS_OF)
    recompute(in_practice, AS_OF + dt.timedelta(days=1))
    alert = Alert.objects.get(office=office)
    assert alert.kind == AlertKind.NEW_REFERRER and alert.title == "New referrer: Cedar Smiles"


def test_one_digest_email_per_night_lists_the_new_alerts(
    in_practice, declining_office, admin_user, django_capture_on_commit_callbacks
):
    new_office = OfficeFactory(practice=in_practice, name="Aspen Family Dentistry")
    add_referrals(new_office, [AS_OF - dt.timedelta(days=1)])
    with django_capture_on_commit_callbacks():
        recompute(in_practice, AS_OF)
        recompute(in_practice, AS_OF)  # the same night again: no second digest
    digests = OutgoingEmail.objects.filter(kind=EmailKind.ALERT_DIGEST)
    assert digests.count() == 1
    digest = digests.get()
    assert digest.to == [admin_user.email]  # no recipients set: the practice admins
    assert digest.subject.startswith("2 new referrer alerts")
    assert "Birch Dental is declining" in digest.body_text
    assert "New referrer: Aspen Family Dentistry" in digest.body_text
    # The next night with nothing new sends nothing.
    recompute(in_practice, AS_OF + dt.timedelta(days=1))
    assert OutgoingEmail.objects.filter(kind=EmailKind.ALERT_DIGEST).count() == 1
