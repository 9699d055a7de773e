"""practices/bulk.py: the one bulk row writer of the CSV import and seed_demo (and the demo's
letters). What it stores; the import's and the demo's own tests cover their rows."""

import datetime as dt
import importlib.util

import pytest

from communications.models import EmailKind, EmailStatus, OutgoingEmail
from practices import bulk
from practices.bulk import IdBlock, RowWriter
from referrals.models import Patient


def test_the_import_and_the_demo_write_through_the_one_writer():
    from communications import demo_letters
    from referrals.demo import writer as demo_writer
    from referrals.importing import writing as import_writing

    assert import_writing.RowWriter is bulk.RowWriter
    assert demo_writer.RowWriter is bulk.RowWriter and demo_writer.IdBlock is bulk.IdBlock
    assert demo_letters.RowWriter is bulk.RowWriter
    # The three earlier copies are gone.
    for old in ("referrals.importing.inserts", "referrals.demo.rows", "referrals.bulk_sql"):
        assert importlib.util.find_spec(old) is None, old


def test_unnamed_columns_get_their_defaults_and_a_fresh_value_per_row(in_practice, practice):
    writer = RowWriter(
        OutgoingEmail,
        ("dedupe_key", "subject", "body_text"),
        {"practice_id": practice.pk, "kind": EmailKind.OTHER},
    )
    writer.insert([writer.row((f"bulk:{n}", f"Subject {n}", "Body")) for n in range(3)])
    emails = list(OutgoingEmail.objects.filter(dedupe_key__startswith="bulk:").order_by("id"))
    assert [e.subject for e in emails] == ["Subject 0", "Subject 1", "Subject 2"]
    assert all(e.status == EmailStatus.QUEUED and e.to == [] and e.attempts == 0 for e in emails)
    assert all(e.created_at is not None for e in emails)
    # uuid4 is drawn per row, not once for all of them; every other column is prepared once.
    assert len({e.correlation_id for e in emails}) == 3
    assert [f.name for f in writer.per_row] == ["correlation_id"]


def test_insert_returning_ids_gives_each_rows_id_in_order(in_practice, practice):
    writer = RowWriter(
        Patient,
        ("chart_number", "first_name", "last_name", "date_of_birth"),
        {"practice_id": practice.pk},
    )
    rows = [writer.row((f"B{n}", "Ada", f"Row{n}", dt.date(1990, 1, 1 + n))) for n in range(5)]
    ids = writer.insert_returning_ids(rows)
    stored = dict(Patient.objects.filter(pk__in=ids).values_list("pk", "chart_number"))
    assert [stored[pk] for pk in ids] == [f"B{n}" for n in range(5)]
    assert Patient.objects.get(pk=ids[2]).date_of_birth == dt.date(1990, 1, 3)


def test_rows_with_reserved_ids_keep_them(in_practice, practice):
    ids = IdBlock(Patient)
    writer = RowWriter(Patient, ("id", "chart_number", "last_name"), {"practice_id": practice.pk})
    Patient.objects.create(practice=practice, first_name="First", last_name="Write")
    taken = [ids.take() for _ in range(3)]
    assert len(set(taken)) == 3
    writer.insert([writer.row((pk, f"R{pk}", "Reserved")) for pk in taken])
    assert sorted(Patient.objects.filter(last_name="Reserved").values_list("pk", flat=True)) == (
        sorted(taken)
    )
    with pytest.raises(ValueError, match="carry their own ids"):
        writer.insert_returning_ids([writer.row((ids.take(), "R", "Again"))])


def test_an_unknown_column_is_refused_by_name(practice):
    with pytest.raises(ValueError, match=r"Patient has no field\(s\) \['nickname'\]"):
        RowWriter(Patient, ("nickname",), {"practice_id": practice.pk})
