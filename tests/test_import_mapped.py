"""Any export through a mapping: each file shape imports with the right counts, values
left unmapped are refused naming the line and the file's column, nothing half-written."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled
from openpyxl import Workbook

from referrals.importing.mapping import (
    Mapping,
    MappingProblem,
    distinct_values,
    split_referred_by,
    suggest,
    suggest_values,
)
from referrals.importing.pipeline import ImportRefused, check_file, import_file, preview_file
from referrals.importing.sources import inspect
from referrals.models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(
        dt.datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("America/New_York")), tick=False
    ):
        yield


DENTRIX_HEADER = [
    "Chart #",
    "Patient Name",
    "Birth Date",
    "Date Referred",
    "Referred By",
    "Case Type",
]
DENTRIX_ROWS = [
    ["A1", "Béal, Zoé", "01/02/1990", "01/05/2023", "Dr. Jane Smith, Smile Dental", "Wisdom Teeth"],
    ["A2", "Lee, Ann", "3/4/85", "2/6/23", "Dr. Jane Smith, Smile Dental", "Implant"],
    ["A3", "Ng, Al", "12/31/1970", "03/07/2023", "Dr. Bob Stone", "Extraction"],
]


def delimited(header, rows, *, sep=",", encoding="utf-8", bom=False) -> bytes:
    def cell(v):
        return f'"{v}"' if sep in v else v

    lines = [sep.join(cell(v) for v in r) for r in [header, *rows]]
    data = ("\n".join(lines) + "\n").encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + data


def xlsx(header, rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            m.__name__: m.objects.count()
            for m in (
                Patient,
                Referral,
                MilestoneEvent,
                ReferringOffice,
                ReferringProvider,
                OfficeEvent,
            )
        }


def import_bytes(practice, data: bytes, name="export.csv", mapping=None, **kwargs):
    stream = io.BytesIO(data)
    info = inspect(stream, name, **kwargs)
    mapping = mapping or suggest(info, stream)
    return import_file(practice, stream, info, mapping), info, mapping


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("comma.csv", delimited(DENTRIX_HEADER, DENTRIX_ROWS)),
        ("bom.csv", delimited(DENTRIX_HEADER, DENTRIX_ROWS, bom=True)),
        ("cp1252.csv", delimited(DENTRIX_HEADER, DENTRIX_ROWS, encoding="cp1252")),
        ("semicolon.csv", delimited(DENTRIX_HEADER, DENTRIX_ROWS, sep=";")),
        ("tabs.tsv", delimited(DENTRIX_HEADER, DENTRIX_ROWS, sep="\t")),
        ("sheet.xlsx", xlsx(DENTRIX_HEADER, DENTRIX_ROWS)),
    ],
)
def test_a_dentrix_like_export_imports_under_its_own_headers(in_practice, name, data):
    report, info, mapping = import_bytes(in_practice, data, name)
    assert mapping.columns == {
        "Chart #": "chart_number",
        "Patient Name": "patient_name",
        "Birth Date": "patient_dob",
        "Date Referred": "referral_date",
        "Referred By": "referred_by",
        "Case Type": "case_type",
    }
    assert mapping.splits == {"Patient Name": "last_first"}
    assert mapping.date_format == "mdy"
    assert report.counts["referrals_created"] == 3
    assert report.counts["patients_created"] == 3
    # "Smile Dental" twice; Dr. Bob Stone alone becomes an office named after him.
    assert sorted(ReferringOffice.objects.values_list("name", flat=True)) == [
        "Dr. Bob Stone",
        "Smile Dental",
    ]
    assert sorted(ReferringProvider.objects.values_list("last_name", flat=True)) == [
        "Smith",
        "Stone",
    ]
    zoe = Patient.objects.get(chart_number="A1")
    assert (zoe.first_name, zoe.last_name) == ("Zoé", "Béal")
    assert zoe.date_of_birth == dt.date(1990, 1, 2)
    ann = Patient.objects.get(chart_number="A2")
    assert ann.date_of_birth == dt.date(1985, 3, 4)
    assert Referral.objects.get(patient=ann).received_on == dt.date(2023, 2, 6)
    assert set(Referral.objects.values_list("source_type", flat=True)) == {"doctor"}
    assert sorted(Referral.objects.values_list("case_type", flat=True)) == [
        "extractions",
        "implants",
        "third_molars",
    ]


def test_reimporting_the_same_file_changes_nothing(in_practice):
    data = xlsx(DENTRIX_HEADER, DENTRIX_ROWS)
    import_bytes(in_practice, data, "sheet.xlsx")
    before = table_counts()
    report, _, _ = import_bytes(in_practice, data, "sheet.xlsx")
    assert table_counts() == before
    assert report.counts["referrals_matched"] == 3
    assert report.counts["referrals_created"] == 0


def test_excel_serial_dates_and_first_last_names_and_split_doctor_columns(in_practice):
    header = ["PatNum", "Name", "DOB", "Ref Date", "RefFName", "RefLName", "RefTitle", "Zip"]
    rows = [
        ["7", "Ann Lee", "32875", "44931", "Jane", "Smith", "DDS", "12345"],
        ["8", "Al van Ng", "25000", "44932.0", "Jane", "Smith", "DDS", "12345"],
    ]
    report, _, mapping = import_bytes(in_practice, delimited(header, rows))
    assert mapping.date_format == "excel"
    assert mapping.columns["Name"] == "patient_name"
    assert mapping.splits["Name"] == "first_last"
    assert mapping.columns["RefTitle"] == ""
    assert report.counts["referrals_created"] == 2
    ann = Patient.objects.get(chart_number="7")
    assert (ann.first_name, ann.last_name, ann.date_of_birth) == (
        "Ann",
        "Lee",
        dt.date(1990, 1, 2),
    )
    assert Referral.objects.get(patient=ann).received_on == dt.date(2023, 1, 5)
    office = ReferringOffice.objects.get()
    assert (office.name, office.zip_code) == ("Dr. Jane Smith", "12345")


def test_a_value_left_unmapped_is_refused_with_the_line_and_the_files_column(in_practice):
    header = ["Chart #", "Last", "First", "DOB", "Ref Date", "Source", "Case Type"]
    rows = [
        ["1", "Lee", "Ann", "1990-01-02", "2023-01-05", "Web", "Implant"],
        ["2", "Ng", "Al", "1990-01-02", "2023-01-05", "Billboard", "Implant"],
        ["3", "Ko", "Bo", "1990-01-02", "13/45/2020", "Web", "Implant"],
    ]
    before = table_counts()
    with pytest.raises(ImportRefused) as refused:
        import_bytes(in_practice, delimited(header, rows))
    assert table_counts() == before
    errors = refused.value.report.errors
    assert {"line": 3, "column": "Source", "message": errors[0]["message"]} == errors[0]
    assert "'Billboard' is not known" in errors[0]["message"]
    assert errors[1] == {
        "line": 4,
        "column": "Ref Date",
        "message": "Ref Date '13/45/2020' is not a date as YYYY-MM-DD.",
    }
    # Mapped, the value goes through.
    stream = io.BytesIO(delimited(header, rows[:2]))
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    mapping.values["source_type"]["Billboard"] = "event"
    assert check_file(in_practice, stream, info, mapping).invalid_rows == 0


def test_us_dates_name_their_format_in_errors(in_practice):
    header = ["Chart #", "Last", "First", "DOB", "Ref Date"]
    rows = [
        ["1", "Lee", "Ann", "01/02/1990", "01/05/2023"],
        ["2", "Ng", "Al", "1/2/90", "13/45/2020"],
    ]
    stream = io.BytesIO(delimited(header, rows))
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    report = check_file(in_practice, stream, info, mapping)
    assert report.errors == [
        {
            "line": 3,
            "column": "Ref Date",
            "message": "Ref Date '13/45/2020' is not a date as MM/DD/YYYY.",
        }
    ]
    rows_, _ = preview_file(in_practice, stream, info, mapping)
    assert [r.ok for r in rows_] == [True, False]


def test_a_row_with_another_width_is_refused_naming_its_line(in_practice):
    data = b"Chart #;Last;First;DOB;Ref Date\n1;Lee;Ann;1990-01-02;2023-01-05\n2;Ng;Al\n"
    stream = io.BytesIO(data)
    info = inspect(stream, "export.csv")
    report = check_file(in_practice, stream, info, suggest(info, stream))
    assert report.errors[0]["line"] == 3
    assert "3 values but the header has 5" in report.errors[0]["message"]


def test_a_mapping_missing_required_fields_is_a_file_problem(in_practice):
    stream = io.BytesIO(b"Last,First\nLee,Ann\n")
    info = inspect(stream, "export.csv")
    report = check_file(in_practice, stream, info, suggest(info, stream))
    assert "Choose a column for: Chart number, Patient date of birth, Referral date" in (
        report.file_error
    )


def test_mapping_json_round_trips_and_names_the_bad_key():
    mapping = Mapping(
        columns={"Ref Date": "referral_date"},
        values={"source_type": {"Web": "website"}},
        date_format="mdy",
    )
    assert Mapping.from_json(mapping.to_json()) == mapping
    assert mapping.to_json()["version"] == 1
    for bad, key in [
        ({"version": 2}, "version"),
        ({"version": 1, "columns": {"A": "favourite"}}, "columns.A"),
        ({"version": 1, "date_format": "ymd"}, "date_format"),
        ({"version": 1, "values": {"patient_dob": {}}}, "values.patient_dob"),
        ({"version": 1, "colums": {}}, "colums"),
        ({"version": 1, "splits": {"Name": "middle"}}, "splits.Name"),
    ]:
        with pytest.raises(MappingProblem, match=f"^{key}"):
            Mapping.from_json(bad)


@pytest.mark.parametrize(
    ("value", "split"),
    [
        ("Dr. Jane Smith, Smile Dental", ("Dr. Jane Smith", "Smile Dental")),
        ("Dr. Jane Smith, DDS, Smile Dental, LLC", ("Dr. Jane Smith, DDS", "Smile Dental, LLC")),
        ("Jane Smith DDS", ("Jane Smith DDS", "")),
        ("Smile Dental", ("", "Smile Dental")),
        ("", ("", "")),
    ],
)
def test_referred_by_splits_into_doctor_and_office(value, split):
    assert split_referred_by(value) == split


def test_procedure_level_rows_go_through_the_grouping_into_cases(in_practice):
    header = ["PatNum", "LName", "FName", "Birthdate", "RefDate", "BusinessName", "RefZip"]
    header += ["ProcCode", "ProcDate", "ProcFee", "ProcStatus"]
    base = ["1", "Lee", "Ann", "1990-01-02", "2023-01-05", "Smile Dental", "12345"]
    rows = [
        [*base, "D0140", "2023-01-10", "100.00", "2"],
        [*base, "D7240", "2023-02-01", "500.00", "2"],
        [*base, "D7240", "2023-02-02", "900.00", "6"],
        ["2", "Ng", "Al", "0001-01-01", "2023-03-01", "Smile Dental", "12345", "", "", "", ""],
    ]
    report, _, mapping = import_bytes(in_practice, delimited(header, rows))
    assert mapping.procedure_level
    assert report.counts["referrals_created"] == 2
    ann = Referral.objects.get(patient__chart_number="1")
    assert ann.case_type == "third_molars"
    events = dict(MilestoneEvent.objects.filter(referral=ann).values_list("kind", "production"))
    assert set(events) >= {"consult_completed", "treatment_accepted", "surgery_completed"}
    # Production is every completed fee of the case (the consult's too); the deleted one
    # (status 6) is not.
    assert str(events["surgery_completed"]) == "600.00"
    assert Patient.objects.get(chart_number="2").date_of_birth is None


def test_an_unknown_birth_date_placeholder_imports_as_unknown(in_practice):
    header = ["Chart #", "Last", "First", "DOB", "Ref Date", "NPI"]
    rows = [
        ["1", "Lee", "Ann", "01/01/0001", "01/05/2023", ""],
        ["2", "Ng", "Al", "1/2/90", "01/05/2023", "123"],
    ]
    stream = io.BytesIO(delimited(header, rows))
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    report = check_file(in_practice, stream, info, mapping)
    assert report.errors == [{"line": 3, "column": "NPI", "message": "NPI '123' is not 10 digits."}]
    report, _, _ = import_bytes(in_practice, delimited(header, rows[:1]))
    assert Patient.objects.get(chart_number="1").date_of_birth is None


def test_distinct_values_and_suggested_value_mappings():
    header = ["Chart #", "Source", "ProcStatus"]
    rows = [["1", "Web", "2"], ["2", "Billboard", "1"], ["3", "Web", "6"], ["4", "", "2"]]
    stream = io.BytesIO(delimited(header, rows))
    info = inspect(stream, "export.csv")
    mapping = suggest(info, stream)
    assert mapping.values["source_type"] == {"Web": "website"}
    assert mapping.values["procedure_status"] == {"2": "complete", "1": "planned", "6": "deleted"}
    assert distinct_values(stream, info, mapping, "source_type") == [("Web", 2), ("Billboard", 1)]
    assert suggest_values("decision", ["Accept", "maybe"]) == {"Accept": "accepted"}
