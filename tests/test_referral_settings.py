"""Settings → Referrals (practices/views_referral_settings.py): the online form's promise to
the GP and the worklist's stuck-case thresholds; defaults, bounds and their messages, who may
change them, and the promise in effect on the public form and its confirmation."""

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled

from practices.models import PracticeSettings

from .online_referral_helpers import form_data

URL = "/settings/referrals/"
SAVED = {
    "online_contact_days_urgent": "1",
    "online_contact_days_soon": "3",
    "online_contact_days_routine": "5",
    "worklist_consult_not_booked_days": "4",
    "worklist_no_decision_days": "21",
}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def stored(practice) -> PracticeSettings:
    with scopes_disabled():
        return PracticeSettings.objects.get(practice=practice)


def test_the_defaults_are_what_the_app_promised_and_flagged_before(admin_client, practice):
    html = admin_client.get(URL).content.decode()
    for name, value in [
        ("online_contact_days_urgent", 1),
        ("online_contact_days_soon", 2),
        ("online_contact_days_routine", 2),
        ("worklist_consult_not_booked_days", 7),
        ("worklist_no_decision_days", 14),
    ]:
        assert f'name="{name}" value="{value}"' in html, name


def test_an_administrator_saves_them(admin_client, practice):
    response = admin_client.post(URL, SAVED, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "Referral settings saved" in response.content.decode()
    settings = stored(practice)
    assert (
        settings.online_contact_days_urgent,
        settings.online_contact_days_soon,
        settings.online_contact_days_routine,
        settings.worklist_consult_not_booked_days,
        settings.worklist_no_decision_days,
    ) == (1, 3, 5, 4, 21)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("online_contact_days_routine", "0", "Routine: at least 1 business day."),
        ("online_contact_days_routine", "31", "Routine: at most 30 business days."),
        ("online_contact_days_soon", "two", "Soon: give a whole number of business days."),
        ("worklist_consult_not_booked_days", "", "Consult not scheduled after: give a number"),
        ("worklist_no_decision_days", "181", "No decision after the consult for: at most 180"),
        ("online_contact_days_urgent", "4", "Urgent: promise no more than for a soon referral"),
        ("online_contact_days_soon", "6", "Soon: promise no more than for a routine referral"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_the_field(
    admin_client, practice, field, value, message
):
    response = admin_client.post(URL, {**SAVED, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored(practice).worklist_no_decision_days == 14  # nothing half-saved


def test_only_an_administrator_may_change_them(client, coordinator_user, practice):
    client.force_login(coordinator_user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, SAVED).status_code == 403


def test_the_settings_page_links_to_it_for_administrators(admin_client):
    html = admin_client.get("/settings/").content.decode()
    assert f'href="{URL}"' in html


def test_the_online_form_and_its_confirmation_show_the_practices_promise(
    admin_client, client, practice
):
    default = client.get("/refer/lakeside/").content.decode()
    assert "within 1 business day for an urgent referral, 2 for a soon one and 2 for" in default
    admin_client.post(URL, SAVED)
    form = client.get("/refer/lakeside/").content.decode()
    assert "within 1 business day for an urgent referral, 3 for a soon one and 5 for" in form
    response = client.post("/refer/lakeside/", form_data(urgency="routine"))
    thanks = client.get(response["Location"]).content.decode()
    assert "We will contact the patient within 5 business days to book a consultation." in thanks
