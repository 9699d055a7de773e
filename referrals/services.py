"""State changes of the referral domain: one function per verb, each atomic.

Views, API, import and tasks call these; none of them changes a Referral's status or
writes a MilestoneEvent by itself.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from practices.models import Practice

from . import workflow
from .choices import OFFICE_SOURCES, MilestoneKind, OfficeEventKind, Status
from .models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from .signals import first_referral_from_office, milestone_recorded, office_activity_changed

# How far ahead an appointment may be booked, and the earliest one a late record may hold.
APPOINTMENT_HORIZON = dt.timedelta(days=5 * 365)
EARLIEST_APPOINTMENT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


@dataclass
class ReferralInput:
    patient: Patient
    source_type: str
    case_type: str
    received_on: dt.date
    referring_office: ReferringOffice | None = None
    referring_provider: ReferringProvider | None = None
    reason: str = ""
    urgency: str = "routine"


def validate_source(
    practice: Practice,
    source_type: str,
    office: ReferringOffice | None,
    provider: ReferringProvider | None,
    *,
    provider_required: bool = True,
) -> None:
    """The source of every referral is captured; a doctor source names office and doctor."""
    errors: dict[str, str | ValidationError] = {}
    if not source_type:
        errors["source_type"] = "Choose where this referral came from."
    elif source_type in OFFICE_SOURCES:
        if office is None:
            errors["referring_office"] = (
                "A doctor or specialist referral needs its referring office."
            )
        if provider is None and provider_required:
            errors["referring_provider"] = (
                "A doctor or specialist referral needs the referring doctor."
            )
    for obj, field in ((office, "referring_office"), (provider, "referring_provider")):
        if obj is not None and obj.practice_id != practice.pk:
            errors[field] = ValidationError("Unknown for this practice.", code="does_not_exist")
    if office is not None and provider is not None and provider.office_id != office.pk:
        # The codes let the API tell a clash with stored rows (409) from bad input (400).
        errors["referring_provider"] = ValidationError(
            "This doctor does not work at the chosen office.", code="conflict"
        )
    if errors:
        raise ValidationError(errors)


def _as_aware(day: dt.date, practice: Practice) -> dt.datetime:
    # A date-only milestone happened at noon, practice-local: safe from DST and UTC shifts.
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=ZoneInfo(practice.time_zone))


@transaction.atomic
def create_referral(
    practice: Practice,
    data: ReferralInput,
    *,
    created_by=None,
    historical: bool = False,
    provider_required: bool = True,
) -> Referral:
    """Intake: a new case with its 'received' event; marks an office's first referral."""
    validate_source(
        practice,
        data.source_type,
        data.referring_office,
        data.referring_provider,
        provider_required=provider_required,
    )
    if data.patient.practice_id != practice.pk:
        raise ValidationError({"patient": "Unknown for this practice."})
    office = data.referring_office if data.source_type in OFFICE_SOURCES else None
    provider = data.referring_provider if office is not None else None
    now = timezone.now()
    referral = Referral.objects.create(
        practice=practice,
        patient=data.patient,
        source_type=data.source_type,
        referring_office=office,
        referring_provider=provider,
        case_type=data.case_type,
        reason=data.reason,
        urgency=data.urgency,
        received_on=data.received_on,
        status=Status.RECEIVED,
        status_changed_at=now,
        created_by=created_by,
        is_historical=historical,
    )
    event = MilestoneEvent.objects.create(
        practice=practice,
        referral=referral,
        kind=MilestoneKind.RECEIVED,
        occurred_at=_as_aware(data.received_on, practice),
        recorded_by=created_by,
    )
    if office is not None:
        _note_office_referral(office, referral)
    milestone_recorded.send(sender=Referral, referral=referral, event=event, historical=historical)
    return referral


def _note_office_referral(office: ReferringOffice, referral: Referral) -> None:
    # Lock the office row so two intakes at once cannot both claim "first referral".
    office = ReferringOffice.objects.select_for_update().get(pk=office.pk)
    if office.first_referral_on is None or referral.received_on < office.first_referral_on:
        was_new = office.first_referral_on is None
        office.first_referral_on = referral.received_on
        office.save(update_fields=["first_referral_on", "updated_at"])
        if was_new:
            OfficeEvent.objects.create(
                practice_id=office.practice_id,
                office=office,
                kind=OfficeEventKind.FIRST_REFERRAL,
                occurred_on=referral.received_on,
                referral=referral,
                by=referral.created_by,
            )
            first_referral_from_office.send(
                sender=ReferringOffice, office=office, referral=referral
            )


