"""Writes one demo practice: its people, offices, patients, referrals and their events.

Small tables go in with ``bulk_create``; patients, referrals and events (millions of rows
for a benchmark tenant) with the one bulk row writer (:mod:`practices.bulk`), in chunks of
referrals so memory stays flat.
Everything happens inside the practice's scope. Only the generator's ``random.Random``
decides anything, so a seed always writes the same practice.
"""

import datetime as dt
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from allauth.mfa.models import Authenticator
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.dispatch import Signal
from django.utils import timezone
from django_scopes import scopes_disabled

from practices.bulk import IdBlock, RowWriter
from practices.deletion import tenant_models
from practices.models import AuditEntry, Membership, Practice, User
from practices.scoping import practice_scope
from practices.two_factor import enrol_totp, two_factor_required

from ..choices import CaseType as C
from ..choices import LetterChannel, MilestoneKind, OfficeEventKind, Status
from ..models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from . import identity, journeys, names, texts, volume
from .volume import OfficePlan, ReferralPlan

# Sent once a demo practice's referrals are written, inside its transaction and scope, so
# the apps above referrals add their own history of them (communications: the letters) without
# referrals importing upward. kwargs: practice, users (demo key -> User), today, seed, number,
# summary (a receiver counts what it wrote in summary.extras).
practice_seeded = Signal()

# Referrals per round trip: big enough for speed, small enough to keep memory flat.
CHUNK = 2000
BATCH = 2000

# Patient age at referral by case type (years).
AGES = {
    C.THIRD_MOLARS: (15, 26),
    C.ORTHOGNATHIC: (16, 35),
    C.IMPLANTS: (40, 82),
    C.BONE_GRAFT: (35, 80),
    C.TRAUMA: (8, 60),
}


@dataclass
class PracticeSummary:
    slug: str
    name: str
    offices: int = 0
    providers: int = 0
    patients: int = 0
    referrals: int = 0
    events: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    accepted: int = 0
    declined: int = 0
    open_referrals: int = 0
    production: Decimal = Decimal("0.00")
    profiles: dict[str, int] = field(default_factory=dict)
    # What practice_seeded's receivers wrote, e.g. {"letters": 9120, "failed letters": 6}.
    extras: dict[str, int] = field(default_factory=dict)

    @property
    def acceptance(self) -> float | None:
        decided = self.accepted + self.declined
        return self.accepted / decided if decided else None


def ensure_users(slug: str, password_hash: str) -> dict[str, User]:
    """The practice's demo logins, created or (after --reset) brought back to the demo
    password. Users are global, not tenant rows."""
    users = {}
    for demo_user in identity.DEMO_USERS:
        user, _ = User.objects.update_or_create(
            email=identity.demo_email(demo_user, slug),
            defaults={
                "first_name": demo_user.first_name,
                "last_name": demo_user.last_name,
                "password": password_hash,
                "is_active": True,
            },
        )
        users[demo_user.key] = user
    return users


def enrol_demo_two_factor(practice: Practice, users: dict[str, User]) -> None:
    """Demo logins the practice's policy requires two-factor of (its administrators, by
    default) get an authenticator with the printed demo key, so nobody is stuck at an
    enrolment they cannot do; a --reset starts them over with fresh recovery codes."""
    for demo_user in identity.DEMO_USERS:
        user = users[demo_user.key]
        Authenticator.objects.filter(user=user).delete()
        if two_factor_required(practice, demo_user.role, user):
            enrol_totp(user, secret=identity.DEMO_TOTP_SECRET)


def delete_demo_practices(slugs: list[str]) -> None:
    """Delete the demo practices and everything in them (``--reset``).

    Every tenant table of every app carries ``practice`` (shared/DESIGN.md), so each is
    emptied of the practice's rows with one ``DELETE`` — referencing tables first — rather
    than through Django's collector, which loads every row and, on SQLite, overflows the
    statement's parameters for a benchmark-sized tenant. No delete signals are sent (the
    demo's rows have no files behind them). Runs in the caller's transaction: a row of a
    table without ``practice`` still pointing here fails the foreign-key check at commit
    and nothing is deleted.
    """
    tables = _tenant_tables()
    for practice in Practice.objects.filter(slug__in=slugs):
        # Inside the practice's scope: row-level security lets these raw DELETEs reach
        # this practice's rows only.
        with practice_scope(practice), connection.cursor() as cursor:
            for table, column in tables:
                cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [practice.pk])
        # Deleting the tenant itself crosses tenants (the collector looks for its rows in
        # every tenant table; none is left).
        with scopes_disabled():
            practice.delete()


def _tenant_tables() -> list[tuple[str, str]]:
    """(table, practice column) of every tenant model, each before the ones it points to."""
    qn = connection.ops.quote_name
    # The audit log is append-only (a trigger refuses DELETE): what was done in a deleted
    # demo practice stays on record, with its practice id, like any other entry.
    return [
        (qn(model._meta.db_table), qn(column))
        for model, column in tenant_models()
        if model is not AuditEntry
    ]


