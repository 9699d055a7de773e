"""Settings → Referrer health & alerts (analytics/views/settings.py, practices/forms.py):
admins only, every bound checked with a field message, nothing half-saved, and "Recompute
now" queues the practice's recompute for its local today."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled

from analytics.digest import digest_recipients
from analytics.models import ReferrerSnapshot
from practices.models import Practice, PracticeSettings, settings_for
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

from .history import add_referrals

URL = "/settings/referrer-health/"
RECOMPUTE_URL = "/settings/referrer-health/recompute/"

VALID = {
    "new_days": "60",
    "inactive_days": "120",
    "lost_months": "18",
    "threshold_rule_enabled": "on",
    "threshold_min_baseline": "10",
    "threshold_max_recent": "4",
    "threshold_months": "3",
    "statistical_rule_enabled": "",
    "statistical_method": "cusum",
    "glr_threshold": "3.5",
    "silence_rule_enabled": "",
    "cusum_drop_ratio": "0.6",
    "cusum_threshold": "2.5",
    "statistical_min_baseline": "2",
    "alert_recipients": "manager@lakeside.test\n\n  Marketing@Lakeside.test \n"
    "manager@LAKESIDE.test",
    "nightly_hour": "4",
    "default_case_value": "2150",
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_celery():
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def stored(practice) -> PracticeSettings:
    """The saved row (created with the defaults when nothing was ever saved)."""
    with scopes_disabled():
        return PracticeSettings.objects.get_or_create(practice=practice)[0]


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}-error">(.*?)</ul>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def test_admin_sees_the_current_settings_and_what_they_mean(admin_client, practice):
    response = admin_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="new_days" value="90"' in html
    assert 'name="threshold_min_baseline" value="8"' in html
    assert 'name="cusum_threshold" value="3.00"' in html
    assert 'name="glr_threshold" value="3.00"' in html
    assert '<option value="glr" selected>Change-point scan (GLR)</option>' in html
    assert 'name="default_case_value" value="1800.00"' in html
    assert "h is how much evidence of a drop the test adds up before it raises an alert" in html
    assert "docs/decline-detection.md" in html
    assert "America/New_York" in html  # the nightly hour is the practice's local hour
    assert 'data-testid="recompute-offer"' not in html


def test_the_settings_page_links_to_it_for_admins_only(client, admin_user, coordinator_user):
    client.force_login(admin_user)
    html = client.get("/settings/").content.decode()
    assert 'data-testid="referrer-health-section"' in html
    assert f'href="{URL}"' in html
    client.force_login(coordinator_user)
    html = client.get("/settings/").content.decode()
    assert 'data-testid="referrer-health-section"' in html
    assert f'href="{URL}"' not in html
    assert "Only a practice administrator can change these." in html


@pytest.mark.parametrize("role_user", ["coordinator_user", "front_desk_user", "clinician_user"])
def test_only_admins_may_open_or_change_it(client, practice, role_user, request):
    client.force_login(request.getfixturevalue(role_user))
    assert client.get(URL).status_code == 403
    assert client.post(URL, VALID).status_code == 403
    assert client.post(RECOMPUTE_URL).status_code == 403
    assert stored(practice).new_days == 90


def test_anonymous_users_log_in_first(client):
    assert client.get(URL)["Location"].startswith("/login/")


def test_saving_stores_every_field_and_offers_a_recompute(admin_client, practice):
    response = admin_client.post(URL, VALID, follow=True)
    assert response.redirect_chain == [(f"{URL}?saved=1", 302)]
    html = response.content.decode()
    assert "Referrer-health settings saved." in html
    assert 'data-testid="recompute-offer"' in html
    s = stored(practice)
    assert (s.new_days, s.inactive_days, s.lost_months) == (60, 120, 18)
    assert s.threshold_rule_enabled is True
    assert (s.threshold_min_baseline, s.threshold_max_recent, s.threshold_months) == (
        Decimal("10.0"),
        Decimal("4.0"),
        3,
    )
    assert s.statistical_rule_enabled is False
    assert (s.statistical_method, s.glr_threshold, s.silence_rule_enabled) == (
        "cusum",
        Decimal("3.50"),
        False,
    )
    assert (s.cusum_drop_ratio, s.cusum_threshold, s.statistical_min_baseline) == (
        Decimal("0.60"),
        Decimal("2.50"),
        Decimal("2.0"),
    )
    # One address a line, blank lines dropped, duplicates (any case) once.
    assert s.alert_recipients == "manager@lakeside.test\nMarketing@Lakeside.test"
    assert s.nightly_hour == 4
    practice.refresh_from_db()
    assert practice.default_case_value == Decimal("2150.00")
    with practice_scope(practice):
        assert digest_recipients(practice) == ["manager@lakeside.test", "Marketing@Lakeside.test"]


def test_empty_recipients_means_the_admins_get_the_digest(admin_client, practice, admin_user):
    admin_client.post(URL, {**VALID, "alert_recipients": ""})
    assert stored(practice).alert_recipients == ""
    with practice_scope(practice):
        assert digest_recipients(practice) == [admin_user.email]


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"alert_recipients": "ok@lakeside.test\nbob@\nalso wrong"},
            "alert_recipients",
            "Not an email address: “bob@” (line 2), “also wrong” (line 3).",
        ),
        (
            {"inactive_days": "120", "lost_months": "3"},
            "lost_months",
            "An office goes inactive before it is lost: make this longer than 120 days",
        ),
        ({"threshold_max_recent": "10"}, "threshold_max_recent", "B must be below the baseline"),
        ({"cusum_drop_ratio": "1"}, "cusum_drop_ratio", "less than or equal to 0.95"),
        ({"cusum_drop_ratio": "0"}, "cusum_drop_ratio", "greater than or equal to 0.05"),
        ({"cusum_threshold": "0"}, "cusum_threshold", "greater than or equal to 0.5"),
        ({"nightly_hour": "24"}, "nightly_hour", "Choose an hour from 00:00 to 23:00."),
        ({"nightly_hour": ""}, "nightly_hour", "This field is required."),
        ({"default_case_value": "-5"}, "default_case_value", "greater than or equal to 0"),
        ({"new_days": "many"}, "new_days", "Enter a whole number."),
        ({"threshold_months": "0"}, "threshold_months", "greater than or equal to 1"),
    ],
)
def test_bad_values_get_a_message_at_their_field_and_nothing_is_saved(
    admin_client, practice, changes, field, message
):
    response = admin_client.post(URL, {**VALID, **changes})
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field)
    s = stored(practice)
    assert (s.new_days, s.alert_recipients, s.nightly_hour) == (90, "", 2)
    practice.refresh_from_db()
    assert practice.default_case_value == Decimal("1800.00")


def test_a_bad_value_keeps_what_was_typed(admin_client, practice):
    html = admin_client.post(URL, {**VALID, "nightly_hour": "25"}).content.decode()
    assert 'name="new_days" value="60"' in html
    assert "Marketing@Lakeside.test" in html


def test_each_practice_changes_only_its_own_settings(client, practice, outsider, other_practice):
    settings_for(practice)
    client.force_login(outsider)
    client.post(URL, VALID)
    assert stored(other_practice).new_days == 60
    assert stored(practice).new_days == 90
    assert Practice.objects.get(pk=practice.pk).default_case_value == Decimal("1800.00")


# --- Recompute now ------------------------------------------------------------------------


def test_recompute_now_queues_the_practices_recompute_for_its_local_today(
    admin_client, practice, django_capture_on_commit_callbacks, eager_celery
):
    # 03:30 UTC on Nov 27 is still Nov 26 in Honolulu: the practice's today.
    Practice.objects.filter(pk=practice.pk).update(time_zone="Pacific/Honolulu")
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Birch Dental")
        add_referrals(office, [dt.date(2026, 10, 5), dt.date(2026, 11, 20)])
    at = dt.datetime(2026, 11, 27, 3, 30, tzinfo=ZoneInfo("UTC"))
    with time_machine.travel(at, tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            response = admin_client.post(RECOMPUTE_URL, follow=True)
        assert "Recompute queued for Nov 26, 2026." in response.content.decode()
        assert len(callbacks) == 1
        with scopes_disabled():
            assert not ReferrerSnapshot.objects.exists()
        callbacks[0]()  # the dispatch: runs the Celery task (eagerly here)
    with scopes_disabled():
        snapshot = ReferrerSnapshot.objects.get(office=office)
    assert snapshot.as_of == dt.date(2026, 11, 26)
    assert snapshot.status == "new"


def test_recompute_is_post_only(admin_client):
    assert admin_client.get(RECOMPUTE_URL).status_code == 405
