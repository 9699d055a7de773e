"""Opening exports as they come: separators, encodings, XLSX, header dictionary, dates."""

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from referrals.importing import dates, headers
from referrals.importing.dates import DateFormat
from referrals.importing.sources import FileProblem, inspect, read


def rows_of(data: bytes, name: str = "export.csv", **kwargs):
    stream = io.BytesIO(data)
    info = inspect(stream, name, **kwargs)
    return info, list(read(stream, info))


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"Last,First,DOB\nLee,Ann,1990-01-02\n", ","),
        (b"Last;First;DOB\nLee;Ann;1990-01-02\n", ";"),
        (b"Last\tFirst\tDOB\nLee\tAnn\t1990-01-02\n", "\t"),
        (b"Last|First|DOB\nLee|Ann|1990-01-02\n", "|"),
    ],
)
def test_the_separator_is_sniffed_from_the_header_line(data, delimiter):
    info, rows = rows_of(data)
    assert info.delimiter == delimiter
    assert info.header == ["Last", "First", "DOB"]
    assert rows == [(2, ["Lee", "Ann", "1990-01-02"])]


def test_utf8_with_bom_is_detected_and_the_bom_is_not_in_the_header():
    info, rows = rows_of("\ufeffLast,First\nLée,Ann\n".encode())
    assert (info.encoding, info.header) == ("utf-8-sig", ["Last", "First"])
    assert rows == [(2, ["Lée", "Ann"])]


def test_windows_1252_and_latin_1_are_told_apart():
    info, rows = rows_of("Last,First\nBéal,Zoë\n".encode("cp1252") + b"Ng,Al\x92s\n")
    assert info.encoding == "cp1252"
    assert rows[0] == (2, ["Béal", "Zoë"])
    assert rows[1] == (3, ["Ng", "Al\u2019s"])
    # 0x81 is not a character in Windows-1252: Latin-1 it is.
    info, rows = rows_of(b"Last,First\nB\xe9al,A\x81\n")
    assert info.encoding == "latin-1"
    assert rows[0][1][0] == "Béal"


def test_the_encoding_and_separator_can_be_overridden():
    data = "Last;First\nBéal;Ann\n".encode("cp1252")
    info, rows = rows_of(data, encoding="latin-1", delimiter=";")
    assert (info.encoding, info.encoding_detected, info.delimiter) == ("latin-1", "cp1252", ";")
    assert rows == [(2, ["Béal", "Ann"])]
    with pytest.raises(FileProblem, match="Line 2 cannot be read as utf-8"):
        rows_of(data, encoding="utf-8")


def test_line_numbers_are_the_files_with_blank_lines_and_quoted_line_breaks():
    info, rows = rows_of(b'Last,Note\nLee,"two\nlines"\n\n,\nNg,x\nOne\n')
    assert rows == [(2, ["Lee", "two\nlines"]), (6, ["Ng", "x"]), (7, ["One"])]
    assert info.samples == {"Last": ["Lee", "Ng", "One"], "Note": ["two\nlines", "x"]}


def test_repeated_and_blank_headers_are_made_unique():
    info, _ = rows_of(b"Fee,Fee,,Code\n1,2,3,4\n")
    assert info.header == ["Fee", "Fee (2)", "Column 3", "Code"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"Last,First\n", "no data rows"),
        (b"Last,First\n\n , \n", "no data rows"),
    ],
)
def test_files_without_data_are_refused_clearly(data, message):
    with pytest.raises(FileProblem, match=message):
        rows_of(data)