def write_practice(
    number: int,
    *,
    seed: int,
    today: dt.date,
    offices: int,
    years: int,
    password_hash: str | None = None,
) -> PracticeSummary:
    # One stream per practice: practice k is the same whether 1 or 5 practices are made.
    rng = random.Random(f"omsreferrals-demo:{seed}:{number}")
    slug = identity.demo_slug(number)
    tz = ZoneInfo(identity.TIME_ZONE)
    town, zip_code = names.TOWNS[(number - 1) % len(names.TOWNS)]
    practice = Practice.objects.create(
        name=identity.demo_name(number),
        slug=slug,
        time_zone=identity.TIME_ZONE,
        address=f"1200 Lakeshore Blvd, Suite 210\n{town}, NY {zip_code}",
        phone=names.phone(rng, "585"),
        default_case_value=Decimal("1800.00"),
    )
    users = ensure_users(slug, password_hash or make_password(identity.DEMO_PASSWORD))
    summary = PracticeSummary(slug=slug, name=practice.name)
    with practice_scope(practice):
        Membership.objects.bulk_create(
            Membership(practice=practice, user=users[u.key], role=u.role, is_surgeon=u.is_surgeon)
            for u in identity.DEMO_USERS
        )
        enrol_demo_two_factor(practice, users)
        office_plans = volume.plan_offices(rng, offices, today)
        start = volume.window_start(today, years)
        referral_plans = volume.plan_referrals(rng, office_plans, start, today)
        office_rows, provider_rows = _write_offices(rng, practice, office_plans, referral_plans)
        _write_referrals(
            rng,
            practice,
            referral_plans,
            office_plans,
            office_rows,
            provider_rows,
            users=users,
            tz=tz,
            today=today,
            summary=summary,
        )
        practice_seeded.send(
            sender=Practice,
            practice=practice,
            users=users,
            today=today,
            seed=seed,
            number=number,
            summary=summary,
        )
    summary.offices = len(office_rows)
    summary.providers = sum(len(p) for p in provider_rows)
    summary.first_day = referral_plans[0].received_on if referral_plans else None
    summary.last_day = referral_plans[-1].received_on if referral_plans else None
    for plan in office_plans:
        summary.profiles[plan.profile] = summary.profiles.get(plan.profile, 0) + 1
    return summary


def _write_offices(
    rng: random.Random,
    practice: Practice,
    plans: list[OfficePlan],
    referrals: list[ReferralPlan],
) -> tuple[list[ReferringOffice], list[list[ReferringProvider]]]:
    first_referral: dict[int, dt.date] = {}
    for plan in referrals:  # oldest first
        if plan.office is not None:
            first_referral.setdefault(plan.office, plan.received_on)
    channels = [LetterChannel.EMAIL, LetterChannel.FAX, LetterChannel.MAIL]
    offices = []
    for plan in plans:
        town, zip_code = names.town(rng)
        area = rng.choice(names.AREA_CODES)
        domain = names.domain_for(plan.name)
        offices.append(
            ReferringOffice(
                practice=practice,
                name=plan.name,
                address=names.street_address(rng),
                city=town,
                state="NY",
                zip_code=zip_code,
                phone=names.phone(rng, area),
                fax=names.phone(rng, area),
                email=f"frontdesk@{domain}",
                preferred_channel=rng.choices(channels, (75, 18, 7))[0],
                first_referral_on=first_referral.get(plan.index),
            )
        )
    ReferringOffice.objects.bulk_create(offices, batch_size=BATCH)
    providers = []
    for plan, office in zip(plans, offices, strict=True):
        domain = names.domain_for(plan.name)
        providers.append(
            [
                ReferringProvider(
                    practice=practice,
                    office=office,
                    first_name=first,
                    last_name=last,
                    npi=npi,
                    email=f"dr.{last.lower()}@{domain}",
                )
                for first, last, npi in plan.providers
            ]
        )
    ReferringProvider.objects.bulk_create(itertools.chain(*providers), batch_size=BATCH)
    return offices, providers


