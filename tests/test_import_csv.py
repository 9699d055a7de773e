"""CSV import of referral history: checking, importing, matching, and the web flow
(upload, preview, import, progress, summary) with its Celery tasks."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from referrals.choices import (
    MilestoneKind,
    OfficeEventKind,
    SourceType,
    Status,
)
from referrals.importing.pipeline import ImportRefused, check_csv, import_csv, preview_csv
from referrals.importing.vocabulary import COLUMNS, split_doctor_name
from referrals.models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)

from .factories import OfficeFactory, PatientFactory, ProviderFactory

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))

BASE = {
    "chart_number": "C100",
    "patient_first_name": "Ann",
    "patient_last_name": "Lee",
    "patient_dob": "1990-01-02",
    "referral_date": "2023-01-05",
    "source_type": "doctor",
    "referring_office": "Maple Dental",
    "referring_provider": "Dr. Jane Smith",
    "office_zip": "12345",
    "case_type": "third_molars",
    "consult_date": "",
    "decision": "",
    "decision_date": "",
    "surgery_date": "",
    "production": "",
}


def row(**values) -> dict:
    return {**BASE, **values}


def csv_bytes(*rows: dict, header=COLUMNS, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(c, "") for c in header])
    data = out.getvalue().encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


# Five referrals from a PMS: spellings vary, an office and a doctor come back under other
# spellings, a patient comes back for a second case.
GOOD_ROWS = [
    row(
        source_type="Dr",
        case_type="wisdom teeth",
        consult_date="2023-01-10",
        decision="accepted",
        decision_date="2023-01-12",
        surgery_date="2023-02-01",
        production="$1,234.50",
    ),
    row(
        chart_number="C101",
        patient_first_name="Bob",
        patient_last_name="Ray",
        patient_dob="1980-03-04",
        referral_date="2023-02-05",
        source_type="self",
        referring_office="",
        referring_provider="",
        office_zip="",
        case_type="implant",
        consult_date="2023-02-10",
        decision="declined",
        decision_date="2023-02-12",
    ),
    row(
        chart_number="C102",
        patient_first_name="Cy",
        patient_last_name="Oh",
        patient_dob="1970-05-06",
        referral_date="2023-03-05",
        source_type="general dentist",
        referring_office="maple  DENTAL",
        referring_provider="Smith, Jane",
        case_type="TMD",
    ),
    row(
        referral_date="2023-06-01",
        source_type="Specialist",
        referring_office="Hill Periodontics",
        referring_provider="Dr. Raj Patel, DDS",
        office_zip="54321",
        case_type="pathology",
        consult_date="2023-06-03",
    ),
    row(
        chart_number="C103",
        patient_first_name="Dee",
        patient_last_name="Fox",
        patient_dob="1985-07-08",
        referral_date="2022-12-01",
        referring_provider="Dr. Tom Brown",
        case_type="implants",
        consult_date="2022-12-05",
        decision="Accepted",
        decision_date="2022-12-05",
    ),
]


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def stored(practice) -> dict:
    from practices.scoping import practice_scope

    with practice_scope(practice):
        return {
            model.__name__: model.objects.count()
            for model in (
                Referral,
                MilestoneEvent,
                Patient,
                ReferringOffice,
                ReferringProvider,
                OfficeEvent,
            )
        }


def check(practice, data: bytes):
    return check_csv(practice, io.BytesIO(data))


def run_import(practice, data: bytes, **kwargs):
    return import_csv(practice, io.BytesIO(data), **kwargs)


def only_error(report) -> dict:
    assert len(report.errors) == 1, report.errors
    return report.errors[0]


# --- a good file ------------------------------------------------------------------------


def test_a_good_file_imports_referrals_events_offices_doctors_and_patients(in_practice):
    report = run_import(in_practice, csv_bytes(*GOOD_ROWS))

    assert report.errors == []
    assert stored(in_practice) == {
        "Referral": 5,
        "MilestoneEvent": 4 + 3 + 1 + 2 + 3,
        "Patient": 4,
        "ReferringOffice": 2,
        "ReferringProvider": 3,
        "OfficeEvent": 2,
    }
    assert report.counts == {
        "rows": 5,
        "valid_rows": 5,
        "invalid_rows": 0,
        "referrals_created": 5,
        "referrals_matched": 0,
        "events_created": 13,
        "patients_created": 4,
        "patients_matched": 0,
        "offices_created": 2,
        "offices_matched": 0,
        "providers_created": 3,
        "providers_matched": 0,
        "first_referrals": 2,
    }
    by_date = {r.received_on.isoformat(): r for r in Referral.objects.all()}
    assert {d: r.status for d, r in by_date.items()} == {
        "2023-01-05": Status.SURGERY_COMPLETED,
        "2023-02-05": Status.TREATMENT_DECLINED,
        "2023-03-05": Status.RECEIVED,
        "2023-06-01": Status.CONSULT_COMPLETED,
        "2022-12-01": Status.TREATMENT_ACCEPTED,
    }
    assert all(r.is_historical for r in by_date.values())

    surgery_case = by_date["2023-01-05"]
    assert surgery_case.source_type == SourceType.DOCTOR
    assert surgery_case.case_type == "third_molars"
    events = list(surgery_case.events.order_by("occurred_at", "id"))
    assert [(e.kind, e.occurred_at.astimezone(NOW.tzinfo).date().isoformat()) for e in events] == [
        (MilestoneKind.RECEIVED, "2023-01-05"),
        (MilestoneKind.CONSULT_COMPLETED, "2023-01-10"),
        (MilestoneKind.TREATMENT_ACCEPTED, "2023-01-12"),
        (MilestoneKind.SURGERY_COMPLETED, "2023-02-01"),
    ]
    assert events[-1].production == Decimal("1234.50")
    assert surgery_case.status_changed_at == events[-1].occurred_at
    declined = by_date["2023-02-05"].events.get(kind=MilestoneKind.TREATMENT_DECLINED)
    assert declined.reason == "Imported: declined"
    assert by_date["2023-02-05"].referring_office is None

    # One Maple Dental (two spellings), one Dr. Jane Smith (two spellings).
    maple = ReferringOffice.objects.get(zip_code="12345")
    assert maple.name == "Maple Dental"
    assert sorted(str(p) for p in maple.providers.all()) == ["Dr. Jane Smith", "Dr. Tom Brown"]
    assert by_date["2023-03-05"].referring_provider == by_date["2023-01-05"].referring_provider
    patel = ReferringProvider.objects.get(last_name="Patel")
    assert (patel.first_name, patel.office.name) == ("Raj", "Hill Periodontics")
    # The same chart number is one patient with two cases.
    assert Patient.objects.get(chart_number="C100").referrals.count() == 2

    # The office's relationship starts with its earliest referral, as at intake.
    assert maple.first_referral_on == dt.date(2022, 12, 1)
    first = OfficeEvent.objects.get(office=maple)
    assert (first.kind, first.occurred_on, first.referral) == (
        OfficeEventKind.FIRST_REFERRAL,
        dt.date(2022, 12, 1),
        by_date["2022-12-01"],
    )


def test_a_utf8_bom_and_loose_header_spelling_are_accepted(in_practice):
    header = [c.replace("_", " ").title() for c in COLUMNS]
    data = csv_bytes(row(patient_first_name="José"), bom=True)
    data = data.replace(",".join(COLUMNS).encode(), ",".join(header).encode())
    report = run_import(in_practice, data)
    assert report.errors == []
    assert Patient.objects.get().first_name == "José"


def test_reimporting_the_same_file_creates_nothing_and_matches_everything(in_practice):
    data = csv_bytes(*GOOD_ROWS)
    run_import(in_practice, data)
    before = stored(in_practice)

    second = run_import(in_practice, data)

    assert stored(in_practice) == before
    assert second.counts["referrals_created"] == 0
    assert second.counts["events_created"] == 0
    assert second.counts["patients_created"] == 0
    assert second.counts["offices_created"] == 0
    assert second.counts["providers_created"] == 0
    assert second.counts["referrals_matched"] == 5
    assert second.counts["patients_matched"] == 4
    assert second.counts["offices_matched"] == 2
    assert second.counts["providers_matched"] == 3
    assert second.counts["first_referrals"] == 0


def test_existing_offices_doctors_and_patients_are_matched_not_duplicated(in_practice):
    office = OfficeFactory(
        practice=in_practice,
        name="Maple Dental",
        zip_code="12345",
        first_referral_on=dt.date(2023, 5, 1),
    )
    doctor = ProviderFactory(
        practice=in_practice, office=office, first_name="Jane", last_name="Smith"
    )
    patient = PatientFactory(
        practice=in_practice,
        chart_number="C100",
        first_name="ann",
        last_name="LEE",
        date_of_birth=dt.date(1990, 1, 2),
    )

    report = run_import(in_practice, csv_bytes(row()))

    referral = Referral.objects.get()
    assert (referral.patient, referral.referring_office, referral.referring_provider) == (
        patient,
        office,
        doctor,
    )
    assert report.counts["patients_matched"] == 1
    assert report.counts["offices_matched"] == 1
    assert report.counts["providers_matched"] == 1
    assert report.counts["offices_created"] == 0
    # An earlier referral moves the start of the relationship back; it was not new, so no
    # "first referral" event.
    office.refresh_from_db()
    assert office.first_referral_on == dt.date(2023, 1, 5)
    assert not OfficeEvent.objects.exists()


def test_a_large_import_refreshes_the_planner_statistics(in_practice, monkeypatch):
    # What the rollup refresh after a big import plans with (see BatchWriter): the stored
    # row estimate of the referral table must count the imported rows, not the old ones.
    from django.db import connection

    from referrals.importing import writing

    def estimated_referrals() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'referrals_referral'")
            return cursor.fetchone()[0]

    run_import(in_practice, csv_bytes(*GOOD_ROWS[:2]))  # below the threshold: nothing
    assert estimated_referrals() < 2
    monkeypatch.setattr(writing, "ANALYZE_AFTER", 3)
    run_import(in_practice, csv_bytes(*GOOD_ROWS))
    assert estimated_referrals() == Referral.objects.count() == 5


def test_imported_history_sends_no_milestone_signal(in_practice):
    from referrals.signals import milestone_recorded

    received = []

    def listener(**kwargs):
        received.append(kwargs)

    milestone_recorded.connect(listener)
    try:
        run_import(in_practice, csv_bytes(*GOOD_ROWS))
    finally:
        milestone_recorded.disconnect(listener)
    assert received == []


def test_the_import_runs_in_a_few_queries_per_batch(
    in_practice, django_assert_max_num_queries, monkeypatch
):
    from referrals.importing import pipeline

    rows = [
        row(chart_number=f"C{n}", referral_date=f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}")
        for n in range(300)
    ]
    # Three batches of 100 rows: a handful of queries each, never one per row. (Each COPY
    # into a table with row-level security costs two statements: practices/bulk.py.)
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 100)
    with django_assert_max_num_queries(36):
        report = run_import(in_practice, csv_bytes(*rows))
    assert report.counts["referrals_created"] == 300


# --- errors: one per line, with line, column and message; nothing written ----------------


ERROR_CASES = [
    (
        row(referral_date="2023-13-01"),
        "referral_date",
        "referral_date '2023-13-01' is not a real date.",
    ),
    (
        row(referral_date="01/05/2023"),
        "referral_date",
        "referral_date '01/05/2023' is not a date as YYYY-MM-DD.",
    ),
    (
        row(consult_date="2025-01-01"),
        "consult_date",
        "consult_date '2025-01-01' is in the future: only past history is imported.",
    ),
    (
        row(source_type="billboard"),
        "source_type",
        "source_type 'billboard' is not known. Use one of: doctor, event, insurance, other, "
        "self, specialist, website.",
    ),
    (
        row(case_type="veneers"),
        "case_type",
        "case_type 'veneers' is not known. Use one of: biopsy, bone_graft, extractions, "
        "implants, orthognathic, other, third_molars, tmj, trauma.",
    ),
    (
        row(referring_office="", referring_provider="", office_zip=""),
        "referring_office",
        "A 'Doctor (GP)' referral needs its referring office.",
    ),
    (
        row(referring_office="X" * 201),
        "referring_office",
        "referring_office is too long: 201 characters, at most 200.",
    ),
    (
        row(chart_number="9" * 51),
        "chart_number",
        "chart_number is too long: 51 characters, at most 50.",
    ),
    (
        row(consult_date="2023-01-01"),
        "consult_date",
        "consult_date 2023-01-01 is before referral_date 2023-01-05: dates must be in order "
        "(referral, consult, decision, surgery).",
    ),
    (
        row(consult_date="2023-01-10", surgery_date="2023-02-01"),
        "surgery_date",
        "A surgery needs an accepted treatment: decision must be 'accepted'.",
    ),
    (
        row(decision="accepted", decision_date="2023-01-10"),
        "decision",
        "A treatment decision follows a consult: consult_date is required.",
    ),
    (
        row(consult_date="2023-01-10", decision="maybe", decision_date="2023-01-11"),
        "decision",
        "decision 'maybe' must be 'accepted', 'declined' or empty.",
    ),
    (
        row(
            production="12.345",
            consult_date="2023-01-10",
            decision="accepted",
            decision_date="2023-01-10",
            surgery_date="2023-01-20",
        ),
        "production",
        "production '12.345' has more than 2 decimals.",
    ),
    (
        row(referring_provider="Smith"),
        "referring_provider",
        "referring_provider 'Smith' needs a first and a last name (e.g. 'Dr. Jane Smith' or "
        "'Smith, Jane').",
    ),
    (row(patient_last_name=""), "patient_last_name", "patient_last_name is required."),
]


@pytest.mark.parametrize(("bad", "column", "message"), ERROR_CASES)
def test_a_bad_value_is_an_error_on_its_line_and_column_and_nothing_is_written(
    in_practice, bad, column, message
):
    good = row(chart_number="C200", referral_date="2023-03-01")
    data = csv_bytes(good, good | {"chart_number": "C201"}, bad)
    before = stored(in_practice)

    report = check(in_practice, data)

    assert only_error(report) == {"line": 4, "column": column, "message": message}
    assert (report.total_rows, report.invalid_rows) == (3, 1)
    with pytest.raises(ImportRefused, match="1 of 3 rows have errors; nothing was imported."):
        run_import(in_practice, data)
    assert stored(in_practice) == before


def test_duplicate_rows_in_the_file_are_errors_naming_the_first_line(in_practice):
    data = csv_bytes(row(), row(chart_number="C2"), row(referring_office=" MAPLE dental "))
    report = check(in_practice, data)
    assert only_error(report) == {
        "line": 4,
        "column": "",
        "message": "Duplicate of line 2: same chart_number, referral_date and referring office.",
    }
    with pytest.raises(ImportRefused):
        run_import(in_practice, data)
    assert stored(in_practice)["Referral"] == 0


def test_a_chart_number_with_another_patient_is_an_error_without_repeating_names(in_practice):
    PatientFactory(practice=in_practice, chart_number="C100", first_name="Zed")
    data = csv_bytes(
        row(chart_number="C9"),
        row(chart_number="C9", patient_dob="1991-01-01", referral_date="2023-02-01"),
        row(),
    )
    report = check(in_practice, data)
    assert report.errors == [
        {
            "line": 3,
            "column": "chart_number",
            "message": "This chart number is used on line 2 for a patient with a different "
            "name or date of birth.",
        },
        {
            "line": 4,
            "column": "chart_number",
            "message": "This chart number already belongs to a patient with a different name "
            "or date of birth.",
        },
    ]
    assert "Zed" not in str(report.errors) and "Ann" not in str(report.errors)


def test_several_errors_on_one_line_are_all_listed(in_practice):
    report = check(in_practice, csv_bytes(row(source_type="", case_type="x", patient_dob="")))
    assert [(e["line"], e["column"]) for e in report.errors] == [
        (2, "patient_dob"),
        (2, "source_type"),
        (2, "case_type"),
    ]
    assert report.invalid_rows == 1


def test_a_line_with_too_many_values_is_an_error(in_practice):
    data = csv_bytes(row()) + b"C5,Al,Bo,1990-01-01,2023-01-01,self,,,,tmj,,,,,,extra\n"
    report = check(in_practice, data)
    assert only_error(report) == {
        "line": 3,
        "column": "",
        "message": "This line has 16 values but the header has 15 (a value with a comma needs "
        "double quotes around it).",
    }


def test_line_numbers_follow_the_file_with_blank_lines_and_multiline_values(in_practice):
    data = (
        csv_bytes(row(referring_office="Maple\nDental"))
        + b"\n"
        + csv_bytes(row(chart_number="C7", case_type="nope")).split(b"\n", 1)[1]
    )
    report = check(in_practice, data)
    # Header line 1, a row over lines 2-3, a blank line 4, the bad row on line 5.
    assert only_error(report)["line"] == 5


# --- the file as a whole -----------------------------------------------------------------


FILE_CASES = [
    (b"", "The file is empty: it has no header row and no data."),
    (
        csv_bytes(),
        "The file has a header row but no data rows: there is nothing to import.",
    ),
    (
        csv_bytes(row(), row(chart_number="C2", patient_first_name="Jos\xe9")).replace(
            "Jos\xe9".encode(), "Jos\xe9".encode("latin-1")
        ),
        "The file is not UTF-8 text (line 3 has a byte that is not UTF-8). Save it from the "
        "spreadsheet as 'CSV UTF-8' and upload it again.",
    ),
    (
        csv_bytes(row(), header=[c for c in COLUMNS if c != "case_type"] + ["notes"]),
        "The header row (line 1) does not match the import format. Columns missing: "
        "case_type; unknown: notes. Expected these 15 columns: " + ", ".join(COLUMNS) + ".",
    ),
    (
        ";".join(COLUMNS).encode() + b"\n1;2\n",
        "The file must be comma-separated: the header looks like it uses another separator. "
        "Export it from the spreadsheet as 'CSV (comma delimited)'.",
    ),
]


@pytest.mark.parametrize(("data", "message"), FILE_CASES)
def test_an_unreadable_file_is_one_clear_error_and_nothing_is_written(in_practice, data, message):
    report = check(in_practice, data)
    assert report.file_error == message
    assert report.errors == [{"line": None, "column": "", "message": message}]
    assert not report.importable
    with pytest.raises(ImportRefused, match=re.escape(message)):
        run_import(in_practice, data, valid_only=True)
    assert set(stored(in_practice).values()) == {0}


# --- valid-only ----------------------------------------------------------------------------


def test_valid_only_imports_the_good_rows_and_reports_the_bad(in_practice):
    data = csv_bytes(
        GOOD_ROWS[0],
        row(chart_number="C5", case_type="veneers"),
        GOOD_ROWS[1],
        row(chart_number="C6", referring_office=""),
    )
    report = run_import(in_practice, data, valid_only=True)

    assert [(e["line"], e["column"]) for e in report.errors] == [
        (3, "case_type"),
        (5, "referring_office"),
    ]
    assert report.counts["referrals_created"] == 2
    assert report.counts["invalid_rows"] == 2
    assert sorted(Patient.objects.values_list("chart_number", flat=True)) == ["C100", "C101"]
    assert Referral.objects.count() == 2


# --- parsing helpers and preview -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dr. Jane Smith", ("Jane", "Smith")),
        ("Smith, Jane", ("Jane", "Smith")),
        ("Jane Smith, DDS, MS", ("Jane", "Smith")),
        ("Doctor Ana van der Berg", ("Ana", "van der Berg")),
        ("Smith", None),
    ],
)
def test_doctor_names_are_read_in_both_orders(value, expected):
    assert split_doctor_name(value) == expected


def test_the_preview_says_what_each_row_will_do(in_practice):
    OfficeFactory(practice=in_practice, name="Maple Dental", zip_code="12345")
    rows, matcher = preview_csv(
        in_practice, io.BytesIO(csv_bytes(*GOOD_ROWS, row(case_type="nope"))), limit=20
    )
    # "maple  DENTAL" on line 4 is the office of line 2, shown under its stored name.
    assert matcher.office_names[rows[2].office_key] == "Maple Dental"
    assert [r.line for r in rows] == [2, 3, 4, 5, 6, 7]
    assert [r.office_new for r in rows[:5]] == [False, False, False, True, False]
    assert [r.provider_new for r in rows[:5]] == [True, False, True, True, True]
    assert [r.patient_new for r in rows[:5]] == [True, True, True, True, True]
    assert rows[5].errors[0].column == "case_type"
    assert Referral.objects.count() == 0
