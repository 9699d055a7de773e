"""A patient whose date of birth is unknown (imported history: Open Dental's 0001-01-01):
stored as None, matched on chart number and names, shown as "unknown" everywhere, and
still required when a patient is entered by hand."""

import dataclasses
import datetime as dt
import io

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse

from communications.models import LetterKind
from communications.rendering import letter_variables, render_letter, render_letter_pdf
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind as M
from referrals.importing.mapping import suggest
from referrals.importing.matching import Matcher, Row
from referrals.importing.parsing import ParsedRow, RowParser
from referrals.importing.pipeline import import_file
from referrals.importing.reading import RawRow
from referrals.importing.sources import inspect
from referrals.importing.vocabulary import COLUMNS
from referrals.importing.writing import BatchWriter
from referrals.models import Patient
from referrals.patients import likely_duplicates

from .api_support import client_with, key_for
from .communications.cases import NOW, letter_on, walk_case
from .factories import PatientFactory, ReferralFactory

BASE = {
    "chart_number": "C100",
    "patient_first_name": "Ann",
    "patient_last_name": "Lee",
    "patient_dob": "1990-01-02",
    "referral_date": "2023-01-05",
    "source_type": "self",
    "case_type": "third_molars",
}


def parsed(line: int, dob: dt.date | None, **kw) -> ParsedRow:
    values = {c: "" for c in COLUMNS} | BASE | kw
    row, errors = RowParser(dt.date(2024, 6, 1)).parse(RawRow(line, values, len(COLUMNS)))
    assert not errors, errors
    return dataclasses.replace(row, date_of_birth=dob)


def match(rows: list[ParsedRow]) -> tuple[list[Row], Matcher]:
    matcher = Matcher()
    batch = [Row(p.line, p, []) for p in rows]
    matcher.resolve(batch)
    return batch, matcher


def import_rows(practice, rows: list[ParsedRow]) -> Matcher:
    batch, matcher = match(rows)
    assert all(r.ok for r in batch), [r.errors for r in batch]
    with transaction.atomic():
        BatchWriter(practice, matcher).write(batch)
    return matcher


# --- import and matching ------------------------------------------------------------------


def test_an_unknown_date_of_birth_is_stored_as_none(in_practice):
    import_rows(in_practice, [parsed(2, None)])
    assert Patient.objects.get(chart_number="C100").date_of_birth is None


@pytest.mark.parametrize("placeholder", ["0001-01-01", "01/01/0001"])
def test_open_dentals_0001_01_01_imports_as_an_unknown_date(in_practice, placeholder):
    export = (
        "PatNum,LName,FName,Birthdate,RefDate,BusinessName,RefZip\n"
        f"7,Lee,Ann,{placeholder},2023-01-05,Smile Dental,12345\n"
        "8,Park,Bo,1985-03-04,2023-01-06,Smile Dental,12345\n"
    ).encode()
    stream = io.BytesIO(export)
    info = inspect(stream, "export.csv")
    report = import_file(in_practice, stream, info, suggest(info, stream))
    assert report.counts["patients_created"] == 2
    assert Patient.objects.get(chart_number="7").date_of_birth is None
    assert Patient.objects.get(chart_number="8").date_of_birth == dt.date(1985, 3, 4)


def test_an_unknown_date_of_birth_in_the_file_matches_a_known_one_by_chart_and_names(
    in_practice,
):
    known = PatientFactory(
        practice=in_practice,
        chart_number="C100",
        first_name="Ann",
        last_name="Lee",
        date_of_birth=dt.date(1990, 1, 2),
    )
    matcher = import_rows(in_practice, [parsed(2, None)])
    assert matcher.tally.as_counts()["patients_matched"] == 1
    known.refresh_from_db()
    # The known date stays: an unknown one never erases it.
    assert known.date_of_birth == dt.date(1990, 1, 2)
    assert Patient.objects.count() == 1


def test_a_known_date_in_the_file_matches_a_patient_stored_without_one(in_practice):
    PatientFactory(
        practice=in_practice,
        chart_number="C100",
        first_name="Ann",
        last_name="Lee",
        date_of_birth=None,
    )
    matcher = import_rows(in_practice, [parsed(2, dt.date(1990, 1, 2))])
    assert matcher.tally.as_counts()["patients_matched"] == 1
    assert Patient.objects.count() == 1