def _write_referrals(
    rng: random.Random,
    practice: Practice,
    plans: list[ReferralPlan],
    office_plans: list[OfficePlan],
    office_rows: list[ReferringOffice],
    provider_rows: list[list[ReferringProvider]],
    *,
    users: dict[str, User],
    tz: ZoneInfo,
    today: dt.date,
    summary: PracticeSummary,
) -> None:
    now = timezone.now()
    stamps = {"practice_id": practice.pk, "created_at": now, "updated_at": now}
    patients = RowWriter(Patient, PATIENT_COLUMNS, stamps)
    referrals = RowWriter(
        Referral,
        REFERRAL_COLUMNS,
        # Past data: counts in analytics, never mails a GP.
        {**stamps, "created_by_id": users["front_desk"].pk, "is_historical": True},
    )
    events = RowWriter(MilestoneEvent, EVENT_COLUMNS, stamps)
    patient_ids, referral_ids = IdBlock(Patient), IdBlock(Referral)
    user_ids = {key: user.pk for key, user in users.items()}
    charts = itertools.count(100001)
    recent_patients: dict[int, list[int]] = defaultdict(list)
    first_referrals: dict[int, tuple[int, dt.date]] = {}
    for start in range(0, len(plans), CHUNK):
        patient_rows, referral_rows, event_rows = [], [], []
        for plan in plans[start : start + CHUNK]:
            office = office_rows[plan.office] if plan.office is not None else None
            known = recent_patients[plan.office] if office is not None else []
            if plan.returning and known:
                patient_id = rng.choice(known)
            else:
                patient_id = patient_ids.take()
                patient_rows.append(patients.row(_new_patient(rng, patient_id, plan, charts)))
                if office is not None:
                    known.append(patient_id)
                    del known[:-30]
            journey = journeys.plan_journey(
                rng,
                received_on=plan.received_on,
                case_type=plan.case_type,
                urgency=plan.urgency,
                accept_factor=office_plans[plan.office].accept_factor if office else 1.0,
                surgeon=rng.choices(identity.SURGEON_KEYS, (60, 40))[0],
                tz=tz,
                today=today,
            )
            referral_id = referral_ids.take()
            provider = provider_rows[plan.office][plan.provider] if office else None
            referral_rows.append(
                referrals.row(
                    (
                        referral_id,
                        patient_id,
                        plan.source_type,
                        office and office.pk,
                        provider and provider.pk,
                        plan.case_type,
                        rng.choice(texts.REFERRAL_REASONS[plan.case_type]),
                        plan.urgency,
                        plan.received_on,
                        journey.status,
                        journey.status_changed_at,
                    )
                )
            )
            event_rows += [
                events.row(
                    (
                        referral_id,
                        e.kind,
                        e.occurred_at,
                        e.scheduled_for,
                        user_ids[e.by],
                        e.note,
                        e.findings,
                        e.recommendation,
                        e.procedure,
                        e.reason,
                        e.production,
                    )
                )
                for e in journey.events
            ]
            if office is not None and plan.office not in first_referrals:
                first_referrals[plan.office] = (referral_id, plan.received_on)
            _count_outcomes(summary, journey)
        patients.insert(patient_rows)
        referrals.insert(referral_rows)
        events.insert(event_rows)
        summary.patients += len(patient_rows)
        summary.referrals += len(referral_rows)
        summary.events += len(event_rows)
    OfficeEvent.objects.bulk_create(
        [
            OfficeEvent(
                practice=practice,
                office=office_rows[index],
                kind=OfficeEventKind.FIRST_REFERRAL,
                occurred_on=received_on,
                referral_id=referral_id,
                by=users["front_desk"],
            )
            for index, (referral_id, received_on) in first_referrals.items()
        ],
        batch_size=BATCH,
    )


# The columns each referral's rows fill in (see practices.bulk.RowWriter), in this order.
PATIENT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "chart_number",
)
REFERRAL_COLUMNS = (
    "id",
    "patient_id",
    "source_type",
    "referring_office_id",
    "referring_provider_id",
    "case_type",
    "reason",
    "urgency",
    "received_on",
    "status",
    "status_changed_at",
)
EVENT_COLUMNS = (
    "referral_id",
    "kind",
    "occurred_at",
    "scheduled_for",
    "recorded_by_id",
    "note",
    "findings",
    "recommendation",
    "procedure",
    "reason",
    "production",
)


def _new_patient(rng: random.Random, patient_id: int, plan: ReferralPlan, charts) -> tuple:
    chart = next(charts)
    first, last = names.person_name(rng)
    low, high = AGES.get(plan.case_type, (18, 80))
    return (
        patient_id,
        first,
        last,
        names.date_of_birth(rng, plan.received_on, low, high),
        names.phone(rng),
        f"{first}.{last}{chart % 1000}@mail.example".lower() if rng.random() < 0.4 else "",
        str(chart),
    )


def _count_outcomes(summary: PracticeSummary, journey: journeys.JourneyPlan) -> None:
    kinds = [e.kind for e in journey.events]
    if MilestoneKind.TREATMENT_ACCEPTED in kinds:
        summary.accepted += 1
    elif MilestoneKind.TREATMENT_DECLINED in kinds:
        summary.declined += 1
    if journey.status not in (Status.CLOSED, Status.CANCELLED):
        summary.open_referrals += 1
    for e in journey.events:
        if e.production is not None:
            summary.production += e.production
