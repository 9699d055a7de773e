"""Writing matched rows to the database in bulk, one batch at a time.

Import is bulk seeding of history, so it writes MilestoneEvents and sets Referral.status
itself rather than through ``services.record_milestone``: the status is derived by
``workflow`` (the parser replays every row's journey), events are written in journey
order, and no per-event signal is sent, so imported history never mails a GP or raises a
"new referrer" alert. The office's first-referral bookkeeping follows
``services._note_office_referral``; one ``office_activity_changed`` signal at the end tells
analytics which offices' history changed.

Offices and doctors (a few per batch) go through ``bulk_create``; patients, referrals and
events (nearly all the rows) through the one bulk row writer, :class:`practices.bulk.RowWriter`.
"""

import datetime as dt

from django.db import connection
from django.utils import timezone

from practices.bulk import RowWriter

from ..choices import MilestoneKind, OfficeEventKind
from ..models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from ..services import _as_aware  # the same "date-only milestone happens at noon" rule
from ..signals import office_activity_changed
from .matching import Matcher, Row

# Imports creating at least this many referrals refresh the planner's statistics.
ANALYZE_AFTER = 5000


class BatchWriter:
    def __init__(self, practice, matcher: Matcher, *, user=None):
        self.practice = practice
        self.matcher = matcher
        self.user = user
        # office id -> (earliest imported referral date, that referral's id)
        self.first_referrals: dict[int, tuple[dt.date, int]] = {}
        self.first_referrals_recorded = 0
        user_id = getattr(user, "pk", None)
        self.patients = RowWriter(
            Patient,
            ("chart_number", "first_name", "last_name", "date_of_birth"),
            {"practice_id": practice.pk},
        )
        self.referrals = RowWriter(
            Referral,
            (
                "patient_id",
                "source_type",
                "referring_office_id",
                "referring_provider_id",
                "case_type",
                "received_on",
                "status",
                "status_changed_at",
            ),
            # Imported history: counts in analytics, never mails a GP.
            {"practice_id": practice.pk, "created_by_id": user_id, "is_historical": True},
        )
        self.events = RowWriter(
            MilestoneEvent,
            ("referral_id", "kind", "occurred_at", "reason", "production"),
            {"practice_id": practice.pk, "recorded_by_id": user_id},
        )

    def write(self, rows: list[Row]) -> None:
        rows = [r for r in rows if r.ok and not r.matched_referral]
        if not rows:
            return
        self._create_offices_and_doctors(rows)
        offices = self.matcher.offices
        providers = self.matcher.providers
        practice = self.practice

        new_patients: dict[str, int] = {}  # chart number -> index in the inserted rows
        patient_rows = []
        for r in rows:
            p = r.parsed
            if r.patient_id is None and p.chart_number not in new_patients:
                new_patients[p.chart_number] = len(patient_rows)
                patient_rows.append(
                    self.patients.row((p.chart_number, p.first_name, p.last_name, p.date_of_birth))
                )
        patient_ids = self.patients.insert_returning_ids(patient_rows)

        referral_rows = []
        for r in rows:
            p = r.parsed
            patient_id = r.patient_id or patient_ids[new_patients[p.chart_number]]
            last_step = p.milestones[-1].on if p.milestones else p.received_on
            referral_rows.append(
                self.referrals.row(
                    (
                        patient_id,
                        p.source_type,
                        offices[r.office_key] if r.office_key else None,
                        providers[r.provider_key] if r.provider_key else None,
                        p.case_type,
                        p.received_on,
                        p.status,
                        _as_aware(last_step, practice),
                    )
                )
            )
        referral_ids = self.referrals.insert_returning_ids(referral_rows)

        event_rows = []
        for r, referral_id in zip(rows, referral_ids, strict=True):
            p = r.parsed
            event_rows.append(
                self.events.row(
                    (
                        referral_id,
                        MilestoneKind.RECEIVED,
                        _as_aware(p.received_on, practice),
                        "",
                        None,
                    )
                )
            )
            for m in p.milestones:
                event_rows.append(
                    self.events.row(
                        (referral_id, m.kind, _as_aware(m.on, practice), m.reason, m.production)
                    )
                )
            if r.office_key is not None:
                office_id = offices[r.office_key]
                first = self.first_referrals.get(office_id)
                if first is None or p.received_on < first[0]:
                    self.first_referrals[office_id] = (p.received_on, referral_id)
        # Inserted in journey order: a case's events sort by (occurred_at, id).
        self.events.insert(event_rows)

    def _create_offices_and_doctors(self, rows: list[Row]) -> None:
        practice = self.practice
        offices = self.matcher.offices
        providers = self.matcher.providers
        new_offices: dict = {}
        for r in rows:
            if r.office_key is not None and r.office_key not in offices:
                p = r.parsed
                new_offices.setdefault(
                    r.office_key,
                    ReferringOffice(
                        practice=practice,
                        name=self.matcher.office_names[r.office_key],
                        zip_code=p.office_zip,
                        external_id=p.office_external_id,
                    ),
                )
        if new_offices:
            ReferringOffice.objects.bulk_create(new_offices.values())
            offices.update((key, office.pk) for key, office in new_offices.items())
        new_providers: dict = {}
        for r in rows:
            if r.provider_key is not None and r.provider_key not in providers:
                p = r.parsed
                new_providers.setdefault(
                    r.provider_key,
                    ReferringProvider(
                        practice=practice,
                        office_id=offices[r.office_key],
                        first_name=p.provider_first,
                        last_name=p.provider_last,
                        npi=p.provider_npi,
                    ),
                )
        if new_providers:
            ReferringProvider.objects.bulk_create(new_providers.values())
            providers.update((key, provider.pk) for key, provider in new_providers.items())

    def finish(self) -> None:
        """Record first referrals: the office's start date moves to the earliest referral,
        and an office that never had one gets its 'first referral' event."""
        self._refresh_statistics()
        if not self.first_referrals:
            return
        office_activity_changed.send(
            sender=Referral, practice_id=self.practice.pk, office_ids=sorted(self.first_referrals)
        )
        now = timezone.now()
        changed, events = [], []
        ids = sorted(self.first_referrals)
        for start in range(0, len(ids), 1000):
            # Locked like intake does, so a referral taken at the same time cannot also
            # claim to be the office's first.
            for office in ReferringOffice.objects.select_for_update().filter(
                pk__in=ids[start : start + 1000]
            ):
                day, referral_id = self.first_referrals[office.pk]
                if office.first_referral_on is not None and office.first_referral_on <= day:
                    continue
                if office.first_referral_on is None:
                    events.append(
                        OfficeEvent(
                            practice=self.practice,
                            office=office,
                            kind=OfficeEventKind.FIRST_REFERRAL,
                            occurred_on=day,
                            referral_id=referral_id,
                            by=self.user,
                        )
                    )
                office.first_referral_on = day
                office.updated_at = now
                changed.append(office)
        ReferringOffice.objects.bulk_update(
            changed, ["first_referral_on", "updated_at"], batch_size=500
        )
        OfficeEvent.objects.bulk_create(events)
        self.first_referrals_recorded = len(events)

    def _refresh_statistics(self) -> None:
        # A big import changes a practice's share of these tables long before autovacuum
        # looks: with the old statistics PostgreSQL takes a new practice's 100,000 referrals
        # for a handful, and the rollup refresh that follows the commit (analytics) chose a
        # nested loop over them that ran for minutes (bench/import_csv.py, a third practice
        # in one database). ANALYZE samples the tables in well under a second and, run in
        # this transaction, counts its own new rows.
        created = self.matcher.tally.referrals_created
        if connection.vendor != "postgresql" or created < ANALYZE_AFTER:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE referrals_referral, referrals_milestoneevent, referrals_patient"
            )
