"""Idle logout (practices/idle.py): the practice's minutes, frozen time, what counts as
activity, and what the browser is told."""

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from practices.idle import LAST_ACTIVITY_KEY, WRITE_EVERY_SECONDS
from practices.models import AuditAction, AuditEntry, PracticeSettings

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
MINUTES = 10


@pytest.fixture
def clock(practice):
    with scopes_disabled():
        PracticeSettings.objects.update_or_create(
            practice=practice, defaults={"idle_logout_minutes": MINUTES}
        )
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def desk_client(client, front_desk_user, clock):
    client.force_login(front_desk_user)  # the login starts the idle clock
    return client


def later(clock, **delta):
    clock.shift(dt.timedelta(**delta))


def idle_entries():
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=AuditAction.IDLE_LOGOUT))


def test_still_in_a_minute_before_the_limit(desk_client, clock):
    later(clock, minutes=MINUTES - 1)
    response = desk_client.get("/")
    assert response.status_code == 200
    assert idle_entries() == []


def test_logged_out_after_the_limit_with_the_message(desk_client, clock, practice):
    later(clock, minutes=MINUTES + 1)
    response = desk_client.get("/cases/", follow=True)
    assert response.redirect_chain == [("/login/?next=/cases/", 302)]
    assert (
        f"You were logged out after {MINUTES} minutes without activity."
        in response.content.decode()
    )
    assert "_auth_user_id" not in desk_client.session
    [entry] = idle_entries()
    assert (entry.practice_id, entry.actor_label) == (practice.pk, "desk@lakeside.test")
    assert entry.summary == f"After {MINUTES} minutes without activity"


def test_each_click_restarts_the_clock(desk_client, clock):
    for _ in range(3):
        later(clock, minutes=MINUTES - 1)
        assert desk_client.get("/").status_code == 200
    assert idle_entries() == []


def test_background_requests_are_not_activity(desk_client, clock):
    later(clock, minutes=MINUTES - 1)
    # htmx polling, marked by static/js/idle.js
    poll = desk_client.get("/", HTTP_X_IDLE_BACKGROUND="1", HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    later(clock, minutes=2)
    response = desk_client.get("/")
    assert response.status_code == 302
    assert len(idle_entries()) == 1


def test_stay_logged_in_counts_as_activity(desk_client, clock):
    later(clock, minutes=MINUTES - 1)
    answer = desk_client.post("/session/keep-alive/", HTTP_X_IDLE_BACKGROUND="1")
    assert answer.json() == {"seconds_left": MINUTES * 60}
    later(clock, minutes=MINUTES - 1)
    assert desk_client.get("/").status_code == 200


def test_a_keep_alive_after_the_limit_does_not_revive_the_session(desk_client, clock):
    later(clock, minutes=MINUTES, seconds=1)
    answer = desk_client.post("/session/keep-alive/", HTTP_X_IDLE_BACKGROUND="1")
    assert answer.status_code == 401
    assert answer.json() == {"logged_out": True, "login_url": "/login/"}
    # The message waits for the login page the script goes to.
    login_page = desk_client.get("/login/?next=/")
    assert f"after {MINUTES} minutes without activity" in login_page.content.decode()


def test_an_htmx_request_after_the_limit_is_sent_to_the_login_page(desk_client, clock):
    later(clock, minutes=MINUTES + 1)
    response = desk_client.get("/", HTTP_HX_REQUEST="true", HTTP_X_IDLE_BACKGROUND="1")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/"


def test_the_warnings_own_navigation_lands_on_the_login_page(desk_client, clock):
    later(clock, minutes=MINUTES + 1)
    response = desk_client.get("/login/?next=/cases/", follow=True)
    assert response.redirect_chain == [("/login/?next=/cases/", 302)]
    assert "without activity" in response.content.decode()


def test_the_page_is_told_how_long_it_has_left(desk_client, clock):
    later(clock, minutes=3)
    html = desk_client.get("/").content.decode()
    assert f'data-seconds-left="{MINUTES * 60}"' in html
    assert 'src="/static/js/idle.js"' in html
    # Within WRITE_EVERY_SECONDS the stored time is not rewritten: the page is told the
    # time left from the stored one, so browser and server agree.
    later(clock, seconds=10)
    response = desk_client.get("/")
    assert response["X-Idle-Seconds-Left"] == str(MINUTES * 60 - 10)


def test_the_session_is_written_at_most_every_half_minute(desk_client, clock):
    start = desk_client.session[LAST_ACTIVITY_KEY]
    later(clock, seconds=WRITE_EVERY_SECONDS - 1)
    desk_client.get("/")
    assert desk_client.session[LAST_ACTIVITY_KEY] == start
    later(clock, seconds=2)
    desk_client.get("/")
    assert desk_client.session[LAST_ACTIVITY_KEY] == start + WRITE_EVERY_SECONDS + 1


def test_anonymous_pages_have_no_warning(client, db):
    html = client.get("/login/").content.decode()
    assert "idle-warning" not in html


def test_the_limit_is_the_practices(desk_client, clock, practice):
    with scopes_disabled():
        PracticeSettings.objects.filter(practice=practice).update(idle_logout_minutes=30)
    later(clock, minutes=29)
    assert desk_client.get("/").status_code == 200
