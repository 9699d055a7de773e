"""Build referral history fast for analytics tests: one bulk insert per table."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from referrals.choices import CaseType, MilestoneKind, SourceType, Status
from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice

_patient_seq = [0]


def month_list(first: dt.date, count: int) -> list[dt.date]:
    months, year, month = [], first.year, first.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return months


def add_referrals(office: ReferringOffice, days: list[dt.date], *, accepted: int = 0) -> None:
    """Referrals from ``office`` received on ``days``; the first ``accepted`` of them go
    through consult, acceptance and surgery (production $1,800) in the same month."""
    practice = office.practice
    zone = ZoneInfo(practice.time_zone)
    patients = []
    for _ in days:
        _patient_seq[0] += 1
        patients.append(
            Patient(
                practice=practice,
                first_name="Test",
                last_name=f"Patient{_patient_seq[0]}",
                date_of_birth=dt.date(1980, 1, 1),
                chart_number=f"H{_patient_seq[0]:07d}",
            )
        )
    Patient.objects.bulk_create(patients)
    now = timezone.now()
    referrals = Referral.objects.bulk_create(
        [
            Referral(
                practice=practice,
                patient=patient,
                source_type=SourceType.DOCTOR,
                referring_office=office,
                case_type=CaseType.THIRD_MOLARS,
                received_on=day,
                status=Status.SURGERY_COMPLETED if i < accepted else Status.RECEIVED,
                status_changed_at=now,
                is_historical=True,
            )
            for i, (patient, day) in enumerate(zip(patients, days, strict=True))
        ]
    )
    events = []
    for i, referral in enumerate(referrals):
        at = dt.datetime.combine(referral.received_on, dt.time(12), tzinfo=zone)
        kinds = [MilestoneKind.RECEIVED]
        if i < accepted:
            kinds += [
                MilestoneKind.CONSULT_COMPLETED,
                MilestoneKind.TREATMENT_ACCEPTED,
                MilestoneKind.SURGERY_COMPLETED,
            ]
        for kind in kinds:
            events.append(
                MilestoneEvent(
                    practice=practice,
                    referral=referral,
                    kind=kind,
                    occurred_at=at,
                    production=Decimal("1800") if kind == MilestoneKind.SURGERY_COMPLETED else None,
                )
            )
    MilestoneEvent.objects.bulk_create(events)
    first = min(days) if days else None
    if first and (office.first_referral_on is None or first < office.first_referral_on):
        office.first_referral_on = first
        office.save(update_fields=["first_referral_on"])


def add_monthly(office: ReferringOffice, months: list[dt.date], counts: list[int]) -> None:
    """``counts[i]`` referrals spread over the days of ``months[i]``."""
    days = []
    for month, n in zip(months, counts, strict=True):
        for k in range(n):
            days.append(month.replace(day=1 + (k * 27) // max(n, 1)))
    add_referrals(office, days)