def xlsx_bytes(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_first_sheet_is_read_with_dates_iso_and_whole_numbers_plain():
    data = xlsx_bytes(
        [
            ["PatNum", "Birthdate", "RefDate", "ProcFee", "Note"],
            [1001, dt.date(1990, 1, 2), dt.datetime(2023, 1, 5), 150.0, None],
            [None, None, None, None, None],
            [1002, dt.datetime(1985, 3, 4, 10, 30), "01/06/2023", 99.5, "ok"],
        ]
    )
    info, rows = rows_of(data, "export.xlsx")
    assert (info.kind, info.encoding, info.delimiter) == ("xlsx", "", "")
    assert info.header == ["PatNum", "Birthdate", "RefDate", "ProcFee", "Note"]
    assert rows == [
        (2, ["1001", "1990-01-02", "2023-01-05", "150", ""]),
        (4, ["1002", "1985-03-04 10:30:00", "01/06/2023", "99.5", "ok"]),
    ]


def test_an_unreadable_workbook_is_refused_clearly():
    with pytest.raises(FileProblem, match="The workbook cannot be read"):
        rows_of(b"PK\x03\x04 not really a zip", "export.xlsx")
    with pytest.raises(FileProblem, match=r"old Excel \.xls"):
        rows_of(b"\xd0\xcf\x11\xe0rest", "export.xls")


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Patient Last Name", "patient_last_name"),
        ("LName", "patient_last_name"),
        ("Pt Last", "patient_last_name"),
        ("FName", "patient_first_name"),
        ("DOB", "patient_dob"),
        ("Birth Date", "patient_dob"),
        ("Chart #", "chart_number"),
        ("PatNum", "chart_number"),
        ("Account #", "chart_number"),
        ("Referred By", "referred_by"),
        ("Referral Source", "referred_by"),
        ("Ref Dr", "referring_provider"),
        ("Ref Date", "referral_date"),
        ("Date Referred", "referral_date"),
        ("Proc Code", "procedure_code"),
        ("ADA Code", "procedure_code"),
        ("DOS", "procedure_date"),
        ("Fee", "procedure_fee"),
        ("Production", "production"),
        ("ProcStatus", "procedure_status"),
        ("RefLName", "provider_last_name"),
        ("RefTitle", ""),
        ("BusinessName", "referring_office"),
        ("RefZip", "office_zip"),
        ("RefNPI", "provider_npi"),
        ("Referral Type", "source_type"),
        ("Case Type", "case_type"),
        ("Surgery Date", "surgery_date"),
        ("Patient Name", "patient_name"),
        ("Referal Date", "referral_date"),  # a typo: the fuzzy fallback
        ("Favourite colour", ""),
    ],
)
def test_the_header_dictionary_knows_usual_pms_spellings(header, target):
    assert headers.suggest_target(header) == target


def test_two_columns_never_get_the_same_field():
    assert headers.suggest_columns(["Last", "Last Name", "DOB"]) == {
        "Last": "patient_last_name",
        "Last Name": "",
        "DOB": "patient_dob",
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2023-01-05", "2023-12-31"], (DateFormat.ISO, False)),
        (["01/05/2023", "12/31/2023"], (DateFormat.MDY, False)),
        (["1/5/23", "2/3/98"], (DateFormat.MDY, True)),
        (["31/12/2023", "05/01/2023"], (DateFormat.DMY, False)),
        (["44927", "44928.0", ""], (DateFormat.EXCEL, False)),
        (["soon", "later"], (None, False)),
    ],
)
def test_date_formats_are_detected(values, expected):
    assert dates.detect(values) == expected


def test_dates_become_iso():
    assert dates.to_iso("1/5/23", DateFormat.MDY) == "2023-01-05"
    assert dates.to_iso("1/5/58", DateFormat.MDY) == "1958-01-05"
    assert dates.to_iso("31/12/2023", DateFormat.DMY) == "2023-12-31"
    assert dates.to_iso("44927", DateFormat.EXCEL) == "2023-01-01"
    assert dates.to_iso("2023-01-05", DateFormat.MDY) == "2023-01-05"
    assert dates.to_iso("0001-01-01", DateFormat.ISO) == "unknown"
    assert dates.to_iso("01/01/0001", DateFormat.MDY) == "unknown"
    assert dates.to_iso("", DateFormat.MDY) == ""
    assert dates.to_iso("13/45/2020", DateFormat.MDY) is None
