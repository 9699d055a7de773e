"""``manage.py delete_practice`` (practices/deletion.py): a practice and everything it owns
goes, every other practice keeps everything it had."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_scopes import scopes_disabled

from practices.models import AuditEntry, Membership, Practice, Role, User
from practices.scoping import practice_scope
from tests.conftest import _member
from tests.factories import MembershipFactory, PracticeFactory
from tests.practice_data import files_under, rows_of, store_files
from tests.security.test_rls import _fill_practice


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def two_full_practices(db, media):
    doomed = PracticeFactory(slug="doomed", name="Doomed Oral Surgery")
    kept = PracticeFactory(slug="kept", name="Kept Oral Surgery")
    _fill_practice(doomed, 1)
    _fill_practice(kept, 2)
    store_files(doomed)
    store_files(kept)
    return doomed, kept


def test_the_fixture_fills_every_tenant_table_and_stores_files_for_both(two_full_practices, media):
    doomed, kept = two_full_practices
    for practice in (doomed, kept):
        assert 0 not in rows_of(practice.pk).values()
    files = files_under(media)
    # attachment, letter PDF, import, export, outbox attachment, the orphan; and two logos
    assert len([n for n in files if n.startswith(f"private/{doomed.pk}/")]) == 6
    assert len([n for n in files if n.startswith("logos/")]) == 2


def test_delete_practice_removes_every_row_and_file_of_it_and_nothing_else(
    two_full_practices, media
):
    doomed, kept = two_full_practices
    shared = _member(doomed, Role.CLINICIAN, "both@delete.test")
    with scopes_disabled():
        MembershipFactory(practice=kept, user=shared, role=Role.FRONT_DESK)
        doomed_only = list(
            Membership.objects.filter(practice=doomed)
            .exclude(user=shared)
            .values_list("user_id", flat=True)
        )
    kept_rows = rows_of(kept.pk)
    kept_files = {n: b for n, b in files_under(media).items() if f"private/{doomed.pk}/" not in n}
    logo_of_doomed = next(n for n, b in kept_files.items() if b.startswith(b"doomed"))
    del kept_files[logo_of_doomed]
    out = io.StringIO()

    call_command("delete_practice", slug="doomed", yes=True, stdout=out)

    assert rows_of(doomed.pk) == {table: 0 for table in rows_of(doomed.pk)}
    assert not Practice.objects.filter(pk=doomed.pk).exists()
    assert not (media / "private" / str(doomed.pk)).exists()
    assert files_under(media) == kept_files
    assert rows_of(kept.pk) == kept_rows
    # The accounts of the deleted practice alone are gone; one that also works in the other
    # practice keeps its account and that membership.
    assert not User.objects.filter(pk__in=doomed_only).exists()
    assert User.objects.filter(pk=shared.pk).exists()
    with scopes_disabled():
        assert list(Membership.objects.filter(user=shared).values_list("practice", flat=True)) == [
            kept.pk
        ]
        # What stays: one entry of no practice saying the deletion happened (no PHI).
        entry = AuditEntry.objects.get(object_type="practice", object_id=str(doomed.pk))
    assert entry.practice_id is None
    assert entry.action == "deleted"
    assert "doomed" in entry.summary
    assert "Deleted practice doomed" in out.getvalue()


def test_delete_practice_asks_for_the_slug_again(two_full_practices, media):
    doomed, kept = two_full_practices
    out = io.StringIO()
    call_command("delete_practice", slug="doomed", stdin=io.StringIO("doomed\n"), stdout=out)
    assert "Type the practice's slug to confirm" in out.getvalue()
    assert not Practice.objects.filter(pk=doomed.pk).exists()
    assert Practice.objects.filter(pk=kept.pk).exists()


@pytest.mark.parametrize("typed", ["kept", "", "Doomed", "doome"])
def test_a_wrong_slug_typed_deletes_nothing(two_full_practices, media, typed):
    doomed, _ = two_full_practices
    rows, files = rows_of(doomed.pk), files_under(media)
    with pytest.raises(CommandError, match="Not deleted"):
        call_command(
            "delete_practice", slug="doomed", stdin=io.StringIO(f"{typed}\n"), stdout=io.StringIO()
        )
    assert rows_of(doomed.pk) == rows
    assert files_under(media) == files


def test_an_unknown_slug_is_refused(db):
    with pytest.raises(CommandError, match="No practice has the slug 'nope'"):
        call_command("delete_practice", slug="nope", yes=True)


def test_the_audit_log_stays_append_only_for_everyone_else(two_full_practices):
    """The operator's deletion gets past the trigger; the app's own code still cannot."""
    from django.db import ProgrammingError, transaction

    doomed, _ = two_full_practices
    refused = pytest.raises(ProgrammingError, match="Cannot update or delete")
    with practice_scope(doomed), refused, transaction.atomic():
        AuditEntry.objects.filter(practice=doomed).delete()
    call_command("delete_practice", slug="doomed", yes=True, stdout=io.StringIO())
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM practices_auditentry WHERE practice_id = %s", [doomed.pk]
        )
        assert cursor.fetchone()[0] == 0
