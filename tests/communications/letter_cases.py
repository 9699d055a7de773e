"""Shared by the letter tests (triggers, delivery, post-op updates, print queue): cases
made through the real services, journeys, and tasks run in-process.

"""

import datetime as dt
from contextlib import contextmanager

from django.utils import timezone

from communications.models import Letter
from referrals import services
from referrals.choices import CaseType, LetterChannel, SourceType
from referrals.choices import MilestoneKind as K

from ..factories import OfficeFactory, PatientFactory, ProviderFactory

# What each step needs besides its kind (the services refuse a step without it).
STEP_FIELDS = {
    K.CONSULT_SCHEDULED: lambda: {"scheduled_for": timezone.now() + dt.timedelta(days=3)},
    K.CONSULT_COMPLETED: lambda: {
        "findings": "Impacted #17 and #32",
        "recommendation": "Extraction under IV sedation",
    },
    K.TREATMENT_DECLINED: lambda: {"reason": "Wants to wait"},
    K.SURGERY_SCHEDULED: lambda: {
        "scheduled_for": timezone.now() + dt.timedelta(days=10),
        "procedure": "Extraction #17, #32",
    },
    K.SURGERY_COMPLETED: lambda: {"procedure": "Extraction #17, #32"},
    K.CANCELLED: lambda: {"reason": "Moved away"},
}
TO_SURGERY = [
    K.CONSULT_SCHEDULED,
    K.CONSULT_COMPLETED,
    K.TREATMENT_ACCEPTED,
    K.SURGERY_SCHEDULED,
    K.SURGERY_COMPLETED,
]


def make_case(
    practice,
    *,
    channel: str = LetterChannel.EMAIL,
    provider_email: str | None = "dr.vale@maple.example",
    office_email: str = "front@maple.example",
    with_provider: bool = True,
    source: str = SourceType.DOCTOR,
    historical: bool = False,
    office=None,
    first_name: str = "Robin",
    last_name: str = "Quill",
):
    """A referral created through intake (create_referral). Call inside the practice scope."""
    office = office or OfficeFactory(
        practice=practice,
        name="Maple Street Dental",
        email=office_email,
        fax="555-0199",
        address="12 Maple Street",
        city="Springfield",
        state="IL",
        zip_code="62701",
        preferred_channel=channel,
    )
    provider = None
    if with_provider:
        provider = ProviderFactory(
            practice=practice,
            office=office,
            first_name="Jordan",
            last_name="Vale",
            email=provider_email or "",
        )
    patient = PatientFactory(practice=practice, first_name=first_name, last_name=last_name)
    office_source = source in (SourceType.DOCTOR, SourceType.SPECIALIST)
    data = services.ReferralInput(
        patient=patient,
        source_type=source,
        case_type=CaseType.THIRD_MOLARS,
        received_on=timezone.localdate() - dt.timedelta(days=1),
        referring_office=office if office_source else None,
        referring_provider=provider if office_source else None,
    )
    return services.create_referral(
        practice, data, historical=historical, provider_required=with_provider
    )


def step(referral, kind: str, **fields):
    """Record one milestone through the service, with what the step needs."""
    values = {**STEP_FIELDS.get(kind, dict)(), **fields}
    return services.record_milestone(referral, kind, **values)


def journey(referral, *kinds: str, **fields):
    return [step(referral, kind, **fields) for kind in kinds]


def letters_of(referral) -> list[Letter]:
    return list(Letter.objects.filter(referral=referral).order_by("id"))


def dispatched_letters(callbacks) -> list[int]:
    """The letter ids among captured on-commit callbacks (analytics registers its own)."""
    from functools import partial

    from communications.letters import dispatch

    return [cb.args[1] for cb in callbacks if isinstance(cb, partial) and cb.func is dispatch]


@contextmanager
def tasks_run_inline():
    """Tasks run in-process when dispatched (the on-commit dispatch, the sweeper's): the
    same code a worker runs, without a broker message no worker here would take. For a
    module's fixture: ``with tasks_run_inline(): yield``."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved
