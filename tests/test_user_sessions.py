"""The index of open sessions (practices/user_sessions.py) that deactivation reads."""

import datetime as dt

import time_machine
from django.contrib.sessions.models import Session
from django.test import Client

from practices.models import UserSession
from practices.user_sessions import end_sessions_of


def test_each_login_is_indexed_and_a_logout_removes_its_row(front_desk_user):
    first, second = Client(), Client()
    first.force_login(front_desk_user)
    second.force_login(front_desk_user)
    keys = set(
        UserSession.objects.filter(user=front_desk_user).values_list("session_key", flat=True)
    )
    assert keys == {first.session.session_key, second.session.session_key}
    first.logout()
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        second.session.session_key
    ]


def test_rows_older_than_a_session_can_live_are_pruned_at_the_next_login(front_desk_user, settings):
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        Client().force_login(front_desk_user)  # a browser that never logged out
    later = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=settings.SESSION_COOKIE_AGE + 60
    )
    with time_machine.travel(later):
        client = Client()
        client.force_login(front_desk_user)
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        client.session.session_key
    ]


def test_ending_a_users_sessions_leaves_other_peoples_alone(front_desk_user, admin_user):
    theirs, mine = Client(), Client()
    theirs.force_login(front_desk_user)
    mine.force_login(admin_user)
    assert end_sessions_of(front_desk_user) == 1
    assert not Session.objects.filter(session_key=theirs.session.session_key).exists()
    assert Session.objects.filter(session_key=mine.session.session_key).exists()
    assert mine.get("/").status_code == 200