def journey_state(referral: Referral) -> workflow.JourneyState:
    kinds = (
        referral.events.filter(voided_at__isnull=True).order_by("id").values_list("kind", flat=True)
    )
    return workflow.replay(kinds)


def allowed_next_steps(referral: Referral) -> list[str]:
    return workflow.allowed_next(journey_state(referral))


@transaction.atomic
def record_milestone(
    referral: Referral,
    kind: str,
    *,
    occurred_at: dt.datetime | None = None,
    scheduled_for: dt.datetime | None = None,
    recorded_by=None,
    note: str = "",
    findings: str = "",
    recommendation: str = "",
    procedure: str = "",
    reason: str = "",
    production: Decimal | None = None,
    historical: bool = False,
) -> MilestoneEvent:
    """Record one step of the journey, if the state machine allows it, and move the status."""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    state = workflow.apply(journey_state(referral), kind)  # raises IllegalTransition
    occurred_at = occurred_at or timezone.now()
    errors = {}
    if occurred_at.date() < referral.received_on - dt.timedelta(days=1):
        errors["occurred_at"] = ValidationError(
            "A step cannot happen before the referral was received.", code="conflict"
        )
    if (
        kind in (MilestoneKind.CONSULT_SCHEDULED, MilestoneKind.SURGERY_SCHEDULED)
        and not scheduled_for
    ):
        errors["scheduled_for"] = "Give the date of the appointment."
    if scheduled_for and not (
        EARLIEST_APPOINTMENT <= scheduled_for <= timezone.now() + APPOINTMENT_HORIZON
    ):
        # Found by the property tests: 9999-12-31 23:59 in New York is stored as year 10000
        # in UTC, which PostgreSQL keeps but no one can read back (every page of the case
        # answered 500 from then on). A year that far off is a typo anyway.
        errors["scheduled_for"] = "Check the year of the appointment."
    if production is not None and kind != MilestoneKind.SURGERY_COMPLETED:
        errors["production"] = "Production is recorded with a completed surgery only."
    if production is not None and production < 0:
        errors["production"] = "Production cannot be negative."
    if kind in (MilestoneKind.TREATMENT_DECLINED, MilestoneKind.CANCELLED) and not reason:
        errors["reason"] = "Say why."
    if errors:
        raise ValidationError(errors)
    event = MilestoneEvent.objects.create(
        practice_id=referral.practice_id,
        referral=referral,
        kind=kind,
        occurred_at=occurred_at,
        scheduled_for=scheduled_for,
        recorded_by=recorded_by,
        note=note,
        findings=findings,
        recommendation=recommendation,
        procedure=procedure,
        reason=reason,
        production=production,
    )
    _set_status(referral, state.status)
    milestone_recorded.send(sender=Referral, referral=referral, event=event, historical=historical)
    return event


@transaction.atomic
def void_last_milestone(referral: Referral, *, by, reason: str) -> MilestoneEvent:
    """Correct a mistake: void the latest step (it stays on the timeline, struck through)."""
    if not reason.strip():
        raise ValidationError({"void_reason": "Say what was wrong with this step."})
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    event = (
        referral.events.filter(voided_at__isnull=True)
        .exclude(kind=MilestoneKind.RECEIVED)
        .order_by("-id")
        .first()
    )
    if event is None:
        raise ValidationError({"void_reason": "There is no step to correct."})
    event.voided_at = timezone.now()
    event.voided_by = by
    event.void_reason = reason.strip()
    event.save(update_fields=["voided_at", "voided_by", "void_reason", "updated_at"])
    _set_status(referral, journey_state(referral).status)
    if referral.referring_office_id:
        office_activity_changed.send(
            sender=Referral,
            practice_id=referral.practice_id,
            office_ids=[referral.referring_office_id],
        )
    return event


def _set_status(referral: Referral, status: str) -> None:
    if referral.status != status:
        referral.status = status
        referral.status_changed_at = timezone.now()
    referral.save(update_fields=["status", "status_changed_at", "updated_at"])
