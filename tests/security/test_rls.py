"""PostgreSQL row-level security, the second wall below django-scopes (config/db/rls.py,
config/db/postgresql/base.py, docs/security.md "Row-level security").

Every query here is raw SQL: the scoped managers are out of the way, only the policies
stand between a practice and another practice's rows. The suite connects as a role that is
neither superuser nor BYPASSRLS (scripts/services.sh), so the policies bind every test.
"""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.models import Alert
from analytics.models import (
    MonthlyRollup,
    NightlyWatermark,
    OutreachLog,
    RecomputeRequest,
    ReferrerSnapshot,
    RollupStamp,
)
from communications.models import (
    Letter,
    LetterTemplate,
    OutgoingEmail,
    StatusLink,
    StatusLinkAccess,
)
from config.db.rls import POLICY, tenant_tables
from portability.models import ExportJob
from practices.api_keys import create_api_key
from practices.models import AuditEntry, Invitation, Role, settings_for
from practices.scoping import practice_scope
from referrals.models import (
    Attachment,
    DistinctPatientPair,
    ImportJob,
    ImportPreset,
    MilestoneEvent,
    OfficeEvent,
    OnlineReferral,
)
from referrals.tasks import practice_heartbeat
from tests.conftest import _member
from tests.factories import (
    MembershipFactory,
    OfficeFactory,
    PatientFactory,
    PracticeFactory,
    ReferralFactory,
)


def _fill_practice(practice, n: int) -> None:
    """At least one row of the practice in every tenant table."""
    today = timezone.localdate()
    referral = ReferralFactory(practice=practice)
    office = referral.referring_office
    _member(practice, Role.ADMIN, f"admin{n}@rls.test")
    with practice_scope(practice):
        event = MilestoneEvent.objects.filter(referral=referral).first()
        settings_for(practice)
        create_api_key(practice, "PMS bridge")
        Invitation.objects.create(
            practice=practice,
            email=f"new{n}@rls.test",
            role=Role.FRONT_DESK,
            token_hash=f"invite-{n}",
            expires_at=timezone.now() + dt.timedelta(days=3),
        )
        AuditEntry.objects.create(practice=practice, actor_kind="system", action="viewed")
        OfficeEvent.objects.create(
            practice=practice, office=office, kind="created", occurred_on=today
        )
        online = OnlineReferral.objects.create(
            practice=practice,
            office_name="Maple Dental",
            doctor_first_name="Ann",
            doctor_last_name="Lee",
            patient_first_name="Pat",
            patient_last_name="Synthetic",
            patient_date_of_birth=dt.date(1990, 1, 1),
            case_type="third_molars",
            reason="pain",
        )
        Attachment.objects.create(
            practice=practice,
            online_referral=online,
            file="attachments/x.png",
            original_name="x.png",
            content_type="image/png",
            size=1,
        )
        ImportJob.objects.create(practice=practice, file="imports/x.csv", original_name="x.csv")
        ImportPreset.objects.create(practice=practice, name="Dentrix", header_signature="x")
        month = today.replace(day=1)
        MonthlyRollup.objects.create(practice=practice, office=office, month=month)
        RollupStamp.objects.create(practice=practice, office=office, built_at=timezone.now())
        NightlyWatermark.objects.create(practice=practice, checked_through=timezone.now())
        RecomputeRequest.objects.create(practice=practice, as_of=today)
        ReferrerSnapshot.objects.create(practice=practice, office=office, as_of=today, status="new")
        Alert.objects.create(practice=practice, kind="new_referrer", opened_on=today, title="New")
        OutreachLog.objects.create(practice=practice, office=office, kind="call", occurred_on=today)
        LetterTemplate.objects.create(
            practice=practice, kind="consult_scheduled", subject="Booked", body="Booked."
        )
        OutgoingEmail.objects.create(
            practice=practice, kind="alert_digest", dedupe_key=f"d{n}", subject="S", body_text="B"
        )
        Letter.objects.create(
            practice=practice,
            referral=referral,
            event=event,
            office=office,
            kind="consult_scheduled",
            recipient_key=f"r{n}",
            recipient_name="Dr Lee",
            channel="email",
            due_at=timezone.now(),
        )
        link = StatusLink.objects.create(
            practice=practice,
            office=office,
            token_hash=f"status-{n}",
            expires_at=timezone.now() + dt.timedelta(days=30),
        )
        StatusLinkAccess.objects.create(practice=practice, link=link)
        ExportJob.objects.create(practice=practice, status="done")
        DistinctPatientPair.objects.create(
            practice=practice,
            first=referral.patient,
            second=PatientFactory(practice=practice, first_name="Other"),
        )


@pytest.fixture
def two_practices(db):
    a = PracticeFactory(slug="rls-a")
    b = PracticeFactory(slug="rls-b")
    _fill_practice(a, 1)
    _fill_practice(b, 2)
    # An account event of an address that belongs to nobody: no practice at all.
    with scopes_disabled():
        AuditEntry.objects.create(practice=None, actor_kind="anonymous", action="login_failed")
    return a, b


