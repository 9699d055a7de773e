"""Writing matched rows to the database in bulk, one batch at a time.

Import is bulk seeding of history, so it writes MilestoneEvents and sets Referral.status
itself rather than through ``services.record_milestone``: the status is derived by
``workflow`` (the parser replays every row's journey), events are written in journey
order, and no per-event signal is sent, so imported history never mails a GP or raises a
"new referrer" alert. The office's first-referral bookkeeping follows
``services._note_office_referral``; one ``office_activity_changed`` signal at the end tells
analytics which offices' history changed.
"""

import datetime as dt

from django.utils import timezone

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


class BatchWriter:
    def __init__(self, practice, matcher: Matcher, *, user=None):
        self.practice = practice
        self.matcher = matcher
        self.user = user
        # office id -> (earliest imported referral date, that referral's id)
        self.first_referrals: dict[int, tuple[dt.date, int]] = {}
        self.first_referrals_recorded = 0
        self.events = _EventRows(practice, user)

    def write(self, rows: list[Row]) -> None:
        rows = [r for r in rows if r.ok and not r.matched_referral]
        if not rows:
            return
        practice = self.practice
        offices = self.matcher.offices
        providers = self.matcher.providers

        new_offices: dict = {}
        for r in rows:
            if r.office_key is not None and r.office_key not in offices:
                p = r.parsed
                new_offices.setdefault(
                    r.office_key,
                    ReferringOffice(practice=practice, name=p.office_name, zip_code=p.office_zip),
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
                    ),
                )
        if new_providers:
            ReferringProvider.objects.bulk_create(new_providers.values())
            providers.update((key, provider.pk) for key, provider in new_providers.items())

        new_patients: dict[str, Patient] = {}
        for r in rows:
            if r.patient_id is None:
                p = r.parsed
                new_patients.setdefault(
                    p.chart_number,
                    Patient(
                        practice=practice,
                        chart_number=p.chart_number,
                        first_name=p.first_name,
                        last_name=p.last_name,
                        date_of_birth=p.date_of_birth,
                    ),
                )
        if new_patients:
            Patient.objects.bulk_create(new_patients.values())

        referrals = []
        for r in rows:
            p = r.parsed
            last_step = p.milestones[-1].on if p.milestones else p.received_on
            referrals.append(
                Referral(
                    practice=practice,
                    patient_id=r.patient_id or new_patients[p.chart_number].pk,
                    source_type=p.source_type,
                    referring_office_id=offices[r.office_key] if r.office_key else None,
                    referring_provider_id=providers[r.provider_key] if r.provider_key else None,
                    case_type=p.case_type,
                    received_on=p.received_on,
                    status=p.status,
                    status_changed_at=_as_aware(last_step, practice),
                    created_by=self.user,
                    is_historical=True,
                )
            )
        Referral.objects.bulk_create(referrals)

        events = self.events
        rows_out = []
        for r, referral in zip(rows, referrals, strict=True):
            p = r.parsed
            rows_out.append(events.row(referral.pk, MilestoneKind.RECEIVED, p.received_on))
            for m in p.milestones:
                rows_out.append(events.row(referral.pk, m.kind, m.on, m.reason, m.production))
            office_id = referral.referring_office_id
            if office_id is not None:
                first = self.first_referrals.get(office_id)
                if first is None or referral.received_on < first[0]:
                    self.first_referrals[office_id] = (referral.received_on, referral.pk)
        # Inserted in journey order: a case's events sort by (occurred_at, id).
        events.insert(rows_out)

    def finish(self) -> None:
        """Record first referrals: the office's start date moves to the earliest referral,
        and an office that never had one gets its 'first referral' event."""
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


class _EventRows:
    """MilestoneEvents, the bulk of an import (3-4 per referral), written without model
    instances: ``bulk_create`` prepares every value of every row through the field API,
    which was most of the import's time. Columns that are the same for every event
    (practice, user, timestamps, blank texts) are prepared once through their field; the
    few that vary are adapted by the backend. Columns come from the model, so a field
    added later gets its default. PostgreSQL takes the rows with COPY."""

    VARYING = ("referral_id", "kind", "occurred_at", "reason", "production")

    def __init__(self, practice, user):
        from django.db import connection

        self.connection = connection
        self.practice = practice
        now = timezone.now()
        fields = [f for f in MilestoneEvent._meta.concrete_fields if not f.primary_key]
        fixed = {"practice_id": practice.pk, "recorded_by_id": getattr(user, "pk", None)}
        layout = []
        for f in fields:
            if f.attname in self.VARYING:
                layout.append((True, self.VARYING.index(f.attname)))
                continue
            if f.attname in fixed:
                value = fixed[f.attname]
            elif f.attname in ("created_at", "updated_at"):
                value = now
            else:
                value = f.get_default()
            layout.append((False, f.get_db_prep_save(value, connection)))
        self.layout = layout
        production = MilestoneEvent._meta.get_field("production")
        self.digits = (production.max_digits, production.decimal_places)
        qn = connection.ops.quote_name
        table = qn(MilestoneEvent._meta.db_table)
        columns = ", ".join(qn(f.column) for f in fields)
        self.insert_sql = (
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        )
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"

    def row(self, referral_id, kind, day, reason="", production=None) -> tuple:
        ops = self.connection.ops
        varying = (
            referral_id,
            kind,
            ops.adapt_datetimefield_value(_as_aware(day, self.practice)),
            reason,
            None if production is None else ops.adapt_decimalfield_value(production, *self.digits),
        )
        return tuple(varying[v] if is_varying else v for is_varying, v in self.layout)

    def insert(self, rows: list[tuple]) -> None:
        # Raw SQL sees no django-scopes scope: every row carries the practice's id.
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.insert_sql, rows)
