"""The pages every user meets first: login redirect, home, choosing and switching practice."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from practices.middleware import SESSION_KEY
from practices.models import Role
from practices.scoping import practice_scope

from .conftest import PASSWORD
from .factories import MembershipFactory, OfficeFactory, ReferralFactory, UserFactory

pytestmark = pytest.mark.django_db

# The last evening of March in New York is already April in UTC: the home page must count
# "this month" by the practice's calendar.
NOW = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


@pytest.fixture
def two_practice_user(practice, other_practice):
    with scopes_disabled():
        user = UserFactory(email="roams@group.test")
        MembershipFactory(practice=practice, user=user, role=Role.COORDINATOR)
        MembershipFactory(practice=other_practice, user=user, role=Role.ADMIN)
    return user


def _offices_and_referrals(practice, offices, this_month, last_month):
    with practice_scope(practice):
        made = [OfficeFactory(practice=practice) for _ in range(offices)]
        for i in range(this_month):
            ReferralFactory(
                practice=practice,
                referring_office=made[i % offices],
                received_on=dt.date(2026, 3, 1 + i),
            )
        for _ in range(last_month):
            ReferralFactory(
                practice=practice, referring_office=made[0], received_on=dt.date(2026, 2, 27)
            )


@pytest.mark.parametrize("path", ["/", "/practice/", "/soon/alerts/"])
def test_anonymous_users_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_login_page_renders(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="login"' in response.text and 'name="password"' in response.text


@time_machine.travel(NOW, tick=False)
def test_home_shows_the_practice_and_its_counts(client, admin_user, practice, other_practice):
    _offices_and_referrals(practice, offices=3, this_month=4, last_month=2)
    with practice_scope(practice):
        OfficeFactory(practice=practice, is_archived=True)
    _offices_and_referrals(other_practice, offices=7, this_month=9, last_month=0)
    client.force_login(admin_user)
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["office_count"] == 3  # the archived office is not counted
    assert response.context["referrals_this_month"] == 4
    text = response.text
    assert '<h1 data-testid="practice-name">Lakeside Oral Surgery</h1>' in text
    assert 'data-testid="office-count">3<' in text
    assert 'data-testid="referrals-this-month">4<' in text
    assert "referrals since Mar 1" in text
    assert "Hilltop" not in text


def test_home_costs_the_same_queries_for_few_or_many_rows(client, admin_user, practice):
    client.force_login(admin_user)
    client.get("/")  # the session's practice is settled on the first visit

    def queries_for_home() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/").status_code == 200
        return len(captured)

    _offices_and_referrals(practice, offices=1, this_month=1, last_month=0)
    few = queries_for_home()
    _offices_and_referrals(practice, offices=20, this_month=25, last_month=10)
    assert queries_for_home() == few
    assert few <= 15


def test_a_user_of_several_practices_picks_one_then_switches(
    client, two_practice_user, practice, other_practice
):
    _offices_and_referrals(practice, offices=2, this_month=0, last_month=0)
    _offices_and_referrals(other_practice, offices=5, this_month=0, last_month=0)
    client.force_login(two_practice_user)

    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/practice/"
    picker = client.get("/practice/").text
    assert "Lakeside Oral Surgery" in picker
    assert "Hilltop Oral Surgery" in picker

    response = client.post("/practice/", {"practice": practice.pk})
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.context["current_practice"] == practice
    assert '<h1 data-testid="practice-name">Lakeside Oral Surgery</h1>' in home.text
    assert home.context["office_count"] == 2
    # The header switcher lists both practices, the current one selected.
    assert f'<option value="{practice.pk}" selected>Lakeside Oral Surgery</option>' in home.text
    assert f'<option value="{other_practice.pk}" >Hilltop Oral Surgery</option>' in home.text

    client.post("/practice/", {"practice": other_practice.pk})
    home = client.get("/")
    assert '<h1 data-testid="practice-name">Hilltop Oral Surgery</h1>' in home.text
    assert home.context["office_count"] == 5
    assert home.context["current_role"] == Role.ADMIN


def test_choosing_a_practice_one_is_not_a_member_of_is_a_404(client, admin_user, other_practice):
    client.force_login(admin_user)
    client.get("/")
    chosen = client.session[SESSION_KEY]
    for wanted in [other_practice.pk, 999999, "abc", ""]:
        assert client.post("/practice/", {"practice": wanted}).status_code == 404
    assert client.session[SESSION_KEY] == chosen
    assert client.get("/").context["current_practice"] != other_practice


def test_a_stale_session_practice_falls_back_to_the_membership(client, admin_user, practice):
    client.force_login(admin_user)
    session = client.session
    session[SESSION_KEY] = 999999
    session.save()
    assert client.get("/").context["current_practice"] == practice


def test_an_operator_may_enter_any_practice(client, practice, other_practice):
    operator = UserFactory(email="ops@platform.test", is_staff=True, is_superuser=True)
    client.force_login(operator)
    assert client.get("/")["Location"] == "/practice/"
    picker = client.get("/practice/").text
    assert "Lakeside Oral Surgery" in picker and "Hilltop Oral Surgery" in picker
    client.post("/practice/", {"practice": other_practice.pk})
    assert "Hilltop Oral Surgery" in client.get("/").text


def test_the_picker_never_redirects_off_site(client, two_practice_user, practice):
    client.force_login(two_practice_user)
    for target in ["https://evil.example/", "//evil.example/x"]:
        response = client.post("/practice/", {"practice": practice.pk, "next": target})
        assert response["Location"] == "/"
        assert f'value="{target}"' not in client.get("/practice/", {"next": target}).text
    response = client.post("/practice/", {"practice": practice.pk, "next": "/soon/alerts/"})
    assert response["Location"] == "/soon/alerts/"


def test_a_user_without_a_practice_is_told_so(client):
    client.force_login(UserFactory(email="lonely@nowhere.test"))
    response = client.get("/practice/")
    assert "not a member of any practice yet" in response.text


def test_an_unknown_section_is_a_404(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/soon/alerts/").status_code == 200
    assert client.get("/soon/nothing-here/").status_code == 404


def test_a_user_replaces_their_one_time_password(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/account/password/")
    assert page.status_code == 200
    assert 'name="oldpassword"' in page.text
    response = client.post(
        "/account/password/",
        {"oldpassword": "wrong", "password1": "x", "password2": "x"},
    )
    assert response.status_code == 200
    assert "Please type your current password." in response.text
    response = client.post(
        "/account/password/",
        {
            "oldpassword": PASSWORD,
            "password1": "granite-Harbor-73",
            "password2": "granite-Harbor-73",
        },
    )
    assert response["Location"] == "/"
    assert "Your password was changed." in client.get("/").text  # still logged in
    admin_user.refresh_from_db()
    assert admin_user.check_password("granite-Harbor-73")


def test_the_password_page_needs_a_login(client):
    assert client.get("/account/password/")["Location"].startswith("/login/?next=")
