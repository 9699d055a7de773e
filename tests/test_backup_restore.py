"""Backup and restore as docs/deployment.md ("Backup and restore") says, tried on the test
PostgreSQL with its own pg_dump and pg_restore: dump the whole database, restore it into a
new database owned by the app's role, and find every row, every row-level-security policy
and the audit log's trigger again; the media folder copied beside it has every file the rows
name."""

import os
import shutil
import subprocess
import uuid

import psycopg
import pytest
from django.db import connection
from django_scopes import scopes_disabled

from config.db.rls import POLICY, tenant_tables
from practices.deletion import tenant_models
from tests.factories import PracticeFactory, ReferralFactory
from tests.practice_data import files_under, store_files
from tests.security.test_rls import _fill_practice

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
# The operator's account: the cluster's superuser (scripts/services.sh, docker-compose).
SUPERUSER = "postgres"

pytestmark = pytest.mark.skipif(
    not os.path.exists(f"{PG_BIN}/pg_dump"), reason="needs PostgreSQL 15's pg_dump"
)


def _server() -> dict:
    db = connection.settings_dict
    return {"host": db["HOST"], "port": str(db["PORT"]), "app_role": db["USER"], "db": db["NAME"]}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def _connect(dbname: str, user: str, **kwargs) -> psycopg.Connection:
    s = _server()
    return psycopg.connect(host=s["host"], port=s["port"], user=user, dbname=dbname, **kwargs)


def _every_table_count(cursor) -> dict[str, int]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f'SELECT count(*) FROM "{table}"')
        counts[table] = cursor.fetchone()[0]
    return counts


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def restored_db():
    """The name of a new, empty database owned by the app's role; dropped afterwards."""
    s = _server()
    name = f"restored_{uuid.uuid4().hex[:8]}"
    with _connect("postgres", SUPERUSER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{s["app_role"]}"')
    yield name
    with _connect("postgres", SUPERUSER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_dump_restored_into_a_new_database_has_every_row_policy_and_file(
    media, restored_db, tmp_path
):
    practices = [PracticeFactory(slug="backup-a"), PracticeFactory(slug="backup-b")]
    for n, practice in enumerate(practices, start=1):
        _fill_practice(practice, n)
        ReferralFactory.create_batch(3 * n, practice=practice)
        store_files(practice)
    with scopes_disabled(), connection.cursor() as cursor:
        before = _every_table_count(cursor)
    assert before["referrals_referral"] == 2 + 9 and before["practices_auditentry"] > 0

    s = _server()
    dump = tmp_path / "omsref.dump"
    # 1. The app's own role cannot take the backup: row-level security would hide rows, and
    #    pg_dump refuses rather than write a backup that silently lacks them.
    refused = _run(
        f"{PG_BIN}/pg_dump", "-h", s["host"], "-p", s["port"], "-U", s["app_role"],
        "-Fc", "-f", str(dump), s["db"],
    )  # fmt: skip
    assert refused.returncode != 0
    assert "row-level security" in refused.stderr
    # 2. The operator's superuser dumps everything (RLS does not bind it).
    dumped = _run(
        f"{PG_BIN}/pg_dump", "-h", s["host"], "-p", s["port"], "-U", SUPERUSER,
        "-Fc", "-f", str(dump), s["db"],
    )  # fmt: skip
    assert dumped.returncode == 0, dumped.stderr
    media_copy = tmp_path / "media-backup"
    shutil.copytree(media, media_copy)

    # 3. Restore as the app's role into a new database it owns: the tables are its own
    #    again (FORCE'd row-level security binds the owner), the policies come back last.
    restored = _run(
        f"{PG_BIN}/pg_restore", "-h", s["host"], "-p", s["port"], "-U", s["app_role"],
        "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
        "-d", restored_db, str(dump),
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr

    with _connect(restored_db, s["app_role"]) as conn, conn.cursor() as cursor:
        # Without a practice the app's role sees no tenant row: the wall came back.
        cursor.execute("SELECT count(*) FROM referrals_referral")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT set_config('app.cross_tenant', 'on', false)")
        assert _every_table_count(cursor) == before
        for table, column in tenant_tables().items():
            cursor.execute(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, c.relowner::regrole::text,"
                " (SELECT p.qual FROM pg_policies p WHERE p.tablename = c.relname"
                "  AND p.policyname = %s) FROM pg_class c WHERE c.relname = %s",
                [POLICY, table],
            )
            enabled, forced, owner, policy = cursor.fetchone()
            assert (enabled, forced, owner) == (True, True, s["app_role"]), table
            assert column in policy, table
        # The audit log is still append-only.
        with pytest.raises(psycopg.errors.RaiseException, match="Cannot update or delete"):
            cursor.execute("DELETE FROM practices_auditentry")
        conn.rollback()
        cursor.execute("SELECT set_config('app.cross_tenant', 'on', false)")
        # Every file a restored row names is in the media copy, as it was.
        names = []
        for model, _column in tenant_models():
            for f in model._meta.concrete_fields:
                if f.get_internal_type() in ("FileField", "ImageField"):
                    cursor.execute(
                        f'SELECT "{f.column}" FROM "{model._meta.db_table}"'
                        f" WHERE \"{f.column}\" <> ''"
                    )
                    names += [row[0] for row in cursor.fetchall()]
    assert len(names) == 2 * 6  # per practice: attachment, PDF, import, export, outbox, logo
    original = files_under(media)
    copied = files_under(media_copy)
    assert copied == original
    assert all(copied[name] == original[name] for name in names)