def _count(table: str, where: str = "", params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}" {where}', params)
        return cursor.fetchone()[0]


def _tables() -> list[tuple[str, str]]:
    return sorted(tenant_tables().items())


def test_the_suite_runs_as_a_role_that_row_level_security_binds(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)


def test_every_tenant_table_has_an_enabled_and_forced_policy(db):
    """A model with a practice column and no policy fails here: add one line to its app's
    row-level-security migration (config/db/rls.py)."""
    missing = []
    with connection.cursor() as cursor:
        for table, column in _tables():
            cursor.execute(
                "SELECT c.relrowsecurity, c.relforcerowsecurity,"
                " (SELECT p.qual || ' ' || p.with_check FROM pg_policies p"
                "   WHERE p.tablename = c.relname AND p.policyname = %s AND p.cmd = 'ALL')"
                " FROM pg_class c WHERE c.relname = %s AND c.relkind = 'r'",
                [POLICY, table],
            )
            enabled, forced, policy = cursor.fetchone()
            if not (enabled and forced and policy and column in policy):
                missing.append(table)
    assert missing == []


def test_the_fixture_has_rows_of_both_practices_in_every_tenant_table(two_practices):
    a, b = two_practices
    with scopes_disabled():
        empty = [
            table
            for table, column in _tables()
            for practice in (a, b)
            if not _count(table, f'WHERE "{column}" = %s', [practice.pk])
        ]
    assert empty == [], "add rows of these tables to _fill_practice"


def test_without_a_scope_a_raw_select_finds_no_rows(two_practices):
    assert {table: _count(table) for table, _ in _tables()} == {t: 0 for t, _ in _tables()}


def test_in_a_practice_scope_a_raw_select_finds_all_of_its_rows_and_none_of_the_other(
    two_practices,
):
    a, b = two_practices
    with scopes_disabled():
        expected = {
            table: _count(table, f'WHERE "{column}" = %s', [a.pk]) for table, column in _tables()
        }
    with practice_scope(a):
        seen = {table: _count(table) for table, _ in _tables()}
        others = {
            table: _count(table, f'WHERE "{column}" IS DISTINCT FROM %s', [a.pk])
            for table, column in _tables()
        }
    assert seen == expected
    assert others == {t: 0 for t, _ in _tables()}


def test_cross_tenant_code_sees_every_row(two_practices):
    a, b = two_practices
    with scopes_disabled():
        for table, column in _tables():
            total = _count(table)
            per_practice = _count(table, f'WHERE "{column}" IN (%s, %s)', [a.pk, b.pk])
            nobody = _count(table, f'WHERE "{column}" IS NULL')
            assert total == per_practice + nobody, table
            assert per_practice > 0, table
            assert nobody == (1 if table == "practices_auditentry" else 0), table


def test_the_audit_log_row_of_no_practice_is_seen_only_cross_tenant(two_practices):
    a, _ = two_practices
    where = "WHERE practice_id IS NULL"
    with practice_scope(a):
        assert _count("practices_auditentry", where) == 0
    with scopes_disabled():
        assert _count("practices_auditentry", where) == 1


def test_inserting_a_row_of_another_practice_is_refused(two_practices):
    """Each table's own row of practice B, copied with a new id, inserted under A's scope."""
    a, b = two_practices
    accepted = []
    for table, column in _tables():
        with scopes_disabled(), connection.cursor() as cursor:
            cursor.execute(
                f'SELECT row_to_json(t)::text FROM "{table}" t WHERE "{column}" = %s LIMIT 1',
                [b.pk],
            )
            (row,) = cursor.fetchone()
        with practice_scope(a), connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute(
                        f'INSERT INTO "{table}" SELECT * FROM json_populate_record('
                        f"NULL::\"{table}\", (%s::jsonb || jsonb_build_object('id', -1))::json)",
                        [row],
                    )
            except ProgrammingError as refused:
                assert "row-level security" in str(refused), (table, str(refused))
            else:
                accepted.append(table)
    assert accepted == []


def test_a_row_of_no_practice_is_refused_in_a_practice_scope(two_practices):
    a, _ = two_practices
    refused = pytest.raises(ProgrammingError, match="row-level security")
    with practice_scope(a), refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO practices_auditentry (at, actor_kind, actor_label, action,"
            " object_type, object_id, summary, user_agent, path)"
            " VALUES (now(), 'anonymous', '', 'login_failed', '', '', '', '', '')"
        )


def test_a_staff_page_leaves_no_practice_on_the_connection(two_practices, client):
    a, _ = two_practices
    user = _member(a, Role.ADMIN, "reader@rls.test")
    client.force_login(user)
    assert client.get("/cases/").status_code == 200
    assert connection.tenant_setting in (None, ("", ""))
    assert _count("referrals_referral") == 0
    # Even read with the server's own view of the session, not the wrapper's belief.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.practice_id', true)")
        assert cursor.fetchone()[0] in (None, "")


