"""Rollups are right after intake, steps, voids and the nightly rebuild; the SQL path
(PostgreSQL) and the Python path agree."""

import datetime as dt
from decimal import Decimal

from analytics.models import MonthlyRollup
from analytics.rollups import compute_rollups, rebuild_rollups
from referrals import services
from referrals.choices import CaseType, MilestoneKind, SourceType
from tests.factories import OfficeFactory, PatientFactory, ProviderFactory

from .history import add_monthly, month_list


def cells(practice):
    return {
        (r.office_id, r.month): (
            r.referrals,
            r.consults_completed,
            r.accepted,
            r.declined,
            r.surgeries_completed,
            r.production,
        )
        for r in MonthlyRollup.objects.all()
    }


def test_rollups_follow_intake_steps_and_corrections(
    in_practice, admin_user, django_capture_on_commit_callbacks
):
    office = OfficeFactory(practice=in_practice)
    provider = ProviderFactory(office=office, practice=in_practice)
    with django_capture_on_commit_callbacks(execute=True):
        referral = services.create_referral(
            in_practice,
            services.ReferralInput(
                patient=PatientFactory(practice=in_practice),
                source_type=SourceType.DOCTOR,
                referring_office=office,
                referring_provider=provider,
                case_type=CaseType.IMPLANTS,
                received_on=dt.date(2026, 9, 3),
            ),
        )
    at = dt.datetime(2026, 10, 5, 15, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        services.record_milestone(referral, MilestoneKind.CONSULT_COMPLETED, occurred_at=at)
        services.record_milestone(referral, MilestoneKind.TREATMENT_ACCEPTED, occurred_at=at)
        services.record_milestone(
            referral,
            MilestoneKind.SURGERY_COMPLETED,
            occurred_at=at,
            production=Decimal("2400"),
        )
    assert cells(in_practice) == {
        (office.pk, dt.date(2026, 9, 1)): (1, 0, 0, 0, 0, Decimal("0")),
        (office.pk, dt.date(2026, 10, 1)): (0, 1, 1, 0, 1, Decimal("2400")),
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.void_last_milestone(referral, by=admin_user, reason="Wrong case")
    assert cells(in_practice)[(office.pk, dt.date(2026, 10, 1))] == (
        0, 1, 1, 0, 0, Decimal("0"),
    )  # fmt: skip


def test_the_database_rebuild_equals_the_python_computation(in_practice):
    offices = [OfficeFactory(practice=in_practice) for _ in range(3)]
    for i, office in enumerate(offices):
        add_monthly(office, month_list(dt.date(2025, 1, 1), 14), [i + 1] * 14)
    rebuild_rollups(in_practice)
    expected = {
        (r.office_id, r.month): (r.referrals, r.consults_completed, r.production)
        for r in compute_rollups(in_practice)
    }
    stored = {
        (r.office_id, r.month): (r.referrals, r.consults_completed, r.production)
        for r in MonthlyRollup.objects.all()
    }
    assert stored == expected and len(stored) == 3 * 14
    rebuild_rollups(in_practice, [offices[0].pk])
    assert MonthlyRollup.objects.count() == 3 * 14
