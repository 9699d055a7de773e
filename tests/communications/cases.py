"""A synthetic case walked through its whole journey, and letters on it written by hand
(the letter triggers are tested elsewhere). Names and clinical notes are invented."""

import datetime as dt
from zoneinfo import ZoneInfo

from communications.models import Letter, LetterKind
from practices.models import Membership, Role
from referrals.choices import CaseType, SourceType
from referrals.choices import MilestoneKind as M
from referrals.services import ReferralInput, create_referral, record_milestone

from ..factories import OfficeFactory, PatientFactory, ProviderFactory, UserFactory

NY = ZoneInfo("America/New_York")
# "Now" for these cases: after the whole journey.
NOW = dt.datetime(2026, 4, 20, 10, 0, tzinfo=NY)


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=NY)


def add_surgeon(practice, *, first="Maria", last="Alvarez", credentials="DDS, MD", email=None):
    user = UserFactory(first_name=first, last_name=last, email=email or f"{last.lower()}@oms.test")
    Membership.objects.create(
        practice=practice,
        user=user,
        role=Role.CLINICIAN,
        is_surgeon=True,
        credentials=credentials,
    )
    return user


def walk_case(practice, *, surgeon=None, upto: str = M.CLOSED, patient_first="Jordan"):
    """A referral from Dr. Evelyn Hart of Maple Family Dental, walked to step ``upto``.
    Returns (referral, {milestone kind: event})."""
    office = OfficeFactory(
        practice=practice,
        name="Maple Family Dental",
        address="118 Orchard Lane, Suite 4",
        city="Springfield",
        state="IL",
        zip_code="62704",
        phone="217-555-0142",
    )
    provider = ProviderFactory(
        practice=practice, office=office, first_name="Evelyn", last_name="Hart"
    )
    patient = PatientFactory(
        practice=practice,
        first_name=patient_first,
        last_name="Whitfield",
        date_of_birth=dt.date(1998, 7, 14),
    )
    referral = create_referral(
        practice,
        ReferralInput(
            patient=patient,
            source_type=SourceType.DOCTOR,
            case_type=CaseType.THIRD_MOLARS,
            received_on=dt.date(2026, 3, 2),
            referring_office=office,
            referring_provider=provider,
            reason="Impacted lower third molars, recurrent pericoronitis.",
        ),
    )
    steps = [
        (
            M.CONSULT_SCHEDULED,
            {"occurred_at": at("2026-03-03"), "scheduled_for": at("2026-03-10", 9, 30)},
        ),
        (
            M.CONSULT_COMPLETED,
            {
                "occurred_at": at("2026-03-10", 10),
                "findings": "Mesioangular impaction of #17 and #32 with early pericoronitis.\n"
                "#1 and #16 partially erupted.",
                "recommendation": "Extraction of all four third molars under IV sedation.",
                "recorded_by": surgeon,
            },
        ),
        (M.TREATMENT_ACCEPTED, {"occurred_at": at("2026-03-10", 11)}),
        (
            M.SURGERY_SCHEDULED,
            {
                "occurred_at": at("2026-03-12"),
                "scheduled_for": at("2026-03-24", 8, 0),
                "procedure": "Extraction of teeth #1, #16, #17, #32 under IV sedation",
            },
        ),
        (
            M.SURGERY_COMPLETED,
            {
                "occurred_at": at("2026-03-24", 11),
                "procedure": "Extraction of teeth #1, #16, #17, #32 under IV sedation",
                "note": "Post-op check at 1 week. Soft diet for 5 days; chlorhexidine rinse "
                "twice daily. Routine hygiene with you may resume in 4 weeks.",
                "recorded_by": surgeon,
            },
        ),
        (M.POSTOP_VISIT, {"occurred_at": at("2026-03-31"), "note": "Healing well, no dry socket."}),
        (
            M.CLOSED,
            {
                "occurred_at": at("2026-04-14"),
                "note": "Sockets fully healed at the 3-week visit. Routine hygiene recalls "
                "with you; no restrictions.",
            },
        ),
    ]
    events = {}
    kinds = [kind for kind, _ in steps]
    for kind, kwargs in steps[: kinds.index(upto) + 1]:
        events[kind] = record_milestone(referral, kind, **kwargs)
    referral.refresh_from_db()
    return referral, events


def letter_on(referral, event, kind, *, interval_days=0, to_office=False, **extra) -> Letter:
    """The outbox row a trigger would write (or the one it already wrote) for this event."""
    provider = referral.referring_provider
    if to_office or provider is None:
        key, name = f"office:{referral.referring_office_id}", referral.referring_office.name
    else:
        key, name = f"provider:{provider.pk}", f"Dr. {provider.first_name} {provider.last_name}"
    letter, _ = Letter.objects.update_or_create(
        practice=referral.practice,
        event=event,
        kind=LetterKind(kind),
        interval_days=interval_days,
        recipient_key=key,
        defaults={
            "referral": referral,
            "office": referral.referring_office,
            "recipient_name": name,
            "recipient_email": "frontdesk@mapledental.example",
            "channel": "email",
            "due_at": event.occurred_at + dt.timedelta(days=interval_days),
            **extra,
        },
    )
    return letter


def all_letters(referral, events) -> dict[str, Letter]:
    return {
        LetterKind.CONSULT_SCHEDULED: letter_on(
            referral, events[M.CONSULT_SCHEDULED], LetterKind.CONSULT_SCHEDULED
        ),
        LetterKind.CONSULT_COMPLETED: letter_on(
            referral, events[M.CONSULT_COMPLETED], LetterKind.CONSULT_COMPLETED
        ),
        LetterKind.SURGERY_SCHEDULED: letter_on(
            referral, events[M.SURGERY_SCHEDULED], LetterKind.SURGERY_SCHEDULED
        ),
        LetterKind.POSTOP_CONCLUDED: letter_on(
            referral, events[M.CLOSED], LetterKind.POSTOP_CONCLUDED
        ),
        LetterKind.POSTOP_UPDATE: letter_on(
            referral, events[M.SURGERY_COMPLETED], LetterKind.POSTOP_UPDATE, interval_days=7
        ),
    }
