"""Snoozed alerts wake on their date by the 15-minute beat (analytics.tasks.
wake_snoozed_alerts), in each practice's own time zone, not only at the nightly run."""

import datetime as dt
import re

import time_machine
from django_scopes import scopes_disabled

from alerts import services as alerts
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from analytics.tasks import wake_snoozed_alerts
from practices.scoping import practice_scope
from tests.factories import OfficeFactory, PracticeFactory

UTC = dt.UTC


def snoozed_alert(practice, name: str, until: dt.date, by) -> Alert:
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name=name)
        alert = alerts.raise_alert(
            practice,
            kind=AlertKind.DECLINING,
            office_id=office.pk,
            opened_on=until - dt.timedelta(days=10),
            title=f"{name} is declining",
        )
        return alerts.snooze(alert, until=until, by=by, today=until - dt.timedelta(days=7))


def state_of(alert) -> str:
    with scopes_disabled():
        return Alert.objects.get(pk=alert.pk).state


def listed_titles(html: str) -> list[str]:
    return re.findall(r'class="ai-title"[^>]*>([^<]+)</h3>', html)


def test_an_alert_whose_date_has_come_is_open_in_the_inbox_after_the_beat(
    practice, admin_user, admin_client
):
    # Lakeside is in New York: 10:00 UTC on Nov 26 is 05:00 there, before any nightly run.
    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    due = snoozed_alert(practice, "Birch Dental", dt.date(2026, 11, 26), admin_user)
    later = snoozed_alert(practice, "Oak Dental", dt.date(2026, 11, 27), admin_user)
    with time_machine.travel(now, tick=False):
        assert listed_titles(admin_client.get("/alerts/").content.decode()) == []
        assert wake_snoozed_alerts.apply().get() == 1
        open_tab = admin_client.get("/alerts/").content.decode()
        snoozed_tab = admin_client.get("/alerts/", {"state": "snoozed"}).content.decode()
    assert listed_titles(open_tab) == ["Birch Dental is declining"]
    assert listed_titles(snoozed_tab) == ["Oak Dental is declining"]
    assert "Snoozed until Fri, Nov 27, 2026" in snoozed_tab
    assert (state_of(due), state_of(later)) == (AlertState.OPEN, AlertState.SNOOZED)
    with scopes_disabled():
        assert Alert.objects.get(pk=due.pk).snoozed_until is None


def test_each_practice_wakes_at_its_own_local_date(practice, admin_user):
    # 03:00 UTC on Nov 26: already Nov 26 in Berlin, still Nov 25 in New York.
    berlin = PracticeFactory(name="Spree Oral Surgery", slug="spree", time_zone="Europe/Berlin")
    new_york = snoozed_alert(practice, "Birch Dental", dt.date(2026, 11, 26), admin_user)
    in_berlin = snoozed_alert(berlin, "Linden Zahnarzt", dt.date(2026, 11, 26), admin_user)
    now = dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert wake_snoozed_alerts.apply(kwargs={"now_iso": now.isoformat()}).get() == 1
    assert (state_of(in_berlin), state_of(new_york)) == (AlertState.OPEN, AlertState.SNOOZED)
    # New York's midnight has passed by 05:15 UTC; a second run there finds nothing more.
    later = dt.datetime(2026, 11, 26, 5, 15, tzinfo=UTC)
    assert wake_snoozed_alerts.apply(kwargs={"now_iso": later.isoformat()}).get() == 1
    assert state_of(new_york) == AlertState.OPEN
    assert wake_snoozed_alerts.apply(kwargs={"now_iso": later.isoformat()}).get() == 0


def test_the_beat_runs_every_15_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["wake-snoozed-alerts"]
    assert entry == {"task": "analytics.tasks.wake_snoozed_alerts", "schedule": 15 * 60}