def test_a_rolled_back_savepoint_does_not_leave_the_cache_believing_its_practice(
    two_practices,
):
    a, b = two_practices
    with practice_scope(a):
        _count("referrals_referral")  # the connection is bound to A (in the test's transaction)
    with practice_scope(b):
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
            _count("referrals_referral")  # binds B inside the savepoint
            raise RuntimeError("undo")
        # PostgreSQL undid B's set_config with the savepoint: the server is back on A. Were
        # the cache still saying B, this query would run under A and see A's rows.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('app.practice_id', true), practice_id "
                "FROM referrals_referral"
            )
            assert cursor.fetchall() == [(str(b.pk), b.pk)]


def test_a_celery_task_sees_only_its_practice(two_practices):
    a, b = two_practices
    with scopes_disabled():
        OfficeFactory.create_batch(2, practice=b)
    result_a = practice_heartbeat.apply(args=[a.pk]).get()
    result_b = practice_heartbeat.apply(args=[b.pk]).get()
    assert (result_a["offices"], result_b["offices"]) == (1, 3)
    # And after it, the connection is bound to no practice.
    assert _count("referrals_referringoffice") == 0


def test_copy_into_a_tenant_table_goes_through_the_policy(two_practices):
    """psycopg's COPY bypasses Django's cursor wrappers and PostgreSQL refuses COPY FROM into
    a table with row-level security: the bulk row writer stages the rows (practices/bulk.py)."""
    from practices.bulk import RowWriter

    a, b = two_practices
    with scopes_disabled():
        office_a, office_b = OfficeFactory(practice=a), OfficeFactory(practice=b)
    now = timezone.now()
    constants = {"kind": "created", "created_at": now, "updated_at": now}
    writer = RowWriter(OfficeEvent, ["practice_id", "office_id", "occurred_on"], constants)
    day = dt.date(2020, 1, 1)
    with practice_scope(a):
        writer.insert([writer.row((a.pk, office_a.pk, day))])
        assert _count("referrals_officeevent", "WHERE occurred_on = %s", [day]) == 1
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            writer.insert([writer.row((b.pk, office_b.pk, day))])
    with scopes_disabled():
        assert _count("referrals_officeevent", "WHERE occurred_on = %s", [day]) == 1


def test_an_operator_deletes_an_account_with_its_memberships_in_every_practice(
    two_practices, client
):
    """An account spans practices: its deletion crosses tenants on purpose (practices/
    admin.py). The operator works in practice A, yet the membership in B goes too."""
    a, b = two_practices
    operator = _member(a, Role.ADMIN, "operator@rls.test")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    leaving = _member(a, Role.CLINICIAN, "leaving@rls.test")
    with scopes_disabled():
        MembershipFactory(practice=b, user=leaving, role=Role.FRONT_DESK)
    client.force_login(operator)
    response = client.post(f"/admin/practices/user/{leaving.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    with scopes_disabled():
        assert _count("practices_membership", "WHERE user_id = %s", [leaving.pk]) == 0
        assert _count("practices_membership", "WHERE user_id = %s", [operator.pk]) == 1


def test_an_operator_sees_a_users_memberships_in_every_practice(two_practices, client):
    a, b = two_practices
    operator = _member(a, Role.ADMIN, "operator@rls.test")
    operator.is_staff = operator.is_superuser = True
    operator.save()
    both = _member(a, Role.CLINICIAN, "both@rls.test")
    with scopes_disabled():
        MembershipFactory(practice=b, user=both, role=Role.FRONT_DESK)
    client.force_login(operator)
    html = client.get(f"/admin/practices/user/{both.pk}/change/").content.decode()
    assert a.name in html and b.name in html


def test_no_code_disables_scopes_on_a_manager_only():
    """``Manager.with_scopes_disabled()`` lifts django-scopes for one query but leaves the
    scope (and so the database's binding) as it is: under row-level security such a query
    finds nothing, or only the current practice's rows. Cross-tenant code says so with a
    ``scopes_disabled()`` block, which the database follows."""
    from django.conf import settings

    root = settings.BASE_DIR
    offenders = [
        str(path.relative_to(root))
        for app in (
            "config",
            "practices",
            "referrals",
            "alerts",
            "communications",
            "analytics",
            "portability",
        )
        for path in (root / app).rglob("*.py")
        if "with_scopes_disabled(" in path.read_text()
    ]
    assert offenders == []


def test_the_binding_follows_the_scope(practice):
    from django_scopes import scope

    from config.db.tenant_setting import CROSS_TENANT, NO_TENANT, wanted_tenant_setting

    assert wanted_tenant_setting() == NO_TENANT
    with practice_scope(practice):
        assert wanted_tenant_setting() == (str(practice.pk), "")
        with scopes_disabled():
            assert wanted_tenant_setting() == CROSS_TENANT
            with practice_scope(practice.pk):  # an id as good as the instance
                assert wanted_tenant_setting() == (str(practice.pk), "")
    # django-scopes reads None as every practice and a list as several: the database grants
    # neither.
    with scope(practice=None):
        assert wanted_tenant_setting() == NO_TENANT
    with scope(practice=[practice.pk]):
        assert wanted_tenant_setting() == NO_TENANT
