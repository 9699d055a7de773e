"""The alerts inbox in a real browser: the count in the navigation, the declining filter,
assigning oneself, snoozing until next week, resolving with a note."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from alerts import services as alerts
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from practices.models import Role
from practices.scoping import practice_scope
from tests.factories import MembershipFactory, OfficeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALERTS = [
    (
        "Birch Street Dentistry",
        AlertKind.DECLINING,
        "Birch Street Dentistry is declining",
        "Sent 7.5 a month until May, 2.0 a month since: down 73% for 5 months ($49,500 at risk).",
        3,
    ),
    (
        "Harbor View Dental",
        AlertKind.DECLINING,
        "Harbor View Dental is declining",
        "Sent 4.2 a month, 1.3 a month for the last 4 months: a drop the statistical test "
        "flags (same month last year: 5).",
        1,
    ),
    (
        "Cedar Smiles",
        AlertKind.NEW_REFERRER,
        "New referrer: Cedar Smiles",
        "First referral on Nov 2: 2 so far. A relationship to build.",
        0,
    ),
    (
        "Elm Family Dentistry",
        AlertKind.INACTIVE,
        "Elm Family Dentistry has gone quiet",
        "No referral for 104 days; sent 9 in the last 12 months.",
        6,
    ),
]


@pytest.fixture
def inbox(practice, admin_user):
    today = timezone.now().astimezone(ZoneInfo(practice.time_zone)).date()
    with scopes_disabled():
        admin_user.first_name, admin_user.last_name = "Dana", "Reyes"
        admin_user.save()
        coordinator = UserFactory(first_name="Sam", last_name="Okafor")
        MembershipFactory(practice=practice, user=coordinator, role=Role.COORDINATOR)
    created = {}
    with practice_scope(practice):
        for name, kind, title, detail, days_ago in ALERTS:
            office = OfficeFactory(practice=practice, name=name)
            created[name] = alerts.raise_alert(
                practice,
                kind=kind,
                office_id=office.pk,
                opened_on=today - dt.timedelta(days=days_ago),
                title=title,
                detail=detail,
            )
        alerts.acknowledge(created["Elm Family Dentistry"], by=coordinator)
    return today, created


def state(alert) -> Alert:
    with scopes_disabled():
        return Alert.objects.select_related("owner").get(pk=alert.pk)


def test_admin_works_the_alerts_inbox(login, admin_user, inbox, live_server, screenshot):
    today, created = inbox
    page = login(admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    badge = page.get_by_test_id("nav-alerts").locator(".count")
    expect(badge).to_have_text("4")  # three open and one acknowledged

    page.get_by_test_id("nav-alerts").click()
    page.wait_for_url(f"{live_server.url}/alerts/")
    expect(page.get_by_test_id("tab-open")).to_contain_text("3")
    expect(page.get_by_test_id("alert")).to_have_count(3)
    screenshot("1-inbox")

    # Declining referrers only (htmx swaps the list and pushes the URL).
    page.get_by_test_id("kind-declining").click()
    expect(page).to_have_url(f"{live_server.url}/alerts/?kind=declining")
    expect(page.get_by_test_id("alert")).to_have_count(2)
    birch = page.locator(f'[data-alert-id="{created["Birch Street Dentistry"].pk}"]')
    harbor = page.locator(f'[data-alert-id="{created["Harbor View Dental"].pk}"]')

    # Assign Birch to myself.
    birch.get_by_test_id("assign-open").click()
    expect(birch.get_by_label("Owner")).to_have_value(str(admin_user.pk))  # me, preselected
    screenshot("2-assign-menu")
    birch.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("done")).to_have_text(
        "Dana Reyes now owns “Birch Street Dentistry is declining”."
    )
    expect(birch.get_by_test_id("alert-owner")).to_contain_text("Dana Reyes")
    assert state(created["Birch Street Dentistry"]).owner == admin_user

    # Snooze Harbor until next week: a past date is refused at the field first.
    harbor.get_by_test_id("snooze-open").click()
    harbor.get_by_label("Snooze until").fill((today - dt.timedelta(days=1)).isoformat())
    harbor.get_by_role("button", name="Snooze", exact=True).click()
    expect(harbor.get_by_role("alert")).to_have_text("Snooze until a date after today.")
    screenshot("3-snooze-error")
    next_week = today + dt.timedelta(days=7)
    harbor.get_by_label("Snooze until").fill(next_week.isoformat())
    harbor.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.get_by_test_id("done")).to_contain_text("Snoozed until")
    expect(page.get_by_test_id("alert")).to_have_count(1)  # it left the open tab
    expect(page.get_by_test_id("nav-alerts").locator(".count")).to_have_text("3")
    snoozed = state(created["Harbor View Dental"])
    assert snoozed.state == AlertState.SNOOZED and snoozed.snoozed_until == next_week

    # Resolve Birch with a note.
    birch.get_by_test_id("resolve-open").click()
    birch.get_by_label("How was it resolved?").fill(
        "Lunch-and-learn with Dr. Patel's team; their new hygienist had not known us."
    )
    screenshot("4-resolve-menu")
    birch.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_test_id("done")).to_have_text(
        "Resolved: Birch Street Dentistry is declining."
    )
    expect(page.get_by_test_id("no-alerts")).to_be_visible()
    expect(page.get_by_test_id("nav-alerts").locator(".count")).to_have_text("2")
    resolved = state(created["Birch Street Dentistry"])
    assert resolved.state == AlertState.RESOLVED and resolved.resolved_by == admin_user

    # The other tabs show where they went.
    page.get_by_test_id("tab-snoozed").click()
    expect(page.get_by_test_id("alert-snoozed")).to_contain_text(f"{next_week:%b} {next_week.day}")
    screenshot("5-snoozed-tab")
    page.get_by_test_id("tab-resolved").click()
    expect(page.get_by_test_id("resolution-note")).to_contain_text("Lunch-and-learn")
    page.get_by_test_id("kind-all").click()
    expect(page).to_have_url(f"{live_server.url}/alerts/?state=resolved")
    screenshot("6-resolved-tab")


def test_the_front_desk_reads_the_inbox_without_actions(
    login, front_desk_user, inbox, live_server, screenshot
):
    page = login(front_desk_user)
    page.goto(f"{live_server.url}/alerts/")
    expect(page.get_by_test_id("alert")).to_have_count(3)
    expect(page.get_by_test_id("acknowledge")).to_have_count(0)
    screenshot("front-desk")


@pytest.fixture
def tasks_inline():
    """The recompute runs in the request (no worker in this test)."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def test_admin_tunes_the_alert_settings_and_recomputes(
    login, admin_user, practice, live_server, screenshot, tasks_inline
):
    from analytics.models import ReferrerSnapshot
    from practices.models import settings_for
    from tests.analytics.history import add_referrals

    with practice_scope(practice):
        add_referrals(OfficeFactory(practice=practice, name="Cedar Smiles"), [timezone.localdate()])
    page = login(admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_test_id("referrer-health-settings-link").click()
    expect(page.get_by_role("heading", name="Referrer health & alerts")).to_be_visible()
    screenshot("1-settings")

    page.get_by_label("Digest recipients").fill("manager@lakeside.test\nmarketing@lakeside")
    page.get_by_label("Alarm threshold h").fill("2.5")
    page.get_by_label("Nightly run at").select_option(label="04:00")
    page.get_by_test_id("save-settings").click()
    expect(page.locator("#id_alert_recipients-error")).to_contain_text(
        "“marketing@lakeside” (line 2)"
    )
    page.locator("#id_alert_recipients-error").scroll_into_view_if_needed()
    screenshot("2-bad-recipient")

    page.get_by_label("Digest recipients").fill("manager@lakeside.test\nmarketing@lakeside.test")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_text("Referrer-health settings saved.")).to_be_visible()
    screenshot("3-saved")
    with scopes_disabled():
        saved = settings_for(practice)
        saved.refresh_from_db()
    assert saved.recipient_list == ["manager@lakeside.test", "marketing@lakeside.test"]
    assert str(saved.cusum_threshold) == "2.50" and saved.nightly_hour == 4

    page.get_by_test_id("recompute-now").click()
    expect(page.get_by_text("Recompute queued for")).to_be_visible()
    with scopes_disabled():
        assert ReferrerSnapshot.objects.filter(practice=practice).count() == 1