def test_an_unknown_date_still_needs_the_same_names(in_practice):
    PatientFactory(
        practice=in_practice,
        chart_number="C100",
        first_name="Ann",
        last_name="Lee",
        date_of_birth=None,
    )
    [row], _ = match([parsed(2, dt.date(1990, 1, 2), patient_last_name="Park")])
    assert [e.message for e in row.errors] == [
        "This chart number already belongs to a patient with a different name or date of birth."
    ]


def test_within_the_file_unknown_and_known_dates_of_one_chart_are_one_patient(in_practice):
    rows = [
        parsed(2, None),
        parsed(3, dt.date(1990, 1, 2), referral_date="2023-02-05"),
        parsed(4, dt.date(1990, 1, 3), referral_date="2023-03-05"),
    ]
    batch, _ = match(rows)
    assert [r.ok for r in batch] == [True, True, True]
    # Two known dates that differ are still two people.
    rows[0] = parsed(2, dt.date(1990, 1, 2))
    batch, _ = match(rows)
    assert [r.ok for r in batch] == [True, True, False]


# --- shown as "unknown" -------------------------------------------------------------------


@pytest.fixture
def unknown(practice):
    with practice_scope(practice):
        return ReferralFactory(
            practice=practice, patient__date_of_birth=None, patient__first_name="Ann"
        )


def test_the_patient_page_says_unknown(admin_client, unknown):
    response = admin_client.get(reverse("patient_detail", args=[unknown.patient_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span data-testid="patient-dob-unknown">unknown</span>' in html
    assert "(age" not in html


def test_the_case_timeline_says_unknown(admin_client, unknown):
    response = admin_client.get(reverse("referral_detail", args=[unknown.pk]))
    assert response.status_code == 200
    assert '<dd data-testid="patient-dob">unknown</dd>' in response.content.decode()


def test_a_letter_says_the_date_of_birth_is_unknown(in_practice):
    with time_machine.travel(NOW, tick=False):
        referral, events = walk_case(in_practice, upto=M.CONSULT_COMPLETED)
        Patient.objects.filter(pk=referral.patient_id).update(date_of_birth=None)
        referral.refresh_from_db()
        letter = letter_on(referral, events[M.CONSULT_COMPLETED], LetterKind.CONSULT_COMPLETED)
        assert letter_variables(letter)["patient"]["date_of_birth"] == "unknown"
        rendered = render_letter(letter)
        assert "DOB unknown" in rendered.html
        assert render_letter_pdf(letter).startswith(b"%PDF")


def test_a_patient_with_an_unknown_date_is_a_likely_duplicate_by_name(in_practice):
    imported = PatientFactory(
        practice=in_practice, first_name="Ann", last_name="Lee", date_of_birth=None
    )
    PatientFactory(
        practice=in_practice, first_name="Ann", last_name="Lee", date_of_birth=dt.date(1970, 1, 1)
    )
    found = likely_duplicates(first_name="ann", last_name="LEE", date_of_birth=dt.date(1990, 1, 2))
    assert [(d.patient.pk, d.reasons) for d in found] == [
        (imported.pk, ["same name, date of birth unknown"])
    ]


# --- still required by hand ---------------------------------------------------------------


def test_the_api_reads_null_and_requires_a_date_to_write(practice, unknown):
    api = client_with(key_for(practice))
    read = api.get(f"/api/v1/patients/{unknown.patient_id}/")
    assert read.status_code == 200
    assert read.json()["date_of_birth"] is None
    for body in (
        {"first_name": "Pat", "last_name": "Roe"},
        {"first_name": "Pat", "last_name": "Roe", "date_of_birth": None},
    ):
        created = api.post("/api/v1/patients/", body, format="json")
        assert created.status_code == 400
        assert "date_of_birth" in created.json()
    # Changing something else leaves the unknown date alone.
    patched = api.patch(
        f"/api/v1/patients/{unknown.patient_id}/", {"phone": "555-0199"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    with practice_scope(practice):
        assert Patient.objects.get(pk=unknown.patient_id).date_of_birth is None
