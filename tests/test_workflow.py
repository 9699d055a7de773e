import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from referrals import services, workflow
from referrals.choices import CaseType, SourceType
from referrals.choices import MilestoneKind as K
from referrals.choices import Status as S

from .factories import OfficeFactory, PatientFactory, ProviderFactory


@pytest.fixture
def referral(in_practice, admin_user):
    office = OfficeFactory(practice=in_practice)
    provider = ProviderFactory(office=office, practice=in_practice)
    patient = PatientFactory(practice=in_practice)
    return services.create_referral(
        in_practice,
        services.ReferralInput(
            patient=patient,
            source_type=SourceType.DOCTOR,
            referring_office=office,
            referring_provider=provider,
            case_type=CaseType.IMPLANTS,
            received_on=timezone.localdate() - dt.timedelta(days=30),
        ),
        created_by=admin_user,
    )


def test_the_whole_journey_is_accepted(referral, admin_user):
    day = timezone.now() - dt.timedelta(days=20)
    steps = [
        (K.CONSULT_SCHEDULED, {"scheduled_for": day + dt.timedelta(days=3)}, S.CONSULT_SCHEDULED),
        (K.CONSULT_COMPLETED, {"findings": "Impacted #32"}, S.CONSULT_COMPLETED),
        (K.TREATMENT_ACCEPTED, {}, S.TREATMENT_ACCEPTED),
        (K.SURGERY_SCHEDULED, {"scheduled_for": day + dt.timedelta(days=10)}, S.SURGERY_SCHEDULED),
        (
            K.SURGERY_COMPLETED,
            {"procedure": "Implant #19", "production": Decimal("2450.00")},
            S.SURGERY_COMPLETED,
        ),
        (K.POSTOP_VISIT, {"note": "Healing well"}, S.SURGERY_COMPLETED),
        (K.CLOSED, {}, S.CLOSED),
    ]
    for i, (kind, extra, expected) in enumerate(steps):
        services.record_milestone(
            referral, kind, occurred_at=day + dt.timedelta(days=i), recorded_by=admin_user, **extra
        )
        referral.refresh_from_db()
        assert referral.status == expected
    kinds = list(referral.events.values_list("kind", flat=True))
    assert kinds == [K.RECEIVED] + [k for k, _, _ in steps]
    assert referral.events.get(kind=K.SURGERY_COMPLETED).production == Decimal("2450.00")


def test_an_illegal_step_is_refused_with_status_and_allowed_steps(referral):
    with pytest.raises(workflow.IllegalTransition) as err:
        services.record_milestone(referral, K.SURGERY_COMPLETED, procedure="x")
    message = str(err.value)
    assert "Surgery completed" in message and "'Received'" in message
    assert "Allowed next steps: Consult scheduled, Consult completed, Cancelled." in message
    referral.refresh_from_db()
    assert referral.status == S.RECEIVED
    assert referral.events.count() == 1


def test_nothing_may_follow_a_closed_case():
    state = workflow.replay([K.RECEIVED, K.CANCELLED])
    assert workflow.allowed_next(state) == []
    with pytest.raises(workflow.IllegalTransition, match="none \\(the case is over\\)"):
        workflow.apply(state, K.CONSULT_SCHEDULED)


@pytest.mark.parametrize(
    "missed, rebook",
    [(K.CONSULT_SCHEDULED, K.CONSULT_SCHEDULED), (K.SURGERY_SCHEDULED, K.SURGERY_SCHEDULED)],
)
def test_a_no_show_offers_rebooking_of_what_was_missed(missed, rebook):
    path = {
        K.CONSULT_SCHEDULED: [K.RECEIVED, K.CONSULT_SCHEDULED],
        K.SURGERY_SCHEDULED: [
            K.RECEIVED,
            K.CONSULT_COMPLETED,
            K.TREATMENT_ACCEPTED,
            K.SURGERY_SCHEDULED,
        ],
    }[missed]
    state = workflow.replay([*path, K.NO_SHOW])
    assert state.status == S.NO_SHOW
    assert workflow.allowed_next(state) == [rebook, K.CLOSED, K.CANCELLED]


def test_declined_then_accepted_is_allowed_but_declined_needs_a_reason(referral):
    services.record_milestone(referral, K.CONSULT_COMPLETED, findings="Needs graft")
    with pytest.raises(ValidationError) as err:
        services.record_milestone(referral, K.TREATMENT_DECLINED)
    assert "reason" in err.value.message_dict
    services.record_milestone(referral, K.TREATMENT_DECLINED, reason="Cost")
    services.record_milestone(referral, K.TREATMENT_ACCEPTED)
    referral.refresh_from_db()
    assert referral.status == S.TREATMENT_ACCEPTED


def test_voiding_the_last_step_restores_the_status_and_keeps_a_trace(referral, admin_user):
    services.record_milestone(referral, K.CONSULT_COMPLETED, findings="x")
    services.record_milestone(referral, K.TREATMENT_DECLINED, reason="Cost")
    voided = services.void_last_milestone(
        referral, by=admin_user, reason="Recorded on the wrong case"
    )
    referral.refresh_from_db()
    assert referral.status == S.CONSULT_COMPLETED
    voided.refresh_from_db()
    assert voided.kind == K.TREATMENT_DECLINED and voided.voided_by == admin_user
    assert referral.events.count() == 3  # nothing deleted
    services.record_milestone(referral, K.TREATMENT_ACCEPTED)
    referral.refresh_from_db()
    assert referral.status == S.TREATMENT_ACCEPTED


def test_production_only_with_surgery_completed(referral):
    with pytest.raises(ValidationError) as err:
        services.record_milestone(
            referral, K.CONSULT_COMPLETED, production=Decimal("100"), findings="x"
        )
    assert "production" in err.value.message_dict


def test_doctor_source_needs_office_and_doctor(in_practice):
    patient = PatientFactory(practice=in_practice)
    data = services.ReferralInput(
        patient=patient,
        source_type=SourceType.DOCTOR,
        case_type=CaseType.TMJ,
        received_on=timezone.localdate(),
    )
    with pytest.raises(ValidationError) as err:
        services.create_referral(in_practice, data)
    assert set(err.value.message_dict) == {"referring_office", "referring_provider"}


def test_first_referral_marks_the_office_new(referral):
    office = referral.referring_office
    office.refresh_from_db()
    assert office.first_referral_on == referral.received_on
