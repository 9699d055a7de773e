"""manage.py seed_demo: the demo practice of the seed article, built the same way every time.

The default-size demo is seeded once for ``TestTheDefaultDemo`` (inside a transaction rolled
back after the class); the other tests build small demos (``--offices 5 --years 1``).
"""

import datetime as dt
import hashlib
import io
import re
import time
from collections import Counter, defaultdict
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django_scopes import scopes_disabled

from alerts.choices import AlertKind
from alerts.models import Alert
from analytics.nightly import recompute
from communications.loop_closure import office_loop_rates, overdue_letters
from communications.models import Letter, LetterKind, LetterStatus
from practices.models import AuditAction, AuditEntry, Membership, Practice, Role, User
from practices.scoping import practice_scope
from practices.two_factor import has_totp
from referrals import workflow
from referrals.choices import OFFICE_SOURCES, MilestoneKind, OfficeEventKind, SourceType, Status
from referrals.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from referrals.models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from tests.factories import UserFactory

TODAY = dt.date(2026, 3, 15)
NEW_YORK = ZoneInfo("America/New_York")
START_OF_TODAY = dt.datetime.combine(TODAY, dt.time(), tzinfo=NEW_YORK)
NOON = dt.datetime.combine(TODAY, dt.time(12), tzinfo=NEW_YORK)
SMALL = ("--offices", "5", "--years", "1")


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--today", TODAY.isoformat(), *args, stdout=out)
    return out.getvalue()


def fingerprint(slug: str) -> dict[str, str]:
    """A hash per table of every meaningful field of the practice's rows: names, dates,
    kinds, amounts, statuses; not ids or creation timestamps."""
    practice = Practice.objects.get(slug=slug)
    with practice_scope(practice):
        referral_order = {
            pk: n
            for n, pk in enumerate(Referral.objects.order_by("id").values_list("id", flat=True))
        }
        tables = {
            "practice": [
                (practice.name, practice.time_zone, practice.address, practice.phone),
                str(practice.default_case_value),
            ],
            "memberships": list(
                Membership.objects.order_by("user__email").values_list(
                    "user__email", "role", "is_surgeon"
                )
            ),
            "offices": list(
                ReferringOffice.objects.order_by("id").values_list(
                    "name",
                    "address",
                    "city",
                    "zip_code",
                    "phone",
                    "fax",
                    "email",
                    "preferred_channel",
                    "first_referral_on",
                )
            ),
            "providers": list(
                ReferringProvider.objects.order_by("id").values_list(
                    "office__name", "first_name", "last_name", "npi", "email"
                )
            ),
            "patients": list(
                Patient.objects.order_by("id").values_list(
                    "chart_number", "first_name", "last_name", "date_of_birth", "phone", "email"
                )
            ),
            "referrals": list(
                Referral.objects.order_by("id").values_list(
                    "patient__chart_number",
                    "source_type",
                    "referring_office__name",
                    "referring_provider__last_name",
                    "case_type",
                    "reason",
                    "urgency",
                    "received_on",
                    "status",
                    "status_changed_at",
                    "is_historical",
                    "created_by__email",
                )
            ),
            "events": [
                (referral_order[row[0]], *row[1:])
                for row in MilestoneEvent.objects.order_by("id").values_list(
                    "referral_id",
                    "kind",
                    "occurred_at",
                    "scheduled_for",
                    "recorded_by__email",
                    "note",
                    "findings",
                    "recommendation",
                    "procedure",
                    "reason",
                    "production",
                    "voided_at",
                )
            ],
            "letters": list(
                Letter.objects.order_by("id").values_list(
                    "office__name",
                    "event__kind",
                    "kind",
                    "interval_days",
                    "recipient_name",
                    "recipient_email",
                    "channel",
                    "status",
                    "due_at",
                    "sent_at",
                    "reason",
                    "subject",
                )
            ),
            "office_events": [
                (row[0], row[1], row[2], referral_order[row[3]])
                for row in OfficeEvent.objects.order_by("id").values_list(
                    "office__name", "kind", "occurred_on", "referral_id"
                )
            ],
        }
    return {name: hashlib.sha256(repr(rows).encode()).hexdigest() for name, rows in tables.items()}


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    # The same fast hasher as every test (conftest.py), which class fixtures run outside of.
    fast_hashing = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with fast_hashing, django_db_blocker.unblock(), transaction.atomic():
        # The same seed twice, the database rolled back in between (a flush, but instant).
        before = transaction.savepoint()
        seed("--seed", "1")
        first_fingerprint = fingerprint("demo")
        transaction.savepoint_rollback(before)
        output = seed("--seed", "1")
        # Check the deferred foreign keys now, once: otherwise PostgreSQL re-checks all of
        # them at the end of every test (its savepoint rollback brings the queue back).
        connection.check_constraints()
        practice = Practice.objects.get(slug="demo")
        with practice_scope(practice):
            referrals = list(Referral.objects.order_by("id"))
            offices = list(ReferringOffice.objects.order_by("id"))
        yield SimpleNamespace(
            practice=practice,
            output=output,
            referrals=referrals,
            offices=offices,
            fingerprint=fingerprint("demo"),
            first_fingerprint=first_fingerprint,
        )
        transaction.set_rollback(True)


