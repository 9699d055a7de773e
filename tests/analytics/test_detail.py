"""One office's health page: header and reason, the 24-month chart against last year, the
funnel, money by role, working its alerts, tenancy and a query count flat over the years."""

import datetime as dt
import json
import re
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from analytics.nightly import recompute
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

from .health_pages import (
    AS_OF,
    NOW,
    add_earlier_years,
    compute_nights,
    practice_with_history,
    the_articles_practice,
)
from .history import add_referrals


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def article(practice):
    return the_articles_practice(practice)


@pytest.fixture
def birch(article):
    return article["Birch Dental"]


def detail_url(office) -> str:
    return reverse("referrer_detail", args=[office.pk])


def page(client, office) -> str:
    response = client.get(detail_url(office))
    assert response.status_code == 200
    return response.content.decode()


def the_alert(office) -> Alert:
    with practice_scope(office.practice):
        return Alert.objects.get(office=office, kind=AlertKind.DECLINING)


def action_url(office, alert, action) -> str:
    return reverse("referrer_alert_action", args=[office.pk, alert.pk, action])


def test_the_header_names_the_office_its_status_and_why(admin_client, birch):
    html = page(admin_client, birch)
    assert '<h1 data-testid="office-name">Birch Dental' in html
    assert 'data-testid="office-status">Declining<' in html
    reason = re.search(r'data-testid="office-reason">([^<]+)<', html).group(1)
    assert reason == (
        "Sent 6 a month before March 2026, 2 a month over the 8 months since; "
        "last referral Nov 10, 2026."
    )
    assert f'href="{reverse("office_detail", args=[birch.pk])}"' in html
    assert 'data-testid="rates">6 <span class="kpi-arrow">→</span> 2<' in html
    assert 'data-testid="office-risk">$57,600<' in html
    assert "≈32 fewer cases × $1,800" in html


def test_the_chart_is_24_months_against_the_same_months_last_year(admin_client, birch):
    html = page(admin_client, birch)
    raw = re.search(r'<script id="referral-figure" type="application/json">(.+?)</script>', html)
    figure = json.loads(unescape(raw.group(1)))
    *band, last_year, referrals = figure["data"]
    assert referrals["name"] == "Referrals" and last_year["name"] == "Same month last year"
    # Under them, what a steady office at its usual 6 a month would have sent: 80% band.
    low, high, middle = band
    assert high["name"] == "Expected (80% band)" and high["fill"] == "tonexty"
    # (the practice's other offices give its months a slight season of their own)
    assert len(middle["y"]) == 24 and all(5 <= y <= 7 for y in middle["y"])
    assert all(lo < y < hi for lo, y, hi in zip(low["y"], middle["y"], high["y"], strict=True))
    assert referrals["x"][0] == "2024-11-01" and referrals["x"][-1] == "2026-10-01"
    assert referrals["y"] == [6] * 16 + [2] * 8
    # The history starts in November 2024: a year earlier there was nothing yet.
    assert last_year["y"] == [None] * 12 + [6] * 12
    # The band replaces the line at the usual rate that a snapshot without one draws.
    assert figure["layout"]["shapes"] == []
    # Drawn by static/js/charts.js, which loads Plotly from our own static files.
    assert 'data-plotly-src="/static/js/plotly.min.js"' in html and "cdn" not in html.lower()


def test_the_funnel_counts_the_last_twelve_months(admin_client, practice):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Funnel Dental")
        # 10 referrals in the last 12 full months, 4 of them treated; 3 more older ones.
        days = [dt.date(2026, m, 5) for m in range(1, 11)] + [dt.date(2025, 6, 5)] * 3
        add_referrals(office, days, accepted=4)
        recompute(practice, AS_OF)
    html = page(admin_client, office)
    steps = re.findall(
        r'<span class="funnel-label">([^<]+)</span>.*?<span class="funnel-count">(\d+)</span>',
        html,
        re.S,
    )
    assert steps == [
        ("Referred", "10"),
        ("Consult completed", "4"),
        ("Treatment accepted", "4"),
        ("Surgery completed", "4"),
    ]
    assert 'data-testid="acceptance">100%<' in html
    assert 'data-testid="production">$7,200<' in html


def test_the_front_desk_sees_the_page_without_money(client, front_desk_user, birch):
    client.force_login(front_desk_user)
    html = page(client, birch)
    assert "Birch Dental" in html and "Declining" in html
    assert "$" not in html
    assert "production" not in html.lower() and "revenue at risk" not in html
    # Nor the buttons that work the alert or log outreach.
    assert 'data-testid="acknowledge"' not in html and 'data-testid="outreach-form"' not in html


def test_an_office_not_scored_yet_still_has_its_page(admin_client, practice, article):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Added Today")
    html = page(admin_client, office)
    assert "was not scored on Nov 26, 2026" in html
    assert 'data-testid="outreach-form"' in html


def test_before_the_first_run_the_page_says_so(admin_client, practice):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Early Dental")
    assert "Referrer health has not been computed yet." in page(admin_client, office)


# --- working the office's alerts ---------------------------------------------------------


