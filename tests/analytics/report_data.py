"""A small practice whose report figures are known by hand, built through the referral
services (intake and milestones), for the report, report-email and browser tests.

"Today" is NOW (Nov 15, 2026, New York); the reports' default range is Nov 2025 – Oct 2026.

In the range: Birch Dental (doctor) 7 referrals, Cedar Dental (specialist) 4, one
self-referral and two from the website: 14. Before it: Birch 2 and Elm Dental 2. After
it (this month): Birch 1.

Milestones in the range (acceptance): Birch 4 consults, 3 accepted, 1 declined, 2
surgeries, $5,500.50; Cedar 2 consults (a third voided), 1 accepted, 1 declined, 1 surgery,
$1,800; the self-referral 1 consult, 1 accepted.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from referrals.choices import CaseType, MilestoneKind, SourceType
from referrals.services import ReferralInput, create_referral, record_milestone, void_last_milestone
from tests.factories import OfficeFactory, PatientFactory, ProviderFactory

ZONE = ZoneInfo("America/New_York")
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=ZONE)
D = dt.date
K = MilestoneKind


def at(day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def refer(practice, office, day: dt.date, *, source=SourceType.DOCTOR, case=CaseType.THIRD_MOLARS):
    provider = None
    if office is not None:
        provider = office.providers.first() or ProviderFactory(office=office, practice=practice)
    return create_referral(
        practice,
        ReferralInput(
            patient=PatientFactory(practice=practice, last_name="Confidential"),
            source_type=source,
            case_type=case,
            received_on=day,
            referring_office=office,
            referring_provider=provider,
        ),
    )


def steps(referral, *events) -> None:
    """(kind, when[, production]) through the state machine."""
    for kind, when, *rest in events:
        record_milestone(
            referral,
            kind,
            occurred_at=when,
            production=rest[0] if rest else None,
            reason="Cost" if kind == K.TREATMENT_DECLINED else "",
        )


def crafted_practice(practice) -> dict:
    """Build the practice described above (call inside its scope). Returns its offices."""
    birch = OfficeFactory(practice=practice, name="Birch Dental")
    cedar = OfficeFactory(practice=practice, name="Cedar Dental")
    elm = OfficeFactory(practice=practice, name="Elm Dental")

    # Before the range (the trend's earlier windows).
    refer(practice, birch, D(2024, 11, 15))
    refer(practice, elm, D(2024, 12, 10))
    refer(practice, elm, D(2025, 3, 10))
    r1 = refer(practice, birch, D(2025, 10, 31))

    # Birch: 7 in the range.
    r2 = refer(practice, birch, D(2025, 11, 10))
    r3 = refer(practice, birch, D(2025, 12, 5))
    r4 = refer(practice, birch, D(2026, 1, 20), case=CaseType.IMPLANTS)
    refer(practice, birch, D(2026, 2, 3))
    refer(practice, birch, D(2026, 2, 17))
    refer(practice, birch, D(2026, 7, 1), case=CaseType.IMPLANTS)
    r8 = refer(practice, birch, D(2026, 10, 31), case=CaseType.IMPLANTS)
    refer(practice, birch, D(2026, 11, 2))  # this month: after the range

    # Cedar (a specialist's office): 4.
    specialist = {"source": SourceType.SPECIALIST}
    c1 = refer(practice, cedar, D(2026, 3, 15), case=CaseType.EXTRACTIONS, **specialist)
    c2 = refer(practice, cedar, D(2026, 3, 15), case=CaseType.EXTRACTIONS, **specialist)
    c3 = refer(practice, cedar, D(2026, 3, 15), case=CaseType.EXTRACTIONS, **specialist)
    refer(practice, cedar, D(2026, 9, 30), **specialist)

    # No office: one self-referral, two from the website.
    s1 = refer(practice, None, D(2026, 4, 10), source=SourceType.SELF, case=CaseType.BIOPSY)
    refer(practice, None, D(2026, 5, 5), source=SourceType.WEBSITE)
    refer(practice, None, D(2026, 5, 6), source=SourceType.WEBSITE)

    # The journeys: each step counts in the month it happened.
    steps(r1, (K.CONSULT_COMPLETED, at(D(2025, 11, 5))), (K.TREATMENT_ACCEPTED, at(D(2025, 11, 5))))
    steps(
        r2,
        (K.CONSULT_COMPLETED, at(D(2025, 11, 20))),
        (K.TREATMENT_ACCEPTED, at(D(2025, 11, 20))),
        (K.SURGERY_COMPLETED, at(D(2025, 12, 10)), Decimal("2400.00")),
    )
    steps(
        r3, (K.CONSULT_COMPLETED, at(D(2025, 12, 15))), (K.TREATMENT_DECLINED, at(D(2025, 12, 15)))
    )
    steps(
        r4,
        (K.CONSULT_COMPLETED, at(D(2026, 2, 1))),
        (K.TREATMENT_ACCEPTED, at(D(2026, 2, 1))),
        # 23:30 in New York is already November in UTC: still October for the practice.
        (K.SURGERY_COMPLETED, at(D(2026, 10, 31), 23, 30), Decimal("3100.50")),
    )
    steps(r8, (K.CONSULT_COMPLETED, at(D(2026, 11, 3))))  # after the range
    steps(c1, (K.CONSULT_COMPLETED, at(D(2026, 3, 20))), (K.TREATMENT_DECLINED, at(D(2026, 3, 20))))
    steps(
        c2,
        (K.CONSULT_COMPLETED, at(D(2026, 3, 21))),
        (K.TREATMENT_ACCEPTED, at(D(2026, 3, 21))),
        (K.SURGERY_COMPLETED, at(D(2026, 4, 2)), Decimal("1800.00")),
    )
    steps(c3, (K.CONSULT_COMPLETED, at(D(2026, 3, 22))))
    void_last_milestone(c3, by=None, reason="Recorded on the wrong case")
    steps(s1, (K.CONSULT_COMPLETED, at(D(2026, 4, 12))), (K.TREATMENT_ACCEPTED, at(D(2026, 4, 12))))
    return {"Birch Dental": birch, "Cedar Dental": cedar, "Elm Dental": elm}


def other_practice_data(practice) -> dict:
    """Another practice with an office, referrals and milestones in the same range: none of
    it may show in our reports (call inside its scope)."""
    hilltop = OfficeFactory(practice=practice, name="Hilltop Dental")
    for day in [D(2026, 1, 5), D(2026, 6, 5), D(2026, 9, 5)]:
        referral = refer(practice, hilltop, day)
        steps(
            referral,
            (K.CONSULT_COMPLETED, at(day)),
            (K.TREATMENT_ACCEPTED, at(day)),
            (K.SURGERY_COMPLETED, at(day), Decimal("9999.00")),
        )
    refer(practice, None, D(2026, 2, 2), source=SourceType.WEBSITE)
    return {"Hilltop Dental": hilltop}