@pytest.fixture
def in_demo(demo, db):
    with practice_scope(demo.practice):
        yield demo


def monthly_counts(demo) -> dict[int, list[int]]:
    """Referrals per office and full calendar month, oldest first (the partial current
    month left out)."""
    months = 12 * 3
    counts: dict[int, list[int]] = {o.pk: [0] * months for o in demo.offices}
    for r in demo.referrals:
        if r.referring_office_id is None:
            continue
        ago = (TODAY.year - r.received_on.year) * 12 + TODAY.month - r.received_on.month
        if 1 <= ago <= months:
            counts[r.referring_office_id][months - ago] += 1
    return counts


def last_referral(demo) -> dict[int, dt.date]:
    last: dict[int, dt.date] = {}
    for r in demo.referrals:
        if r.referring_office_id is not None:
            last[r.referring_office_id] = max(
                last.get(r.referring_office_id, r.received_on), r.received_on
            )
    return last


class TestTheDefaultDemo:
    """``seed_demo --seed 1``: 1 practice, 47 offices, 3 years, as the article describes."""

    def test_the_same_seed_gives_the_same_data(self, in_demo):
        assert in_demo.fingerprint == in_demo.first_fingerprint

    def test_it_sets_up_a_practice_like_the_article(self, in_demo):
        practice = in_demo.practice
        assert practice.name == "Lakeside Oral & Maxillofacial Surgery"
        assert practice.time_zone == "America/New_York"
        assert practice.default_case_value == Decimal("1800.00")
        assert "555-01" in practice.phone
        members = {m.user.email: m for m in Membership.objects.select_related("user")}
        assert {e: (m.role, m.is_surgeon) for e, m in members.items()} == {
            "admin@demo.example": (Role.ADMIN, False),
            "frontdesk@demo.example": (Role.FRONT_DESK, False),
            "surgeon@demo.example": (Role.CLINICIAN, True),
            "surgeon2@demo.example": (Role.CLINICIAN, True),
            "coordinator@demo.example": (Role.COORDINATOR, False),
        }
        assert members["admin@demo.example"].user.check_password(DEMO_PASSWORD)

    def test_it_prints_the_url_and_the_logins_but_no_patient_name(self, in_demo):
        out = in_demo.output
        assert "http://127.0.0.1:8000/" in out
        for email in ("admin@demo.example", "frontdesk@demo.example", "surgeon@demo.example"):
            assert email in out
        assert DEMO_PASSWORD in out
        for first, last in Patient.objects.values_list("first_name", "last_name"):
            assert f"{first} {last}" not in out

    def test_it_builds_47_offices_with_1_to_3_dentists_each(self, in_demo):
        assert ReferringOffice.objects.count() == 47
        per_office = Counter(ReferringProvider.objects.values_list("office_id", flat=True))
        assert len(per_office) == 47
        assert set(per_office.values()) == {1, 2, 3}
        npis = [n for n in ReferringProvider.objects.values_list("npi", flat=True) if n]
        assert npis and all(len(n) == 10 and n.isdigit() for n in npis)
        assert len(set(ReferringOffice.objects.values_list("name", flat=True))) == 47

    def test_referrals_span_about_three_years(self, in_demo):
        days = [r.received_on for r in in_demo.referrals]
        assert min(days) <= TODAY - dt.timedelta(days=3 * 365 - 30)
        assert min(days) >= TODAY - dt.timedelta(days=3 * 366)
        assert TODAY - dt.timedelta(days=7) <= max(days) < TODAY
        # Volume like a two-surgeon practice: about a hundred referrals a month.
        assert 2500 <= len(days) <= 6000

    def test_volume_has_a_long_tail(self, in_demo):
        rates = sorted(sum(c[-24:]) / 24 for c in monthly_counts(in_demo).values())
        assert sum(r >= 5 for r in rates) >= 3  # a few big referrers
        assert sum(r <= 2 for r in rates) > len(rates) / 2  # most send 0-2 a month

    def test_third_molars_peak_in_the_summer(self, in_demo):
        by_month = Counter(
            r.received_on.month for r in in_demo.referrals if r.case_type == "third_molars"
        )
        assert by_month[7] > 1.4 * by_month[10]
        cases = Counter(r.case_type for r in in_demo.referrals)
        assert [c for c, _ in cases.most_common(2)] == ["third_molars", "implants"]

    def test_every_status_is_the_replay_of_its_events(self, in_demo):
        kinds = defaultdict(list)
        last_change = {}
        for referral_id, kind, occurred_at in MilestoneEvent.objects.order_by("id").values_list(
            "referral_id", "kind", "occurred_at"
        ):
            kinds[referral_id].append(kind)
            if kind != MilestoneKind.POSTOP_VISIT:  # the one step that keeps the status
                last_change[referral_id] = occurred_at
        for referral in in_demo.referrals:
            assert referral.status == workflow.replay(kinds[referral.pk]).status, referral.pk
            assert referral.status_changed_at == last_change[referral.pk]

    def test_events_are_in_time_order_and_in_the_past(self, in_demo):
        previous = {}
        rows = MilestoneEvent.objects.order_by("id").values_list(
            "referral_id", "kind", "occurred_at", "scheduled_for"
        )
        for referral_id, kind, occurred_at, scheduled_for in rows:
            assert previous.get(referral_id, occurred_at - dt.timedelta(1)) < occurred_at
            previous[referral_id] = occurred_at
            assert occurred_at.date() < TODAY
            if kind in (MilestoneKind.CONSULT_SCHEDULED, MilestoneKind.SURGERY_SCHEDULED):
                assert scheduled_for > occurred_at
            else:
                assert scheduled_for is None

    def test_case_acceptance_among_decided_consults_is_65_to_80_percent(self, in_demo):
        kinds = defaultdict(set)
        for referral_id, kind in MilestoneEvent.objects.values_list("referral_id", "kind"):
            kinds[referral_id].add(kind)
        consulted = [k for k in kinds.values() if MilestoneKind.CONSULT_COMPLETED in k]
        accepted = sum(MilestoneKind.TREATMENT_ACCEPTED in k for k in consulted)
        declined = sum(
            MilestoneKind.TREATMENT_DECLINED in k and MilestoneKind.TREATMENT_ACCEPTED not in k
            for k in consulted
        )
        assert 0.65 <= accepted / (accepted + declined) <= 0.80

    def test_about_one_consult_in_ten_is_a_no_show(self, in_demo):
        events = Counter(MilestoneEvent.objects.values_list("kind", flat=True))
        no_show_share = events[MilestoneKind.NO_SHOW] / events[MilestoneKind.CONSULT_SCHEDULED]
        assert 0.06 <= no_show_share <= 0.14

    def test_completed_surgeries_carry_production(self, in_demo):
        surgeries = MilestoneEvent.objects.filter(kind=MilestoneKind.SURGERY_COMPLETED)
        amounts = list(surgeries.values_list("production", flat=True))
        assert amounts and all(Decimal("900") <= a <= Decimal("6000") for a in amounts)
        assert (
            not MilestoneEvent.objects.exclude(kind=MilestoneKind.SURGERY_COMPLETED)
            .filter(production__isnull=False)
            .exists()
        )
        assert (
            MilestoneEvent.objects.filter(kind=MilestoneKind.POSTOP_VISIT).count()
            > len(amounts) / 2
        )

    def test_recent_referrals_are_still_in_progress_and_old_ones_are_over(self, in_demo):
        recent = [r for r in in_demo.referrals if r.received_on >= TODAY - dt.timedelta(days=21)]
        old = [r for r in in_demo.referrals if r.received_on < TODAY - dt.timedelta(days=365)]
        done = {Status.CLOSED, Status.CANCELLED}
        assert sum(r.status not in done for r in recent) > 0.8 * len(recent)
        assert sum(r.status in done for r in old) > 0.8 * len(old)
        assert all(r.is_historical for r in in_demo.referrals)

    def test_sources_are_mostly_doctors_and_only_office_sources_name_an_office(self, in_demo):
        sources = Counter(r.source_type for r in in_demo.referrals)
        assert set(sources) == set(SourceType)
        assert sources[SourceType.DOCTOR] > 0.7 * len(in_demo.referrals)
        for r in in_demo.referrals:
            assert (r.referring_office_id is not None) == (r.source_type in OFFICE_SOURCES)
            assert (r.referring_provider_id is not None) == (r.source_type in OFFICE_SOURCES)

    def test_patients_have_unique_charts_and_a_few_come_back(self, in_demo):
        charts = list(Patient.objects.values_list("chart_number", flat=True))
        assert len(charts) == len(set(charts))
        per_patient = Counter(r.patient_id for r in in_demo.referrals)
        returning = sum(n > 1 for n in per_patient.values())
        assert 0 < returning < 0.1 * len(per_patient)

    def test_some_offices_drift_down_like_the_article(self, in_demo):
        declining = []
        threshold_rule = []
        for office_id, counts in monthly_counts(in_demo).items():
            baseline = sum(counts[-22:-10]) / 12  # the year before the drift
            recent = counts[-8:]  # the last eight full months
            if baseline >= 4 and sum(recent) / 8 <= 0.5 * baseline:
                declining.append(office_id)
            if baseline >= 8 and any(
                a <= 3 and b <= 3 for a, b in zip(recent, recent[1:], strict=False)
            ):
                threshold_rule.append(office_id)
        assert 2 <= len(declining) <= 5
        assert threshold_rule  # the article's rule: >= 8 a month, then <= 3 for two months
        still_referring = last_referral(in_demo)
        assert all(still_referring[o] >= TODAY - dt.timedelta(days=45) for o in declining)

    def test_a_few_offices_are_new(self, in_demo):
        new = [o for o in in_demo.offices if o.first_referral_on >= TODAY - dt.timedelta(days=90)]
        assert 2 <= len(new) <= 5

    def test_a_few_offices_are_lost(self, in_demo):
        last = last_referral(in_demo)
        lost = [o for o, day in last.items() if day < TODAY - dt.timedelta(days=365)]
        assert 2 <= len(lost) <= 6

    def test_first_referral_dates_and_office_events_match_the_referrals(self, in_demo):
        first = {}
        for r in in_demo.referrals:
            office = r.referring_office_id
            if office and (office not in first or r.received_on < first[office].received_on):
                first[office] = r
        assert {o.pk: o.first_referral_on for o in in_demo.offices} == {
            pk: r.received_on for pk, r in first.items()
        }
        events = OfficeEvent.objects.filter(kind=OfficeEventKind.FIRST_REFERRAL)
        assert {(e.office_id, e.occurred_on) for e in events} == {
            (pk, r.received_on) for pk, r in first.items()
        }
        assert all(e.referral.referring_office_id == e.office_id for e in events)

    # --- the letter history (communications/demo_letters.py) -----------------------------

    def test_past_milestones_have_their_letters_and_none_is_left_to_send(self, in_demo):
        rows = list(
            Letter.objects.values_list(
                "kind",
                "status",
                "due_at",
                "sent_at",
                "recipient_email",
                "office_id",
                "referral__referring_office_id",
                "event__referral_id",
                "referral_id",
            )
        )
        assert len(rows) > 2 * len(in_demo.referrals)
        assert {row[0] for row in rows} == set(LetterKind)
        statuses = Counter(row[1] for row in rows)
        # Nothing a worker would pick up and mail to the synthetic addresses.
        assert not {LetterStatus.QUEUED, LetterStatus.SENDING, LetterStatus.SCHEDULED} & set(
            statuses
        )
        assert statuses[LetterStatus.SENT] + statuses[LetterStatus.PRINTED] > 0.95 * len(rows)
        for _, status, due_at, sent_at, email, office, case_office, event_case, case in rows:
            assert due_at < START_OF_TODAY
            assert office == case_office and event_case == case
            if status in (LetterStatus.SENT, LetterStatus.PRINTED):
                assert due_at <= sent_at < START_OF_TODAY
            else:
                assert sent_at is None
            assert email == "" or email.endswith(".example")

    def test_most_offices_close_the_loop_on_time_a_few_late_and_one_fails(self, in_demo):
        with time_machine.travel(NOON, tick=False):
            rates = office_loop_rates(in_demo.practice)
            overdue = set(overdue_letters(in_demo.practice).values_list("office_id", flat=True))
        year_ago = TODAY - dt.timedelta(days=365)
        active = {
            r.referring_office_id
            for r in in_demo.referrals
            if r.referring_office_id and r.received_on >= year_ago
        }
        # A loop-closure figure for (nearly) every office that referred this year.
        assert len(rates) >= 0.9 * len(active)
        on_time = [o for o, rate in rates.items() if rate.percent >= 90]
        late = [o for o, rate in rates.items() if rate.percent < 60]
        assert len(on_time) >= 0.7 * len(rates)
        assert 1 <= len(late) <= 5
        failed = list(Letter.objects.filter(status=LetterStatus.FAILED))
        assert 3 <= len(failed) <= 12
        assert len({letter.office_id for letter in failed}) == 1
        assert all("550 5.1.1" in letter.reason for letter in failed)
        # Each failed letter has the alert the product raises for one.
        alerts = Alert.objects.filter(kind=AlertKind.LETTER_FAILED)
        assert sorted(a.subject_key for a in alerts) == sorted(f"letter:{f.pk}" for f in failed)
        assert {a.office_id for a in alerts} == {failed[0].office_id}
        # The failing office's letters and the late offices' unprinted ones are overdue.
        assert failed[0].office_id in overdue and set(late) & overdue

    def test_the_board_and_the_letter_pages_show_the_history(self, in_demo, client):
        client.force_login(User.objects.get(email="admin@demo.example"))
        failing = Letter.objects.filter(status=LetterStatus.FAILED).first().office
        with time_machine.travel(NOON, tick=False):
            recompute(in_demo.practice, TODAY - dt.timedelta(days=1))
            board = client.get("/referrers/health/").content.decode()
            letters = client.get("/letters/").content.decode()
            failures = client.get("/letters/", {"status": "failed"}).content.decode()
            print_queue = client.get("/letters/print-queue/").content.decode()
            alerts = client.get("/alerts/").content.decode()
        cells = re.findall(r'data-testid="loop-rate">(.*?)</td>', board)
        filled = [c for c in cells if re.search(r"\d+%", c)]
        assert len(cells) >= 40 and len(filled) >= 0.8 * len(cells)
        assert letters.count('data-testid="letter-row"') == 50  # a full first page
        assert failures.count('data-testid="letter-row"') >= 3
        assert failing.name in failures and "550 5.1.1" in failures
        assert "Failed" in failures
        assert print_queue.count('data-testid="pq-row"') >= 1
        assert f"letter to {failing.name} could not be sent" in alerts


