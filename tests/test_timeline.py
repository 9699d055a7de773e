"""The case timeline: what it shows, which steps it offers, and what it records."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from practices.access import roles_allowed
from practices.models import Role
from referrals import services, workflow
from referrals.choices import CaseType, SourceType, Status, Urgency
from referrals.choices import MilestoneKind as K
from referrals.models import MilestoneEvent
from referrals.step_permissions import action_for_step

from .factories import OfficeFactory, PatientFactory, ProviderFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# The milestones that lead a fresh case to each status.
PATHS: dict[str, list[tuple[str, dict]]] = {
    Status.RECEIVED: [],
    Status.CONSULT_SCHEDULED: [(K.CONSULT_SCHEDULED, {"scheduled_for": "in 3 days"})],
    Status.CONSULT_COMPLETED: [(K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"})],
    Status.TREATMENT_ACCEPTED: [
        (K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"}),
        (K.TREATMENT_ACCEPTED, {}),
    ],
    Status.TREATMENT_DECLINED: [
        (K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"}),
        (K.TREATMENT_DECLINED, {"reason": "Cost"}),
    ],
    Status.SURGERY_SCHEDULED: [
        (K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"}),
        (K.TREATMENT_ACCEPTED, {}),
        (K.SURGERY_SCHEDULED, {"scheduled_for": "in 3 days", "procedure": "Extraction x4"}),
    ],
    Status.SURGERY_COMPLETED: [
        (K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"}),
        (K.TREATMENT_ACCEPTED, {}),
        (
            K.SURGERY_COMPLETED,
            {"procedure": "Extraction x4", "production": Decimal("2450.00")},
        ),
    ],
    Status.NO_SHOW: [
        (K.CONSULT_SCHEDULED, {"scheduled_for": "in 3 days"}),
        (K.NO_SHOW, {}),
    ],
    Status.CLOSED: [
        (K.CONSULT_COMPLETED, {"findings": "Impacted #17 and #32"}),
        (K.TREATMENT_DECLINED, {"reason": "Cost"}),
        (K.CLOSED, {}),
    ],
    Status.CANCELLED: [(K.CANCELLED, {"reason": "Moved away"})],
}


def advance_to(referral, status: str, *, by=None):
    """Record the milestones that bring a fresh case to ``status`` (through the service)."""
    for kind, extra in PATHS[status]:
        extra = dict(extra)
        if extra.get("scheduled_for") == "in 3 days":
            extra["scheduled_for"] = timezone.now() + dt.timedelta(days=3)
        services.record_milestone(referral, kind, recorded_by=by, **extra)
    referral.refresh_from_db()
    assert referral.status == status
    return referral


def new_case(practice, *, received_on=None, by=None, **fields):
    office = fields.pop("office", None) or OfficeFactory(practice=practice)
    provider = fields.pop("provider", None) or ProviderFactory(office=office, practice=practice)
    patient = fields.pop("patient", None) or PatientFactory(practice=practice)
    data = services.ReferralInput(
        patient=patient,
        source_type=SourceType.DOCTOR,
        referring_office=office,
        referring_provider=provider,
        case_type=fields.pop("case_type", CaseType.THIRD_MOLARS),
        urgency=fields.pop("urgency", Urgency.ROUTINE),
        reason=fields.pop("reason", ""),
        received_on=received_on or timezone.localdate(),
    )
    assert not fields, f"unknown fields {fields}"
    return services.create_referral(practice, data, created_by=by)


def offered_steps(html: str) -> list[str]:
    return re.findall(r'data-step="(\w+)"', html)


def step_url(referral, kind):
    return reverse("referral_step", args=[referral.pk, kind])


def detail_url(referral):
    return reverse("referral_detail", args=[referral.pk])


def local_input(value: dt.datetime) -> str:
    """How a datetime-local input sends a practice-local time."""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def case(in_practice, admin_user):
    patient = PatientFactory(
        practice=in_practice,
        first_name="Robin",
        last_name="Quill",
        date_of_birth=dt.date(1987, 2, 14),
        chart_number="CH-4471",
    )
    office = OfficeFactory(practice=in_practice, name="Maple Street Dental")
    provider = ProviderFactory(
        office=office, practice=in_practice, first_name="Jordan", last_name="Vale"
    )
    return new_case(
        in_practice,
        patient=patient,
        office=office,
        provider=provider,
        case_type=CaseType.IMPLANTS,
        urgency=Urgency.SOON,
        reason="Failing #30, implant consult please",
        received_on=timezone.localdate() - dt.timedelta(days=4),
        by=admin_user,
    )


@pytest.fixture
def coordinator_client(client, coordinator_user):
    client.force_login(coordinator_user)
    return client


def test_it_shows_the_patient_the_source_and_the_referral(coordinator_client, case):
    response = coordinator_client.get(detail_url(case))
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "Robin Quill",
        "Feb 14, 1987",
        "CH-4471",
        "Maple Street Dental",
        "Dr. Jordan Vale",
        "Implants",
        "Soon (within 2 weeks)",
        "Failing #30, implant consult please",
        "Referral received",
        "4 days ago",
    ]:
        assert text in html, text
    assert 'data-testid="case-status">Received<' in html


def test_it_links_to_the_patient_record_when_that_page_exists(coordinator_client, case):
    from django.urls import NoReverseMatch

    try:
        patient_url = reverse("patient_detail", args=[case.patient.pk])
    except NoReverseMatch:
        pytest.skip("The patient page is not built yet")
    assert f'href="{patient_url}"' in coordinator_client.get(detail_url(case)).content.decode()


@pytest.mark.parametrize("status", list(PATHS))
def test_the_page_offers_exactly_the_allowed_steps(coordinator_client, case, status):
    advance_to(case, status)
    html = coordinator_client.get(detail_url(case)).content.decode()
    assert offered_steps(html) == services.allowed_next_steps(case)
    if status in (Status.CLOSED, Status.CANCELLED):
        assert offered_steps(html) == []
        assert "No further steps can be recorded" in html


def test_after_a_no_show_it_offers_to_rebook(coordinator_client, case):
    advance_to(case, Status.NO_SHOW)
    html = coordinator_client.get(detail_url(case)).content.decode()
    assert offered_steps(html) == [K.CONSULT_SCHEDULED, K.CLOSED, K.CANCELLED]
    assert "Rebook consult" in html


@pytest.mark.parametrize("status", list(PATHS))
def test_each_illegal_step_is_refused_with_a_message(coordinator_client, case, status):
    advance_to(case, status)
    allowed = services.allowed_next_steps(case)
    events_before = case.events.count()
    allowed_text = ", ".join(K(a).label for a in allowed) or "none (the case is over)"
    for kind in [k for k in K.values if k not in allowed]:
        response = coordinator_client.post(
            step_url(case, kind), {"findings": "x", "reason": "x", "procedure": "x"}
        )
        assert response.status_code == 409, kind
        html = response.content.decode()
        assert "Step not recorded." in html
        assert f"Cannot record &#x27;{K(kind).label}&#x27;" in html
        assert f"while the referral is &#x27;{Status(status).label}&#x27;" in html
        assert f"Allowed next steps: {allowed_text}." in html
    case.refresh_from_db()
    assert case.status == status
    assert case.events.count() == events_before


def test_an_illegal_step_through_htmx_is_refused_in_place(coordinator_client, case):
    response = coordinator_client.post(step_url(case, K.SURGERY_COMPLETED), {}, **HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx answers
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="case"')
    assert "Allowed next steps: Consult scheduled, Consult completed, Cancelled." in html
    assert case.events.count() == 1


def test_an_unknown_step_is_404(coordinator_client, case):
    assert coordinator_client.get(step_url(case, "teleported")).status_code == 404


def test_recording_consult_acceptance_and_surgery_shows_on_the_page(
    coordinator_client, coordinator_user, case
):
    consult_at = (timezone.now() + dt.timedelta(days=2)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    surgery_at = consult_at + dt.timedelta(days=14)
    steps = [
        (K.CONSULT_SCHEDULED, {"scheduled_for": local_input(consult_at)}),
        (
            K.CONSULT_COMPLETED,
            {"findings": "Non-restorable #30", "recommendation": "Implant with graft"},
        ),
        (K.TREATMENT_ACCEPTED, {"note": "Prefers mornings"}),
        (
            K.SURGERY_SCHEDULED,
            {"scheduled_for": local_input(surgery_at), "procedure": "Implant #30"},
        ),
        (K.SURGERY_COMPLETED, {"procedure": "Implant #30, bone graft", "production": "2450"}),
    ]
    for kind, data in steps:
        response = coordinator_client.post(step_url(case, kind), data)
        assert response.status_code == 302, response.content.decode()[:2000]
        assert response["Location"] == detail_url(case)
    case.refresh_from_db()
    assert case.status == Status.SURGERY_COMPLETED
    events = list(case.events.order_by("id"))
    assert [e.kind for e in events] == [K.RECEIVED] + [k for k, _ in steps]
    assert all(e.recorded_by == coordinator_user for e in events[1:])
    assert events[1].scheduled_for == consult_at
    assert events[-1].production == Decimal("2450.00")

    response = coordinator_client.get(detail_url(case))
    html = response.content.decode()
    for text in [
        "Recorded: Surgery completed.",
        "Non-restorable #30",
        "Implant with graft",
        "Prefers mornings",
        "Implant #30, bone graft",
        "$2,450.00",
        timezone.localtime(consult_at).strftime("%b %-d, %Y, %-I:%M %p"),
        f"by {coordinator_user}",
    ]:
        assert text in html, text
    assert 'data-testid="case-status">Surgery completed<' in html
    assert offered_steps(html) == [K.POSTOP_VISIT, K.CLOSED]


def test_htmx_reveals_the_step_form_inline(coordinator_client, case):
    response = coordinator_client.get(step_url(case, K.CONSULT_SCHEDULED), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="next-step"')
    assert 'name="scheduled_for"' in html and 'type="datetime-local"' in html
    assert f'hx-post="{step_url(case, K.CONSULT_SCHEDULED)}"' in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_without_javascript_the_step_link_opens_the_whole_page_with_the_form(
    coordinator_client, case
):
    html = coordinator_client.get(step_url(case, K.CONSULT_COMPLETED)).content.decode()
    assert "<html" in html
    assert 'name="findings"' in html and 'name="recommendation"' in html
    assert f'action="{step_url(case, K.CONSULT_COMPLETED)}"' in html


def test_htmx_post_answers_with_the_updated_case(coordinator_client, case):
    response = coordinator_client.post(
        step_url(case, K.CONSULT_COMPLETED), {"findings": "Pericoronitis #32"}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="case"')
    assert "Recorded: Consult completed." in html
    assert "Pericoronitis #32" in html
    assert offered_steps(html) == [K.TREATMENT_ACCEPTED, K.TREATMENT_DECLINED, K.CANCELLED]


@pytest.mark.parametrize(
    "status, kind, data, field_label, message",
    [
        (
            Status.RECEIVED,
            K.CONSULT_SCHEDULED,
            {},
            "Consult appointment",
            "Give the date and time of the appointment.",
        ),
        (Status.RECEIVED, K.CONSULT_COMPLETED, {}, "Findings", "This field is required."),
        (
            Status.CONSULT_COMPLETED,
            K.TREATMENT_DECLINED,
            {},
            "Why the patient declined",
            "Say why the patient declined.",
        ),
        (
            Status.TREATMENT_ACCEPTED,
            K.SURGERY_COMPLETED,
            {"procedure": "Extraction", "production": "-5"},
            "Production ($)",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            Status.TREATMENT_ACCEPTED,
            K.SURGERY_COMPLETED,
            {"procedure": "Extraction", "production": "lots"},
            "Production ($)",
            "Enter a number.",
        ),
        (
            Status.RECEIVED,
            K.CANCELLED,
            {},
            "Why the case is cancelled",
            "Say why the case is cancelled.",
        ),
        (Status.SURGERY_COMPLETED, K.POSTOP_VISIT, {}, "Visit note", "This field is required."),
        (
            # Checked by the service, shown on the form's field all the same.
            Status.RECEIVED,
            K.CONSULT_COMPLETED,
            {"findings": "x", "occurred_at": "2001-01-01T10:00"},
            "When it happened",
            "A step cannot happen before the referral was received.",
        ),
        (
            Status.RECEIVED,
            K.CONSULT_COMPLETED,
            {"findings": "x", "occurred_at": "2999-01-01T10:00"},
            "When it happened",
            "This is in the future: a step is recorded once it happened.",
        ),
    ],
)
def test_field_errors_are_shown_inline_naming_the_field(
    coordinator_client, case, status, kind, data, field_label, message
):
    advance_to(case, status)
    events_before = case.events.count()
    response = coordinator_client.post(step_url(case, kind), data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Not recorded yet." in html
    # Next to the field, and in the summary above the form.
    inline = re.search(r'<ul class="errorlist"[^>]*><li>(.*?)</li>', html)
    assert inline and inline.group(1) == f"{field_label}: {message}".replace("'", "&#x27;")
    assert html.count(f"{field_label}: {message}") == 2
    case.refresh_from_db()
    assert case.status == status and case.events.count() == events_before


def test_occurred_at_defaults_to_now_and_can_be_backdated(coordinator_client, case):
    with time_machine.travel(dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC), tick=False):
        case.received_on = dt.date(2025, 3, 1)
        case.save()
        coordinator_client.post(step_url(case, K.CONSULT_COMPLETED), {"findings": "x"})
        coordinator_client.post(
            step_url(case, K.TREATMENT_ACCEPTED), {"occurred_at": "2025-03-09T16:45"}
        )
    consult, accepted = case.events.exclude(kind=K.RECEIVED).order_by("id")
    assert consult.occurred_at == dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)
    # Read in the practice's zone (New York, daylight time since Mar 9): 20:45 UTC.
    assert accepted.occurred_at == dt.datetime(2025, 3, 9, 20, 45, tzinfo=dt.UTC)
    assert accepted.created_at == dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)


def test_dates_are_shown_and_read_in_the_practices_time_zone(coordinator_client, case):
    practice = case.practice
    practice.time_zone = "America/Los_Angeles"
    practice.save()
    coordinator_client.post(
        step_url(case, K.CONSULT_SCHEDULED), {"scheduled_for": "2031-07-01T09:30"}
    )
    event = case.events.get(kind=K.CONSULT_SCHEDULED)
    assert event.scheduled_for == dt.datetime(
        2031, 7, 1, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles")
    )
    html = coordinator_client.get(detail_url(case)).content.decode()
    assert "Tuesday, Jul 1, 2031, 9:30 AM" in html
    assert "Times in America/Los Angeles" in html


def test_undo_last_step_needs_a_reason_and_leaves_a_trace(
    coordinator_client, coordinator_user, case
):
    advance_to(case, Status.CONSULT_COMPLETED)
    undo_url = reverse("referral_undo", args=[case.pk])
    html = coordinator_client.get(detail_url(case)).content.decode()
    assert f'href="{undo_url}"' in html

    response = coordinator_client.post(undo_url, {"void_reason": "  "})
    assert response.status_code == 422
    assert "What was wrong with this step?: Say what was wrong with this step." in (
        response.content.decode()
    )
    case.refresh_from_db()
    assert case.status == Status.CONSULT_COMPLETED

    response = coordinator_client.post(undo_url, {"void_reason": "Entered on the wrong patient"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.RECEIVED
    voided = case.events.get(kind=K.CONSULT_COMPLETED)
    assert voided.is_void and voided.voided_by == coordinator_user
    html = coordinator_client.get(detail_url(case)).content.decode()
    assert "Undone: Consult completed. It stays on the timeline." in html
    assert "<del>Consult completed</del>" in html
    assert f"Undone by {coordinator_user} on" in html
    assert "“Entered on the wrong patient”" in html
    # The case is back in 'received': its steps are offered again, and nothing left to undo.
    assert offered_steps(html) == [K.CONSULT_SCHEDULED, K.CONSULT_COMPLETED, K.CANCELLED]
    assert f'href="{undo_url}"' not in html


def test_undo_through_htmx_shows_its_form_inline(coordinator_client, case):
    advance_to(case, Status.CONSULT_SCHEDULED)
    undo_url = reverse("referral_undo", args=[case.pk])
    response = coordinator_client.get(undo_url, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<form class="undo-form"')
    assert "Undo <strong>Consult scheduled</strong>" in html
    response = coordinator_client.post(undo_url, {"void_reason": "Wrong day"}, **HTMX)
    assert response.content.decode().lstrip().startswith('<div id="case"')
    case.refresh_from_db()
    assert case.status == Status.RECEIVED


def test_with_nothing_to_undo_the_undo_is_refused(coordinator_client, case):
    response = coordinator_client.post(
        reverse("referral_undo", args=[case.pk]), {"void_reason": "x"}
    )
    assert response.status_code == 409
    assert "There is no step to undo." in response.content.decode()


# --- roles ---------------------------------------------------------------------------

SCHEDULING = {K.CONSULT_SCHEDULED, K.SURGERY_SCHEDULED, K.NO_SHOW, K.CANCELLED}


@pytest.mark.parametrize("kind", [k for k in K.values if k != K.RECEIVED])
@pytest.mark.parametrize("role", list(Role.values))
def test_who_may_record_which_step(kind, role):
    expected = kind in SCHEDULING or role != Role.FRONT_DESK
    assert (role in roles_allowed(action_for_step(kind))) == expected


def test_front_desk_sees_no_production_figures(client, front_desk_user, case):
    advance_to(case, Status.SURGERY_COMPLETED)
    client.force_login(front_desk_user)
    html = client.get(detail_url(case)).content.decode()
    assert "Extraction x4" in html
    assert "2,450" not in html and "2450" not in html
    assert "Production" not in html
    assert 'data-testid="production"' not in html


@pytest.mark.parametrize("user_fixture", ["admin_user", "coordinator_user", "clinician_user"])
def test_financial_roles_see_production(client, request, case, user_fixture):
    advance_to(case, Status.SURGERY_COMPLETED)
    client.force_login(request.getfixturevalue(user_fixture))
    html = client.get(detail_url(case)).content.decode()
    assert '<dd data-testid="production">$2,450.00</dd>' in html


def test_front_desk_is_offered_scheduling_steps_only(client, front_desk_user, case):
    client.force_login(front_desk_user)
    html = client.get(detail_url(case)).content.decode()
    assert offered_steps(html) == [K.CONSULT_SCHEDULED, K.CANCELLED]
    assert "Clinical staff record: Consult completed." in html
    response = client.post(
        step_url(case, K.CONSULT_SCHEDULED),
        {"scheduled_for": local_input(timezone.now() + dt.timedelta(days=5))},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.CONSULT_SCHEDULED


def test_front_desk_cannot_record_or_undo_a_clinical_step(client, front_desk_user, case):
    client.force_login(front_desk_user)
    response = client.post(step_url(case, K.CONSULT_COMPLETED), {"findings": "x"})
    assert response.status_code == 403
    assert case.events.count() == 1
    advance_to(case, Status.CONSULT_COMPLETED)
    html = client.get(detail_url(case)).content.decode()
    assert "Undo this step" not in html
    response = client.post(reverse("referral_undo", args=[case.pk]), {"void_reason": "x"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == Status.CONSULT_COMPLETED


def test_front_desk_cannot_send_a_production_figure(client, front_desk_user, case):
    # Even if the field is forged into a step it may record, no money is stored.
    advance_to(case, Status.TREATMENT_ACCEPTED)
    client.force_login(front_desk_user)
    client.post(
        step_url(case, K.SURGERY_SCHEDULED),
        {
            "scheduled_for": local_input(timezone.now() + dt.timedelta(days=9)),
            "procedure": "Extraction",
            "production": "999",
        },
    )
    event = case.events.get(kind=K.SURGERY_SCHEDULED)
    assert event.production is None


def test_clinician_records_a_clinical_step(client, clinician_user, case):
    client.force_login(clinician_user)
    response = client.post(step_url(case, K.CONSULT_COMPLETED), {"findings": "Cyst, biopsy"})
    assert response.status_code == 302
    assert case.events.get(kind=K.CONSULT_COMPLETED).recorded_by == clinician_user


# --- tenancy -------------------------------------------------------------------------


def test_another_practices_case_and_its_endpoints_are_404(client, outsider, case):
    client.force_login(outsider)
    undo_url = reverse("referral_undo", args=[case.pk])
    assert client.get(detail_url(case)).status_code == 404
    assert client.get(step_url(case, K.CONSULT_COMPLETED)).status_code == 404
    assert client.post(step_url(case, K.CONSULT_COMPLETED), {"findings": "x"}).status_code == 404
    assert client.post(step_url(case, K.SURGERY_COMPLETED), {}).status_code == 404
    assert client.get(undo_url).status_code == 404
    assert client.post(undo_url, {"void_reason": "x"}).status_code == 404
    assert case.events.count() == 1


def test_a_logged_out_visitor_is_sent_to_log_in(client, case):
    response = client.get(detail_url(case))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_costs_a_bounded_number_of_queries(
    coordinator_client, case, django_assert_max_num_queries
):
    advance_to(case, Status.SURGERY_COMPLETED)
    # 13, +1 for the open-alert count next to "Alerts" in the navigation, +1 for the
    # case's letters in the Letters panel, +1 for the audit entry (one INSERT).
    with django_assert_max_num_queries(16):
        coordinator_client.get(detail_url(case))


def test_the_service_and_the_page_agree_on_the_message(case):
    # The page shows the state machine's own words.
    with pytest.raises(workflow.IllegalTransition) as err:
        services.record_milestone(case, K.CLOSED)
    assert "Allowed next steps: Consult scheduled, Consult completed, Cancelled." in str(err.value)
    assert MilestoneEvent.objects.filter(referral=case).count() == 1