def test_acknowledge_with_htmx_answers_the_refreshed_alerts(admin_client, admin_user, birch):
    alert = the_alert(birch)
    response = admin_client.post(
        action_url(birch, alert, "acknowledge"), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="alerts"' in html
    assert 'data-testid="alert-state">Acknowledged<' in html
    assert "Alert acknowledged." in html
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    assert alert.acknowledged_by == admin_user and alert.owner == admin_user


def test_snooze_without_javascript_redirects_back(admin_client, birch):
    alert = the_alert(birch)
    response = admin_client.post(action_url(birch, alert, "snooze"), {"until": "2026-12-10"})
    assert response.status_code == 302
    assert response["Location"] == detail_url(birch) + "#alerts"
    with scopes_disabled():
        alert.refresh_from_db()
    assert (alert.state, alert.snoozed_until) == (AlertState.SNOOZED, dt.date(2026, 12, 10))
    assert 'data-testid="alert-state">Snoozed until Dec 10<' in page(admin_client, birch)


@pytest.mark.parametrize(
    "action, data, message",
    [
        ("snooze", {"until": "2026-11-20"}, "Snooze until a date after today."),
        ("snooze", {"until": "soon"}, "Enter a valid date."),
        ("resolve", {"note": "  "}, "This field is required."),
        ("assign", {"owner": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_named_and_nothing_changes(admin_client, birch, action, data, message):
    alert = the_alert(birch)
    response = admin_client.post(
        action_url(birch, alert, action), data, headers={"HX-Request": "true"}
    )
    assert message in response.content.decode()
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.OPEN and alert.owner is None


def test_resolve_with_a_note_moves_it_to_the_resolved_list(admin_client, admin_user, birch):
    alert = the_alert(birch)
    admin_client.post(action_url(birch, alert, "resolve"), {"note": "Lunch booked; back to 5"})
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_by == admin_user
    html = page(admin_client, birch)
    assert 'data-testid="no-open-alerts"' in html
    assert "“Lunch booked; back to 5”" in html


def test_assign_an_owner_among_the_people_who_work_alerts(
    admin_client, birch, coordinator_user, front_desk_user, outsider
):
    alert = the_alert(birch)
    url = action_url(birch, alert, "assign")
    html = page(admin_client, birch)
    assert f'<option value="{coordinator_user.pk}"' in html
    assert f'<option value="{front_desk_user.pk}"' not in html
    for stranger in (front_desk_user, outsider):
        admin_client.post(url, {"owner": stranger.pk})
        with scopes_disabled():
            alert.refresh_from_db()
        assert alert.owner is None
    admin_client.post(url, {"owner": coordinator_user.pk})
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.owner == coordinator_user


@pytest.mark.parametrize("user", ["coordinator_user", "clinician_user"])
def test_coordinators_and_clinicians_work_alerts(client, request, birch, user):
    client.force_login(request.getfixturevalue(user))
    alert = the_alert(birch)
    assert client.post(action_url(birch, alert, "acknowledge")).status_code == 302
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED


def test_the_front_desk_cannot_work_alerts(client, front_desk_user, birch):
    client.force_login(front_desk_user)
    alert = the_alert(birch)
    assert client.post(action_url(birch, alert, "acknowledge")).status_code == 403
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_an_alert_is_worked_only_through_its_own_office(admin_client, article):
    alert = the_alert(article["Birch Dental"])
    cedar = article["Cedar Dental"]
    response = admin_client.post(action_url(cedar, alert, "acknowledge"))
    assert response.status_code == 404
    unknown = action_url(article["Birch Dental"], alert, "explode")
    assert admin_client.post(unknown).status_code == 404
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_another_practice_gets_404_for_our_office_and_alert(client, outsider, birch):
    client.force_login(outsider)
    alert = the_alert(birch)
    assert client.get(detail_url(birch)).status_code == 404
    for action in ("acknowledge", "snooze", "resolve", "assign"):
        response = client.post(action_url(birch, alert, action), {"note": "x"})
        assert response.status_code == 404, action
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


# --- the query count does not grow with the years ----------------------------------------

DETAIL_QUERIES_AT_MOST = 25


def test_ten_years_of_history_cost_no_more_queries_than_two(
    admin_client, practice, django_assert_max_num_queries
):
    offices = practice_with_history(practice, offices=3, years=2)
    office = offices[0]
    with CaptureQueriesContext(connection) as queries:
        page(admin_client, office)
    assert len(queries) <= DETAIL_QUERIES_AT_MOST
    add_earlier_years(practice, offices, years=8, before_years=2)
    compute_nights(practice, 5)
    # Years of alerts and outreach too: the page shows the latest ones only.
    with practice_scope(practice):
        for day in range(80):
            Alert.objects.create(
                practice=practice,
                office=office,
                kind=AlertKind.INACTIVE,
                state=AlertState.RESOLVED,
                opened_on=AS_OF - dt.timedelta(days=day),
                title="Old alert",
                resolution_note="done",
            )
    with django_assert_max_num_queries(len(queries)):
        html = page(admin_client, office)
    assert html.count("Old alert") == 10