def test_reset_rebuilds_the_same_demo(db, client):
    seed("--seed", "1", *SMALL)
    first = fingerprint("demo")
    admin = User.objects.get(email="admin@demo.example")
    admin.set_password("changed-by-someone")
    admin.save()
    old_practice = Practice.objects.get(slug="demo")
    # Someone mistyped the password: the demo practice's audit log has an entry, which the
    # append-only trigger will not let anyone delete.
    client.post("/login/", {"login": "admin@demo.example", "password": "wrong"})
    with scopes_disabled():
        logged = list(AuditEntry.objects.filter(practice=old_practice).values_list("action"))
    assert logged == [(AuditAction.LOGIN_FAILED,)]
    out = seed("--seed", "1", "--reset", *SMALL)
    assert fingerprint("demo") == first
    # The entry outlives the practice it was written in.
    with scopes_disabled():
        kept = list(AuditEntry.objects.filter(practice_id=old_practice.pk).values_list("action"))
    assert kept == logged
    assert Practice.objects.filter(slug="demo").count() == 1
    admin.refresh_from_db()
    assert admin.check_password(DEMO_PASSWORD)
    assert "admin@demo.example" in out


def test_the_demo_admin_has_two_factor_with_the_printed_key_and_codes(db, client):
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    seed("--seed", "1", *SMALL)
    # A reset starts the demo admin over: enrolled again, with ten fresh codes.
    out = seed("--seed", "1", "--reset", *SMALL)
    assert f"the authenticator key {DEMO_TOTP_SECRET}" in out
    codes = re.search(r"each works once\):\n\s+((?:\d{8} ?){10})", out)[1].split()
    admin = User.objects.get(email="admin@demo.example")
    assert has_totp(admin)
    # The practice's default policy: administrators only.
    assert not has_totp(User.objects.get(email="frontdesk@demo.example"))
    client.post("/login/", {"login": "admin@demo.example", "password": DEMO_PASSWORD})
    assert client.post("/accounts/2fa/authenticate/", {"code": codes[0]})["Location"] == "/"
    client.post("/logout/")
    client.post("/login/", {"login": "admin@demo.example", "password": DEMO_PASSWORD})
    code = format_hotp_value(hotp_value(DEMO_TOTP_SECRET, int(time.time()) // 30))
    assert client.post("/accounts/2fa/authenticate/", {"code": code})["Location"] == "/"
    printed = call_command_output("demo_totp_code")
    assert printed.split()[0] == code


def test_demo_totp_code_is_for_demo_logins_only(db):
    UserFactory(email="real.person@practice.example")
    with pytest.raises(CommandError, match="not a demo login"):
        call_command_output("demo_totp_code", "real.person@practice.example")


def call_command_output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_different_seed_gives_different_data(db):
    seed("--seed", "1", *SMALL)
    first = fingerprint("demo")
    seed("--seed", "2", "--reset", *SMALL)
    second = fingerprint("demo")
    assert first["offices"] != second["offices"]
    assert first["referrals"] != second["referrals"]


def test_it_refuses_to_seed_over_an_existing_demo(db):
    seed("--seed", "1", *SMALL)
    before = fingerprint("demo")
    with pytest.raises(CommandError, match="already exist.*--reset"):
        seed("--seed", "2", *SMALL)
    assert Practice.objects.filter(slug__startswith="demo").count() == 1
    assert fingerprint("demo") == before


def test_it_refuses_when_only_a_demo_login_exists(db):
    User.objects.create_user("surgeon@demo.example", "x-long-password")
    with pytest.raises(CommandError, match="surgeon@demo.example"):
        seed(*SMALL)
    assert not Practice.objects.exists()


def test_if_empty_does_nothing_when_a_practice_exists(practice):
    out = seed("--if-empty")
    assert "not seeding" in out
    assert list(Practice.objects.values_list("slug", flat=True)) == ["lakeside"]
    assert not User.objects.filter(email__endswith="@demo.example").exists()


def test_if_empty_seeds_an_empty_database(db):
    out = seed("--if-empty", *SMALL)
    assert Practice.objects.filter(slug="demo").exists()
    assert "admin@demo.example" in out


def test_the_size_flags_build_several_small_practices(db):
    seed("--practices", "2", *SMALL)
    practices = Practice.objects.filter(slug__in=["demo", "demo-2"])
    assert practices.count() == 2
    for practice in practices:
        with practice_scope(practice):
            assert ReferringOffice.objects.count() == 5
            days = list(Referral.objects.values_list("received_on", flat=True))
            assert min(days) >= TODAY - dt.timedelta(days=366)
    demo_2 = Practice.objects.get(slug="demo-2")
    with practice_scope(demo_2):
        assert Membership.objects.filter(user__email="admin@demo-2.example").exists()
    with scopes_disabled():
        # Every row points inside its own practice.
        assert (
            not Referral.objects.exclude(referring_office__practice=F("practice"))
            .exclude(referring_office=None)
            .exists()
        )
        assert not Referral.objects.exclude(patient__practice=F("practice")).exists()
        assert not MilestoneEvent.objects.exclude(referral__practice=F("practice")).exists()


def test_today_defaults_to_the_practice_local_date(db):
    # 02:00 UTC on 15 March is still 14 March in New York.
    with time_machine.travel(dt.datetime(2026, 3, 15, 2, 0, tzinfo=dt.UTC), tick=False):
        call_command("seed_demo", *SMALL, stdout=io.StringIO())
    with practice_scope(Practice.objects.get(slug="demo")):
        last = Referral.objects.order_by("-received_on").first().received_on
        assert dt.date(2026, 3, 6) <= last <= dt.date(2026, 3, 13)
        assert not MilestoneEvent.objects.filter(occurred_at__date__gte=dt.date(2026, 3, 14))


def test_bad_flags_are_refused_with_a_clear_message(db):
    with pytest.raises(CommandError, match="--today: '15/03/2026' is not a date"):
        call_command("seed_demo", "--today", "15/03/2026", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--offices: '0' is not a whole number"):
        call_command("seed_demo", "--offices", "0", stdout=io.StringIO())
    assert not Practice.objects.exists()
