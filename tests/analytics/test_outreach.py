"""The outreach log (service and form on an office's page) and the outreach plan."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.choices import OutreachKind
from analytics.models import OutreachLog
from analytics.outreach import log_outreach
from practices.scoping import practice_scope

from .health_pages import AS_OF, NOW, compute_nights, practice_with_history, the_articles_practice


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


def log_url(office) -> str:
    return reverse("referrer_log_outreach", args=[office.pk])


def stored(office) -> list[OutreachLog]:
    with practice_scope(office.practice):
        return list(OutreachLog.objects.filter(office=office))


A_CALL = {
    "kind": "call",
    "occurred_on": "2026-11-25",
    "outcome": "Spoke with Dr. Birch; will send the next implant case",
    "follow_up_on": "2026-12-09",
    "notes": "Prefers email updates.",
}


# --- the service -------------------------------------------------------------------------


def test_log_outreach_stores_the_contact(in_practice, birch, admin_user):
    entry = log_outreach(
        birch,
        kind=OutreachKind.LUNCH,
        occurred_on=dt.date(2026, 11, 20),
        by=admin_user,
        outcome="  Lunch for 6  ",
        follow_up_on=dt.date(2026, 12, 20),
    )
    entry.refresh_from_db()
    assert (entry.practice, entry.office, entry.by) == (birch.practice, birch, admin_user)
    assert entry.outcome == "Lunch for 6" and entry.get_kind_display() == "Lunch-and-learn"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"kind": "fax"}, "kind"),
        ({"occurred_on": AS_OF + dt.timedelta(days=1)}, "occurred_on"),
        ({"follow_up_on": AS_OF - dt.timedelta(days=3)}, "follow_up_on"),
    ],
)
def test_log_outreach_refuses_bad_input_by_field(in_practice, birch, changes, field):
    values = {"kind": OutreachKind.CALL, "occurred_on": AS_OF, "by": None, **changes}
    with pytest.raises(ValidationError) as refused:
        log_outreach(birch, **values)
    assert field in refused.value.message_dict
    assert not OutreachLog.objects.exists()


# --- logging from the office's page ------------------------------------------------------


def test_log_a_call_with_htmx_shows_it_on_top(admin_client, admin_user, birch):
    with practice_scope(birch.practice):
        log_outreach(birch, kind="email", occurred_on=dt.date(2026, 11, 1), by=admin_user)
    response = admin_client.post(log_url(birch), A_CALL, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="outreach"' in html
    assert "Phone call on Nov 25 logged." in html
    entries = re.findall(r'<span class="kind kind-(\w+)">', html)
    assert entries == ["call", "email"]  # newest first
    assert "Dec 9, 2026" in html and "Prefers email updates." in html
    # A fresh form for the next one.
    assert 'name="outcome" value=' not in html
    (call, _email) = sorted(stored(birch), key=lambda e: e.occurred_on, reverse=True)
    assert (call.kind, call.occurred_on, call.follow_up_on) == (
        "call",
        dt.date(2026, 11, 25),
        dt.date(2026, 12, 9),
    )
    assert call.by == admin_user


def test_log_without_javascript_redirects_with_a_message(admin_client, birch):
    response = admin_client.post(log_url(birch), A_CALL)
    assert response["Location"] == reverse("referrer_detail", args=[birch.pk]) + "#outreach"
    html = admin_client.get(response["Location"]).content.decode()
    assert "Phone call logged." in html
    assert 'data-testid="outreach-entry"' in html


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"occurred_on": "2026-11-30"}, "A contact cannot be logged before it happens."),
        ({"follow_up_on": "2026-11-01"}, "The follow-up cannot come before the contact."),
        ({"kind": "pigeon"}, "Select a valid choice."),
        ({"occurred_on": ""}, "This field is required."),
    ],
)
def test_bad_input_is_named_on_the_form_and_nothing_is_stored(
    admin_client, birch, changes, message
):
    data = {**A_CALL, **changes}
    fragment = admin_client.post(log_url(birch), data, headers={"HX-Request": "true"})
    assert message in fragment.content.decode()
    page = admin_client.post(log_url(birch), data)
    assert page.status_code == 400 and message in page.content.decode()
    assert 'value="Spoke with Dr. Birch; will send the next implant case"' in page.content.decode()
    assert stored(birch) == []


@pytest.mark.parametrize("user", ["coordinator_user", "clinician_user"])
def test_coordinators_and_clinicians_log_outreach(client, request, birch, user):
    client.force_login(request.getfixturevalue(user))
    assert client.post(log_url(birch), A_CALL).status_code == 302
    assert len(stored(birch)) == 1


def test_the_front_desk_cannot_log_outreach(client, front_desk_user, birch):
    client.force_login(front_desk_user)
    assert client.post(log_url(birch), A_CALL).status_code == 403
    assert stored(birch) == []


def test_another_practice_cannot_log_on_our_office(client, outsider, birch):
    client.force_login(outsider)
    assert client.post(log_url(birch), A_CALL).status_code == 404
    assert stored(birch) == []


# --- the outreach plan -------------------------------------------------------------------


def plan_rows(html: str) -> list[str]:
    return re.findall(r'class="office-link" href="[^"]+">([^<]+)</a>', html)


def test_the_plan_ranks_offices_with_something_to_win_back(admin_client, article):
    html = admin_client.get(reverse("outreach_list")).content.decode()
    assert sorted(plan_rows(html)) == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    assert html.count("$57,600") == 3
    assert "Sent 6 a month before March 2026" in html
    # The steady office and the one that never referred appear when asked for.
    html = admin_client.get(reverse("outreach_list"), {"all": "1"}).content.decode()
    assert set(plan_rows(html)) == set(article)
    assert plan_rows(html)[-2:] in (["Prospect", "Steady Smiles"], ["Steady Smiles", "Prospect"])


def test_the_plan_shows_the_last_contact_and_flags_an_overdue_follow_up(
    admin_client, admin_user, article
):
    birch, cedar = article["Birch Dental"], article["Cedar Dental"]
    with practice_scope(birch.practice):
        log_outreach(
            birch,
            kind="visit",
            occurred_on=dt.date(2026, 10, 1),
            by=admin_user,
            follow_up_on=dt.date(2026, 11, 1),
        )
        log_outreach(
            cedar,
            kind="call",
            occurred_on=dt.date(2026, 9, 1),
            by=admin_user,
            follow_up_on=dt.date(2026, 9, 15),
        )
        # A later contact replaces the earlier follow-up.
        log_outreach(
            cedar,
            kind="gift",
            occurred_on=dt.date(2026, 11, 20),
            by=admin_user,
            outcome="Sent a fruit basket",
            follow_up_on=dt.date(2026, 12, 15),
        )
    html = admin_client.get(reverse("outreach_list")).content.decode()

    def row(office):
        start = html.index(f'data-office-id="{office.pk}"')
        return html[start : html.index("</tr>", start)]

    assert "Office visit</span> Oct 1, 2026" in row(birch)
    assert "Nov 1, 2026 · overdue" in row(birch) and "overdue-row" in html
    assert "Gift</span> Nov 20, 2026" in row(cedar) and "Sent a fruit basket" in row(cedar)
    assert "Dec 15, 2026" in row(cedar) and "overdue" not in row(cedar)
    assert "none yet" in row(article["Elm Dental"])


def test_the_front_desk_sees_the_plan_without_money(client, front_desk_user, article):
    client.force_login(front_desk_user)
    html = client.get(reverse("outreach_list")).content.decode()
    assert len(plan_rows(html)) == 3 and "$" not in html and "Log outreach" not in html


def test_another_practice_sees_none_of_our_plan(client, outsider, article):
    client.force_login(outsider)
    html = client.get(reverse("outreach_list")).content.decode()
    assert "Birch Dental" not in html and "has not been computed yet" in html


def test_the_plan_costs_the_same_queries_for_many_offices_and_contacts(
    admin_client, admin_user, practice, django_assert_max_num_queries
):
    offices = practice_with_history(practice, offices=4, years=2)
    url = reverse("outreach_list") + "?all=1"
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(url)
    more = practice_with_history(practice, offices=40, years=2, prefix="More")
    with practice_scope(practice):
        for office in offices + more:
            for day in range(1, 6):
                log_outreach(office, kind="call", occurred_on=dt.date(2026, 11, day), by=admin_user)

    compute_nights(practice, 1)
    with django_assert_max_num_queries(len(queries)):
        html = admin_client.get(url).content.decode()
    assert len(plan_rows(html)) == 44
