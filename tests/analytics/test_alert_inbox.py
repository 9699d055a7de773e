"""The alerts inbox (analytics/views/alerts.py): tabs and filters, the navigation count, the
actions with and without htmx, who may act, and another practice's alerts (404)."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled

from alerts import services as alerts
from alerts.choices import AlertKind, AlertState
from alerts.models import Alert
from practices.models import Role, settings_for
from practices.scoping import practice_scope
from tests.factories import MembershipFactory, OfficeFactory, UserFactory

URL = "/alerts/"
NOW = dt.datetime(2026, 11, 26, 15, 0, tzinfo=ZoneInfo("America/New_York"))
TODAY = NOW.date()
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen(settings):
    # A fast hasher: the members created here do not need a strong one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with time_machine.travel(NOW, tick=False):
        yield


def raise_(practice, office, kind, title, detail="", opened_on=TODAY):
    with practice_scope(practice):
        return alerts.raise_alert(
            practice,
            kind=kind,
            office_id=office.pk if office else None,
            subject_key="" if office else title,
            opened_on=opened_on,
            title=title,
            detail=detail,
        )


@pytest.fixture
def offices(practice):
    with practice_scope(practice):
        return {
            name: OfficeFactory(practice=practice, name=name)
            for name in ["Birch Dental", "Cedar Smiles", "Elm Family Dentistry", "Oak Dental"]
        }


@pytest.fixture
def inbox(practice, offices, admin_user, coordinator_user):
    """Two open, one acknowledged, one snoozed, one resolved alert."""
    declining = raise_(
        practice,
        offices["Birch Dental"],
        AlertKind.DECLINING,
        "Birch Dental is declining",
        "Sent 6.0 a month, 1.0 a month since June: down 83% for 6 months.",
        opened_on=TODAY - dt.timedelta(days=2),
    )
    new = raise_(
        practice,
        offices["Cedar Smiles"],
        AlertKind.NEW_REFERRER,
        "New referrer: Cedar Smiles",
        "First referral on Nov 2, 2026: 2 so far. A relationship to build.",
    )
    acked = raise_(
        practice, offices["Elm Family Dentistry"], AlertKind.INACTIVE, "Elm has gone quiet"
    )
    snoozed = raise_(practice, offices["Oak Dental"], AlertKind.DECLINING, "Oak is declining")
    resolved = raise_(practice, offices["Oak Dental"], AlertKind.INACTIVE, "Oak has gone quiet")
    with practice_scope(practice):
        alerts.acknowledge(acked, by=coordinator_user)
        alerts.snooze(snoozed, until=TODAY + dt.timedelta(days=7), by=admin_user, today=TODAY)
        alerts.resolve(resolved, by=admin_user, note="Phoned; the dentist retired.")
    return {
        "declining": declining,
        "new": new,
        "acked": acked,
        "snoozed": snoozed,
        "resolved": resolved,
    }


def state_of(alert) -> Alert:
    with scopes_disabled():
        return Alert.objects.select_related("owner").get(pk=alert.pk)


def listed_titles(response) -> list[str]:
    return re.findall(r'class="ai-title"[^>]*>([^<]+)</h3>', response.content.decode())


def nav_count(html: str) -> str | None:
    match = re.search(r'id="nav-alert-count"[^>]*?( hidden)?>(\d+)<', html)
    if match is None:
        return None
    return "hidden" if match.group(1) else match.group(2)


# --- The page -----------------------------------------------------------------------------


def test_the_open_tab_lists_each_alert_with_office_title_reason_date_and_owner(
    admin_client, inbox, offices
):
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert listed_titles(response) == ["New referrer: Cedar Smiles", "Birch Dental is declining"]
    assert "Sent 6.0 a month, 1.0 a month since June: down 83% for 6 months." in html
    assert f'href="/referrers/health/{offices["Birch Dental"].pk}/"' in html
    assert "Opened Nov 24, 2026" in html
    assert "Owner: <em>unassigned</em>" in html


def test_tabs_count_every_state(admin_client, inbox):
    html = admin_client.get(URL).content.decode()
    for state, count in [("open", 2), ("acknowledged", 1), ("snoozed", 1), ("resolved", 1)]:
        tab = re.search(rf'data-testid="tab-{state}">[^<]*<span class="ai-count">(\d+)<', html)
        assert tab and tab.group(1) == str(count), state


def test_each_tab_shows_its_own_alerts(admin_client, inbox, admin_user, coordinator_user):
    acked = admin_client.get(URL, {"state": "acknowledged"})
    assert listed_titles(acked) == ["Elm has gone quiet"]
    assert "Acknowledged by" in acked.content.decode()
    snoozed = admin_client.get(URL, {"state": "snoozed"})
    assert listed_titles(snoozed) == ["Oak is declining"]
    assert "Snoozed until Thu, Dec 3, 2026" in snoozed.content.decode()
    resolved = admin_client.get(URL, {"state": "resolved"})
    assert listed_titles(resolved) == ["Oak has gone quiet"]
    assert "Phoned; the dentist retired." in resolved.content.decode()


def test_filter_by_kind(admin_client, inbox):
    response = admin_client.get(URL, {"kind": "declining"})
    assert listed_titles(response) == ["Birch Dental is declining"]
    html = response.content.decode()
    # The state tabs count declining alerts only: one open, one snoozed.
    assert re.search(r'data-testid="tab-snoozed">[^<]*<span class="ai-count">1<', html)
    assert re.search(r'data-testid="tab-acknowledged">[^<]*<span class="ai-count">0<', html)


def test_filter_by_owner(admin_client, inbox, admin_user):
    with scopes_disabled():
        alerts.assign(inbox["new"], owner=admin_user)
    assert listed_titles(admin_client.get(URL, {"owner": "mine"})) == ["New referrer: Cedar Smiles"]
    assert listed_titles(admin_client.get(URL, {"owner": "unassigned"})) == [
        "Birch Dental is declining"
    ]
    # The snoozed alert was snoozed by the admin, who became its owner.
    assert listed_titles(admin_client.get(URL, {"state": "snoozed", "owner": "mine"})) == [
        "Oak is declining"
    ]


def test_unknown_filter_values_fall_back_to_the_open_tab(admin_client, inbox):
    response = admin_client.get(URL, {"state": "bogus", "kind": "nope", "owner": "x", "page": "z"})
    assert response.status_code == 200
    assert len(listed_titles(response)) == 2


def test_an_empty_tab_says_so(admin_client, practice):
    html = admin_client.get(URL).content.decode()
    assert "No open alerts." in html


def test_an_alert_without_an_office_is_listed_without_a_link(admin_client, practice, admin_user):
    raise_(practice, None, AlertKind.LETTER_FAILED, "A GP letter bounced")
    response = admin_client.get(URL, {"kind": "letter_failed"})
    assert listed_titles(response) == ["A GP letter bounced"]
    assert 'data-testid="alert-office"' not in response.content.decode()


def test_a_failed_letter_alert_links_to_that_offices_failed_letters(
    admin_client, practice, offices
):
    office = offices["Oak Dental"]
    raise_(practice, office, AlertKind.LETTER_FAILED, "Consult scheduled letter to Oak failed")
    html = admin_client.get(URL, {"kind": "letter_failed"}).content.decode()
    assert f'href="/letters/?status=failed&amp;office={office.pk}"' in html


def test_htmx_gets_the_inbox_fragment_only(admin_client, inbox):
    response = admin_client.get(URL, {"state": "resolved"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert listed_titles(response) == ["Oak has gone quiet"]
    assert "HX-Request" in response["Vary"]


def test_the_page_costs_the_same_queries_for_5_or_60_alerts(admin_client, practice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n, start):
        with practice_scope(practice):
            for i in range(n):
                office = OfficeFactory(practice=practice, name=f"Office {start + i}")
                raise_(practice, office, AlertKind.DECLINING, f"Office {start + i} is declining")

    def queries_of_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(URL)
        assert response.status_code == 200
        return len(queries)

    add(5, 0)
    settings_for(practice)  # created on first use; not part of the page's cost
    admin_client.get(URL)  # the first request of a session also saves the session
    few = queries_of_the_page()
    add(55, 5)
    assert queries_of_the_page() == few
    # The inbox's own: tabs, kinds, members, settings, page count and rows, its nav count;
    # the rest is the session, the practice and the other navigation counts.
    assert few <= 15
    response = admin_client.get(URL)
    assert len(listed_titles(response)) == 50  # one page
    assert "Page 1 of 2" in response.content.decode()
    assert len(listed_titles(admin_client.get(URL, {"page": 2}))) == 10


# --- The navigation count -----------------------------------------------------------------


def test_the_navigation_counts_open_and_acknowledged_alerts(admin_client, inbox):
    html = admin_client.get("/").content.decode()
    assert nav_count(html) == "3"  # 2 open + 1 acknowledged; not snoozed, not resolved


def test_the_navigation_count_is_hidden_at_zero(admin_client, practice):
    assert nav_count(admin_client.get("/").content.decode()) == "hidden"


def test_the_navigation_count_is_one_query(
    inbox, admin_user, practice, rf, django_assert_num_queries
):
    from analytics.context_processors import alert_count

    request = rf.get("/")
    request.user, request.practice = admin_user, practice
    count = alert_count(request)["alert_attention_count"]
    with django_assert_num_queries(1):
        assert count() == 3
        assert count() == 3  # memoised for the rest of the page


def test_other_practices_alerts_are_neither_listed_nor_counted(
    client, outsider, other_practice, inbox
):
    client.force_login(outsider)
    response = client.get(URL)
    assert listed_titles(response) == []
    assert nav_count(response.content.decode()) == "hidden"


# --- Actions ------------------------------------------------------------------------------


def action_url(alert, action):
    return f"/alerts/{alert.pk}/{action}/"


def test_acknowledge_without_javascript_redirects_back_to_the_tab(admin_client, inbox, admin_user):
    response = admin_client.post(
        action_url(inbox["declining"], "acknowledge"), {"filter": "?kind=declining"}, follow=True
    )
    assert response.redirect_chain == [("/alerts/?kind=declining", 302)]
    assert "Acknowledged: Birch Dental is declining." in response.content.decode()
    alert = state_of(inbox["declining"])
    assert alert.state == AlertState.ACKNOWLEDGED
    assert alert.acknowledged_by == admin_user and alert.owner == admin_user


def test_acknowledge_with_htmx_answers_the_refreshed_inbox_and_the_nav_count(admin_client, inbox):
    response = admin_client.post(action_url(inbox["declining"], "acknowledge"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert listed_titles(response) == ["New referrer: Cedar Smiles"]
    assert 'data-testid="done">Acknowledged: Birch Dental is declining.' in html
    assert 'id="nav-alert-count" hx-swap-oob="true"' in html
    assert nav_count(html) == "3"  # acknowledged alerts still need someone


def test_a_filter_field_cannot_redirect_elsewhere(admin_client, inbox):
    response = admin_client.post(
        action_url(inbox["declining"], "acknowledge"), {"filter": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/alerts/"


def test_assign_an_owner(admin_client, inbox, coordinator_user):
    response = admin_client.post(
        action_url(inbox["new"], "assign"), {"owner": coordinator_user.pk}, follow=True
    )
    assert "now owns “New referrer: Cedar Smiles”" in response.content.decode()
    assert state_of(inbox["new"]).owner == coordinator_user
    assert state_of(inbox["new"]).state == AlertState.OPEN


def test_the_owner_must_be_a_member_who_works_alerts(
    admin_client, inbox, outsider, front_desk_user
):
    for user in (outsider, front_desk_user):
        response = admin_client.post(action_url(inbox["new"], "assign"), {"owner": user.pk})
        assert response.status_code == 400
        assert "Choose a person of this practice who works alerts." in response.content.decode()
    assert state_of(inbox["new"]).owner is None


def test_the_assign_menu_offers_the_practices_working_members(
    admin_client, inbox, coordinator_user, clinician_user, front_desk_user, outsider
):
    html = admin_client.get(URL).content.decode()
    menu = re.search(rf'id="owner-{inbox["new"].pk}".*?</select>', html, re.S).group(0)
    assert coordinator_user.last_name in menu and clinician_user.last_name in menu
    assert front_desk_user.last_name not in menu and outsider.last_name not in menu
    assert "(me)" in menu


def test_snooze_until_a_future_date(admin_client, inbox, admin_user):
    response = admin_client.post(
        action_url(inbox["declining"], "snooze"), {"until": "2026-12-03"}, follow=True
    )
    assert "Snoozed until Dec 3, 2026: Birch Dental is declining." in response.content.decode()
    alert = state_of(inbox["declining"])
    assert alert.state == AlertState.SNOOZED
    assert alert.snoozed_until == dt.date(2026, 12, 3)
    assert alert.owner == admin_user


@pytest.mark.parametrize(
    "until, message",
    [
        ("2026-11-26", "Snooze until a date after today."),
        ("2026-11-01", "Snooze until a date after today."),
        ("", "Choose the day the alert should come back."),
        ("soon", "Enter a valid date."),
    ],
)
def test_snooze_needs_a_date_after_today(admin_client, inbox, until, message):
    response = admin_client.post(action_url(inbox["declining"], "snooze"), {"until": until})
    assert response.status_code == 400
    html = response.content.decode()
    error = re.search(rf'id="until-{inbox["declining"].pk}-error">(.*?)</ul>', html, re.S)
    assert error and message in error.group(1)
    # The snooze menu of that alert is open again, with what was typed.
    assert re.search(r'<details class="ai-menu" open>\s*<summary[^>]*snooze-open', html)
    assert state_of(inbox["declining"]).state == AlertState.OPEN


def test_snooze_error_with_htmx_is_shown_in_the_fragment(admin_client, inbox):
    response = admin_client.post(
        action_url(inbox["declining"], "snooze"), {"until": "2026-11-20"}, **HTMX
    )
    assert response.status_code == 200
    assert "Snooze until a date after today." in response.content.decode()
    assert state_of(inbox["declining"]).state == AlertState.OPEN


def test_resolve_needs_a_note(admin_client, inbox):
    response = admin_client.post(action_url(inbox["declining"], "resolve"), {"note": "   "})
    assert response.status_code == 400
    assert "Say how it was resolved." in response.content.decode()
    assert state_of(inbox["declining"]).state == AlertState.OPEN


def test_resolve_with_a_note(admin_client, inbox, admin_user):
    response = admin_client.post(
        action_url(inbox["declining"], "resolve"),
        {"note": "Lunch-and-learn booked; Dr. Birch had a new hygienist.", "filter": ""},
        follow=True,
    )
    assert "Resolved: Birch Dental is declining." in response.content.decode()
    alert = state_of(inbox["declining"])
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_by == admin_user
    assert alert.resolution_note == "Lunch-and-learn booked; Dr. Birch had a new hygienist."
    resolved = admin_client.get(URL, {"state": "resolved"})
    assert "Birch Dental is declining" in listed_titles(resolved)


def test_a_resolved_alert_offers_no_actions(admin_client, inbox):
    html = admin_client.get(URL, {"state": "resolved"}).content.decode()
    assert 'class="ai-actions"' not in html


def test_an_unknown_action_is_404(admin_client, inbox):
    assert admin_client.post(action_url(inbox["new"], "delete")).status_code == 404


def test_actions_are_post_only(admin_client, inbox):
    assert admin_client.get(action_url(inbox["new"], "acknowledge")).status_code == 405


def test_bulk_acknowledge(admin_client, inbox, outsider, other_practice, admin_user):
    with practice_scope(other_practice):
        theirs = OfficeFactory(practice=other_practice, name="Their Dental")
    their_alert = raise_(other_practice, theirs, AlertKind.DECLINING, "Theirs is declining")
    response = admin_client.post(
        "/alerts/acknowledge/",
        {"alert": [inbox["declining"].pk, inbox["new"].pk, their_alert.pk, inbox["resolved"].pk]},
        follow=True,
    )
    assert "Acknowledged 2 alerts." in response.content.decode()
    assert state_of(inbox["declining"]).state == AlertState.ACKNOWLEDGED
    assert state_of(inbox["new"]).state == AlertState.ACKNOWLEDGED
    assert state_of(their_alert).state == AlertState.OPEN
    assert state_of(inbox["resolved"]).state == AlertState.RESOLVED


def test_bulk_acknowledge_with_nothing_ticked_says_so(admin_client, inbox):
    response = admin_client.post("/alerts/acknowledge/", {}, follow=True)
    assert "Tick the open alerts to acknowledge first." in response.content.decode()


# --- Who may act ----------------------------------------------------------------------------

ACTIONS = [
    ("acknowledge", {}),
    ("assign", {"owner": "OWNER"}),
    ("snooze", {"until": "2026-12-10"}),
    ("resolve", {"note": "Called the office."}),
]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR, Role.CLINICIAN])
@pytest.mark.parametrize("action, data", ACTIONS)
def test_admins_coordinators_and_clinicians_work_alerts(
    client, practice, inbox, admin_user, role, action, data
):
    with scopes_disabled():
        user = UserFactory()
        MembershipFactory(practice=practice, user=user, role=role)
    client.force_login(user)
    data = {k: (user.pk if v == "OWNER" else v) for k, v in data.items()}
    response = client.post(action_url(inbox["declining"], action), data)
    assert response.status_code == 302
    assert state_of(inbox["declining"]).state != AlertState.OPEN or action == "assign"


@pytest.mark.parametrize("action, data", ACTIONS)
def test_the_front_desk_sees_alerts_but_cannot_act(
    client, front_desk_user, inbox, admin_user, action, data
):
    client.force_login(front_desk_user)
    page = client.get(URL)
    assert page.status_code == 200
    assert len(listed_titles(page)) == 2
    html = page.content.decode()
    assert 'class="ai-actions"' not in html and "bulk-form" not in html
    data = {k: (admin_user.pk if v == "OWNER" else v) for k, v in data.items()}
    assert client.post(action_url(inbox["declining"], action), data).status_code == 403
    assert client.post("/alerts/acknowledge/", {"alert": inbox["new"].pk}).status_code == 403
    alert = state_of(inbox["declining"])
    assert alert.state == AlertState.OPEN and alert.owner is None


@pytest.mark.parametrize("action, data", ACTIONS)
def test_another_practices_alert_is_404_for_every_action(client, outsider, inbox, action, data):
    client.force_login(outsider)
    data = {k: (outsider.pk if v == "OWNER" else v) for k, v in data.items()}
    response = client.post(action_url(inbox["declining"], action), data)
    assert response.status_code == 404
    alert = state_of(inbox["declining"])
    assert alert.state == AlertState.OPEN and alert.owner is None


def test_anonymous_users_log_in_first(client, inbox):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = client.post(action_url(inbox["declining"], "acknowledge"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
