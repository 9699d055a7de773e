"""The coordinator's worklist: which cases each filter and queue lists, and its cost."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from practices.scoping import practice_scope
from referrals import services
from referrals.choices import CaseType, Status, Urgency
from referrals.choices import MilestoneKind as K
from referrals.worklist import Queue

from .factories import OfficeFactory, PatientFactory, ProviderFactory
from .test_timeline import advance_to, new_case

HTMX = {"HTTP_HX_REQUEST": "true"}
# A Monday, mid-morning in New York (the practice's zone).
NOW = dt.datetime(2025, 6, 16, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2025, 6, 16)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def listed(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-case="(\d+)"', response.content.decode())}


class Journey:
    """Builds a case whose steps happened on given days, as the services record them."""

    def __init__(self, practice, traveller):
        self.practice = practice
        self.traveller = traveller

    def at(self, days_ago: int, hour: int = 11):
        # 11:00 practice-local on that day.
        local = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour))
        self.traveller.move_to(timezone.make_aware(local))

    def case(self, received_days_ago: int, steps=(), **fields):
        self.at(received_days_ago)
        referral = new_case(
            self.practice, received_on=TODAY - dt.timedelta(days=received_days_ago), **fields
        )
        for days_ago, kind, extra in steps:
            self.at(days_ago, hour=extra.pop("hour", 11))
            if kind in (K.CONSULT_SCHEDULED, K.SURGERY_SCHEDULED):
                extra.setdefault("scheduled_for", timezone.now() + dt.timedelta(days=2))
            services.record_milestone(referral, kind, **extra)
        self.traveller.move_to(NOW)
        referral.refresh_from_db()
        return referral


@pytest.fixture
def journey(in_practice, frozen):
    return Journey(in_practice, frozen)


@pytest.fixture
def cases(journey):
    done = {"findings": "x"}
    c = {
        "fresh": journey.case(5),
        "waiting_7": journey.case(7),
        "waiting_10": journey.case(10),
        "booked": journey.case(10, [(8, K.CONSULT_SCHEDULED, {})]),
        "decision_15": journey.case(20, [(15, K.CONSULT_COMPLETED, dict(done))]),
        # Late in the evening 14 days ago is still 14 calendar days.
        "decision_14": journey.case(20, [(14, K.CONSULT_COMPLETED, {"findings": "x", "hour": 23})]),
        "decision_13": journey.case(20, [(13, K.CONSULT_COMPLETED, dict(done))]),
        "accepted": journey.case(
            30, [(25, K.CONSULT_COMPLETED, dict(done)), (20, K.TREATMENT_ACCEPTED, {})]
        ),
        "surgery_booked": journey.case(
            30,
            [
                (25, K.CONSULT_COMPLETED, dict(done)),
                (20, K.TREATMENT_ACCEPTED, {}),
                (18, K.SURGERY_SCHEDULED, {"procedure": "Extraction"}),
            ],
        ),
        "no_show": journey.case(12, [(11, K.CONSULT_SCHEDULED, {}), (9, K.NO_SHOW, {})]),
        "rebooked": journey.case(
            12,
            [(11, K.CONSULT_SCHEDULED, {}), (9, K.NO_SHOW, {}), (8, K.CONSULT_SCHEDULED, {})],
        ),
        "cancelled": journey.case(40, [(30, K.CANCELLED, {"reason": "Moved"})]),
    }
    return c


def pks(cases, *names) -> set[int]:
    return {cases[name].pk for name in names}


@pytest.fixture
def coordinator_client(client, coordinator_user):
    client.force_login(coordinator_user)
    return client


def get(client, **params):
    return client.get(reverse("worklist"), params)


def test_it_lists_open_cases_only(coordinator_client, cases):
    response = get(coordinator_client)
    assert response.status_code == 200
    assert listed(response) == {c.pk for name, c in cases.items() if name != "cancelled"}


@pytest.mark.parametrize(
    "queue, expected",
    [
        (Queue.CONSULT_NOT_BOOKED, ["waiting_7", "waiting_10"]),
        (Queue.NO_DECISION, ["decision_15", "decision_14"]),
        (Queue.SURGERY_NOT_BOOKED, ["accepted"]),
        (Queue.NO_SHOW, ["no_show"]),
    ],
)
def test_each_queue_lists_exactly_its_cases(coordinator_client, cases, queue, expected):
    assert listed(get(coordinator_client, queue=queue)) == pks(cases, *expected)


def test_the_queues_count_and_flag_their_cases(coordinator_client, cases):
    html = get(coordinator_client).content.decode()
    counts = dict(
        re.findall(
            r'data-testid="queue-(\w+)".*?<span class="queue-count">(\d+)</span>', html, re.S
        )
    )
    assert counts == {
        Queue.NO_DECISION: "2",
        Queue.SURGERY_NOT_BOOKED: "1",
        Queue.CONSULT_NOT_BOOKED: "2",
        Queue.NO_SHOW: "1",
    }
    assert html.count('data-testid="stuck"') == 6


def test_ages_are_days_since_received_and_in_stage(coordinator_client, cases):
    html = get(coordinator_client, queue=Queue.SURGERY_NOT_BOOKED).content.decode()
    row = re.search(r'<tr data-testid="case-row".*?</tr>', html, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*">(\d+) d', row)
    assert cells == ["30", "20"]


@pytest.mark.parametrize(
    "stage, expected",
    [
        (Status.RECEIVED, ["fresh", "waiting_7", "waiting_10"]),
        (Status.CONSULT_SCHEDULED, ["booked", "rebooked"]),
        (Status.CONSULT_COMPLETED, ["decision_15", "decision_14", "decision_13"]),
        (Status.CANCELLED, ["cancelled"]),
    ],
)
def test_the_stage_filter(coordinator_client, cases, stage, expected):
    assert listed(get(coordinator_client, stage=stage)) == pks(cases, *expected)


def test_the_stage_list_counts_cases_in_each_stage(coordinator_client, cases):
    html = get(coordinator_client).content.decode()
    stages = dict(
        re.findall(
            r'data-testid="stage-(\w+)".*?<span class="stage-count">(\d+)</span>', html, re.S
        )
    )
    assert stages == {
        "open": "11",
        Status.RECEIVED: "3",
        Status.CONSULT_SCHEDULED: "2",
        Status.CONSULT_COMPLETED: "3",
        Status.TREATMENT_ACCEPTED: "1",
        Status.TREATMENT_DECLINED: "0",
        Status.SURGERY_SCHEDULED: "1",
        Status.SURGERY_COMPLETED: "0",
        Status.NO_SHOW: "1",
        Status.CLOSED: "0",
        Status.CANCELLED: "1",
    }


def test_filters_by_office_case_type_and_urgency(coordinator_client, in_practice, journey):
    north = OfficeFactory(practice=in_practice, name="North Dental")
    south = OfficeFactory(practice=in_practice, name="South Dental")
    a = journey.case(3, office=north, case_type=CaseType.IMPLANTS, urgency=Urgency.URGENT)
    b = journey.case(3, office=north, case_type=CaseType.THIRD_MOLARS)
    c = journey.case(3, office=south, case_type=CaseType.IMPLANTS)
    assert listed(get(coordinator_client, office=north.pk)) == {a.pk, b.pk}
    assert listed(get(coordinator_client, case_type=CaseType.IMPLANTS)) == {a.pk, c.pk}
    assert listed(get(coordinator_client, urgency=Urgency.URGENT)) == {a.pk}
    assert listed(get(coordinator_client, office=north.pk, case_type="implants")) == {a.pk}


def test_search_by_patient_name_or_chart_number(coordinator_client, in_practice, journey):
    ann = PatientFactory(
        practice=in_practice, first_name="Ann", last_name="Okafor", chart_number="A-1001"
    )
    ben = PatientFactory(
        practice=in_practice, first_name="Ben", last_name="Okafor", chart_number="B-2002"
    )
    cal = PatientFactory(
        practice=in_practice, first_name="Cal", last_name="Rhee", chart_number="C-3003"
    )
    a, b, c = (journey.case(2, patient=p) for p in (ann, ben, cal))
    assert listed(get(coordinator_client, q="okaf")) == {a.pk, b.pk}
    assert listed(get(coordinator_client, q="ann okafor")) == {a.pk}
    assert listed(get(coordinator_client, q="c-3003")) == {c.pk}
    assert listed(get(coordinator_client, q="nobody")) == set()


def test_filters_are_in_the_url_and_shown_as_chosen(coordinator_client, in_practice, cases):
    office = cases["accepted"].referring_office
    html = get(
        coordinator_client, office=office.pk, queue=Queue.SURGERY_NOT_BOOKED
    ).content.decode()
    assert f'<option value="{office.pk}" selected>' in html
    # The filter form keeps the chosen queue when another filter changes.
    assert f'<input type="hidden" name="queue" value="{Queue.SURGERY_NOT_BOOKED}">' in html
    assert "Accepted, surgery not scheduled" in html  # the chip that clears it
    # Stage links keep the other filters in their links.
    assert f'href="?office={office.pk}&amp;stage=received"' in html


def test_a_stale_or_forged_parameter_is_ignored(coordinator_client, cases, other_practice):
    with practice_scope(other_practice):
        foreign_office = OfficeFactory(practice=other_practice)
    response = get(coordinator_client, stage="bogus", office=foreign_office.pk, page="99")
    assert response.status_code == 200
    assert len(listed(response)) == 11


def test_another_practices_cases_never_appear(coordinator_client, cases, other_practice, frozen):
    with practice_scope(other_practice):
        theirs = new_case(other_practice, received_on=TODAY - dt.timedelta(days=30))
    assert theirs.pk not in listed(get(coordinator_client))
    assert theirs.pk not in listed(get(coordinator_client, queue=Queue.CONSULT_NOT_BOOKED))


def test_htmx_gets_the_fragment(coordinator_client, cases):
    response = coordinator_client.get(reverse("worklist"), {"stage": "received"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="worklist"')
    assert "HX-Request" in response["Vary"]
    assert listed(response) == pks(cases, "fresh", "waiting_7", "waiting_10")


def test_it_is_paginated(coordinator_client, in_practice, frozen):
    office = OfficeFactory(practice=in_practice)
    provider = ProviderFactory(office=office, practice=in_practice)
    made = {new_case(in_practice, office=office, provider=provider).pk for _ in range(30)}
    first = get(coordinator_client)
    second = get(coordinator_client, page=2)
    assert len(listed(first)) == 25 and len(listed(second)) == 5
    assert listed(first) | listed(second) == made
    assert "Showing 26–30 of 30 cases" in second.content.decode()
    assert 'href="?page=2"' in first.content.decode()


# Middleware and navigation (session, user, memberships, badges) plus the worklist's own
# four: stage/queue counts, page count, the page's rows, the office filter's options.
# +1: the open-alert count next to "Alerts" in the navigation.
# +1: the audit log's one INSERT (a "listed" entry for the page).
WORKLIST_MAX_QUERIES = 13


@pytest.mark.parametrize("n", [3, 30])
def test_the_query_count_does_not_grow_with_the_cases(
    coordinator_client, in_practice, frozen, n, django_assert_max_num_queries
):
    for i in range(n):
        referral = new_case(in_practice)
        advance_to(referral, [Status.RECEIVED, Status.CONSULT_SCHEDULED, Status.NO_SHOW][i % 3])
    get(coordinator_client)  # the first request of a session also saves the session
    with django_assert_max_num_queries(WORKLIST_MAX_QUERIES):
        get(coordinator_client)
    with django_assert_max_num_queries(WORKLIST_MAX_QUERIES):
        get(coordinator_client, q="Pat", office=referral.referring_office_id, page=2)


@pytest.mark.parametrize("user_fixture", ["front_desk_user", "clinician_user", "admin_user"])
def test_every_role_may_use_the_worklist(client, request, cases, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    assert get(client).status_code == 200


def test_a_case_row_links_to_its_timeline(coordinator_client, cases):
    html = get(coordinator_client).content.decode()
    assert f'href="{reverse("referral_detail", args=[cases["accepted"].pk])}"' in html


def test_the_practices_own_stuck_thresholds_decide_the_queues_and_flags(
    coordinator_client, in_practice, cases
):
    from practices.models import PracticeSettings

    PracticeSettings.objects.update_or_create(
        practice=in_practice,
        defaults={"worklist_consult_not_booked_days": 5, "worklist_no_decision_days": 15},
    )
    assert listed(get(coordinator_client, queue=Queue.CONSULT_NOT_BOOKED)) == pks(
        cases, "fresh", "waiting_7", "waiting_10"
    )
    assert listed(get(coordinator_client, queue=Queue.NO_DECISION)) == pks(cases, "decision_15")
    html = get(coordinator_client).content.decode()
    assert "Received, consult not scheduled for 5+ days" in html
    assert "Consult done, no decision for 15+ days" in html
    assert "Consult not scheduled for 5+ days" in html  # the flag on a row
    assert "for 7+ days" not in html and "for 14+ days" not in html
