"""Property tests of the CSV importer (referrals/importing): files in our own 15 columns and
PMS exports read through a mapping, written every way a spreadsheet or a PMS writes them
(BOM, Excel-style quoting, ';', CRLF, Windows-1252, duplicated headers) and damaged (odd
dates, huge and empty fields, random unicode, random bytes).

What must hold for every file: the check and the import never crash; the check writes
nothing; the check's verdict is the import's (a file the check passes imports whole, one it
faults is refused); a refused file leaves every tenant table exactly as it was; an import
writes what its summary counts, and importing the same file again doubles nothing; every
error names its line and column (or, for the whole file, says what is wrong)."""

import csv
import datetime as dt
import io
from collections import Counter

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from practices.models import Role
from referrals.choices import ImportStatus
from referrals.importing import mapping as mapping_module
from referrals.importing import sources
from referrals.importing.parsing import PRODUCTION_MAX, RowParser
from referrals.importing.pipeline import (
    ImportRefused,
    check_csv,
    check_file,
    import_csv,
    import_file,
)
from referrals.importing.reading import RawRow
from referrals.importing.vocabulary import COLUMNS
from referrals.models import ImportJob, MilestoneEvent, Patient, Referral

from .conftest import _member
from .factories import OfficeFactory, ProviderFactory
from .property_support import (
    AUDIT_TABLE,
    any_char,
    awkward_text,
    changed_tables,
    huge_text,
    odd_date_text,
    rolled_back,
    snapshot,
    unicode_text,
)

# --- rows --------------------------------------------------------------------------------

DATE_COLUMNS = {"patient_dob", "referral_date", "consult_date", "decision_date", "surgery_date"}

names = st.text(
    st.characters(categories=("L", "M"), include_characters="'- "), min_size=1, max_size=25
).filter(lambda s: s.strip())
past = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2023, 12, 31))


def _journey(received: dt.date, kind: int) -> dict:
    """None, a consult, a declined or an accepted treatment, or a surgery after it."""
    step = dt.timedelta(days=5)
    values = {}
    if kind >= 1:
        values["consult_date"] = received + step
    if kind == 2:
        values.update(decision="declined", decision_date=received + 2 * step)
    if kind >= 3:
        values.update(decision="accepted", decision_date=received + 2 * step)
    if kind == 4:
        values.update(surgery_date=received + 3 * step, production="$1,234.50")
    return values


@st.composite
def valid_row(draw, chart: str) -> dict:
    """A valid history row, as a typical export has it (ISO dates, free spellings)."""
    received = draw(past)
    office = draw(st.sampled_from(["Maple Dental", "maple  DENTAL", "Birch Family Dental", ""]))
    row = {
        "chart_number": chart,
        "patient_first_name": draw(names),
        "patient_last_name": draw(names),
        "patient_dob": draw(st.dates(dt.date(1930, 1, 1), dt.date(2014, 12, 31))),
        "referral_date": received,
        "source_type": draw(st.sampled_from(["Dr", "general dentist", "Specialist"]))
        if office
        else draw(st.sampled_from(["self", "Website", "insurance"])),
        "referring_office": office,
        "referring_provider": draw(st.sampled_from(["Dr. Jane Smith", "Smith, Jane", "Raj Patel"]))
        if office
        else "",
        "office_zip": "12345" if office else "",
        "case_type": draw(st.sampled_from(["wisdom teeth", "implant", "TMD", "pathology"])),
        **_journey(received, draw(st.integers(0, 4))),
    }
    return {c: v.isoformat() if isinstance(v, dt.date) else v for c, v in row.items()}


# What may be in a cell instead: anything typed, huge, blank, odd dates and amounts, and
# values that only survive with quotes (separators, quotes, line breaks).
odd_cell = st.one_of(
    unicode_text,
    awkward_text,
    huge_text,
    odd_date_text,
    st.sampled_from(
        ["a,b", "a;b", 'say "hi"', "two\nlines", "\r", '"', "1e30", "-5", "NaN", "$", "12.345"]
        + ["unknown", "D7240", "=1+1", "2023-02-29", "1990-01-02 10:30", "９９９９-01-01"]
    ),
)


# Amounts as exports write them, and the ones no column holds.
odd_amount = st.one_of(
    st.sampled_from(
        ["1e30", "1E+999999", "-0", "-1", "NaN", "sNaN", "Infinity", "99999999.99", "100000000"]
        + ["1,234.50", "$ 12", "12.345", "0.001", "1e-30", "１２", "(12.00)", "12-"]
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
ODD_BY_COLUMN = {
    "production": odd_amount,
    **{c: st.one_of(odd_date_text, past.map(str)) for c in DATE_COLUMNS},
}


@st.composite
def rows(draw) -> list[dict]:
    count = draw(st.integers(1, 5))
    charts = draw(
        st.lists(
            st.sampled_from(["C100", "C101", "C102", "C103", "C104"]),
            min_size=count,
            max_size=count,
        )
    )
    result = []
    for chart in charts:
        row = draw(valid_row(chart))
        for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=2, unique=True)):
            row[column] = draw(st.one_of(odd_cell, ODD_BY_COLUMN.get(column, odd_cell)))
        result.append(row)
    return result


# --- files -------------------------------------------------------------------------------

QUOTING = [csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]


@st.composite
def layouts(draw) -> dict:
    return {
        "delimiter": draw(st.sampled_from([",", ",", ";", "\t"])),
        # Excel quotes every cell when asked to, and doubles the quotes inside one.
        "quoting": draw(st.sampled_from(QUOTING)),
        "newline": draw(st.sampled_from(["\r\n", "\n"])),
        "bom": draw(st.booleans()),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8", "cp1252"])),
        "header": draw(
            st.sampled_from(
                ["as is", "as is", "duplicated", "dropped", "shuffled", "shouted", "blank"]
            )
        ),
        "damage": draw(
            st.one_of(
                st.none(),
                st.none(),
                st.tuples(
                    st.sampled_from(["insert", "truncate", "append"]),
                    st.floats(0, 1),
                    st.binary(max_size=12),
                ),
            )
        ),
    }


def _header(names_: list[str], how: str, draw_index: int) -> list[str]:
    header = list(names_)
    index = draw_index % len(header)
    if how == "duplicated":
        header.append(header[index])
    elif how == "dropped":
        del header[index]
    elif how == "shuffled":
        header = header[index:] + header[:index]
    elif how == "shouted":
        header = [h.upper().replace("_", " ") for h in header]
    elif how == "blank":
        header[index] = ""
    return header


def render(header: list[str], data: list[list[str]], layout: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=layout["delimiter"],
        quoting=layout["quoting"],
        lineterminator=layout["newline"],
    )
    writer.writerow(header)
    writer.writerows(data)
    text = out.getvalue()
    try:
        raw = text.encode(layout["encoding"])
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    if layout["bom"] and layout["encoding"] == "utf-8":
        raw = b"\xef\xbb\xbf" + raw
    if layout["damage"]:
        how, where, junk = layout["damage"]
        at = int(len(raw) * where)
        raw = {"insert": raw[:at] + junk + raw[at:], "truncate": raw[:at], "append": raw + junk}[
            how
        ]
    return raw


@st.composite
def own_format_files(draw) -> bytes:
    layout = draw(layouts())
    header = _header(list(COLUMNS), layout["header"], draw(st.integers(0, 100)))
    data = [[r.get(h, "") for h in header] for r in draw(rows())]
    return render(header, data, layout)


# A PMS export: its own column names and US dates.
PMS_HEADER = {
    "chart_number": "Chart #",
    "patient_first_name": "First Name",
    "patient_last_name": "Last Name",
    "patient_dob": "DOB",
    "referral_date": "Referral Date",
    "source_type": "Source",
    "referring_office": "Referring Office",
    "referring_provider": "Referring Doctor",
    "office_zip": "Office Zip",
    "case_type": "Case Type",
    "consult_date": "Consult Date",
    "decision": "Decision",
    "decision_date": "Decision Date",
    "surgery_date": "Surgery Date",
    "production": "Production",
}


def _us_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).strftime("%m/%d/%Y")
    except ValueError:
        return value


@st.composite
def pms_files(draw) -> bytes:
    layout = draw(layouts())
    canonical = _header(list(COLUMNS), layout["header"], draw(st.integers(0, 100)))
    header = [PMS_HEADER.get(c, c) for c in canonical]
    data = [
        [_us_date(r.get(c, "")) if c in DATE_COLUMNS else r.get(c, "") for c in canonical]
        for r in draw(rows())
    ]
    if draw(st.booleans()):
        # An extra column a PMS adds, repeated under the same name.
        header += ["Notes", "Notes"]
        data = [row + [draw(unicode_text), draw(unicode_text)] for row in data]
    return render(header, data, layout)


def _typed(value: str, column: str):
    """A cell as a spreadsheet holds it: a date column's date as a date, an amount as a
    number, the rest as text (an XLSX export keeps types, a CSV only text)."""
    if column in DATE_COLUMNS:
        try:
            return dt.datetime.strptime(value, "%m/%d/%Y")
        except ValueError:
            return value
    if column == "production":
        try:
            return float(value.replace("$", "").replace(",", ""))
        except ValueError:
            return value
    return value


def _xlsx(header: list[str], data: list[list], _layout: dict) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header)
    for row in data:
        # Only what a spreadsheet can hold: XML has no control characters.
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@st.composite
def pms_workbooks(draw) -> bytes:
    canonical = _header(list(COLUMNS), draw(layouts())["header"], draw(st.integers(0, 100)))
    header = [PMS_HEADER.get(c, c) for c in canonical]
    data = [
        [
            _typed(_us_date(r.get(c, "")), c) if c in DATE_COLUMNS else _typed(r.get(c, ""), c)
            for c in canonical
        ]
        for r in draw(rows())
    ]
    for row in data:
        # Cells a typed sheet may hold anywhere: numbers, dates, booleans, times.
        for index in draw(st.lists(st.integers(0, len(row) - 1), max_size=2)):
            row[index] = draw(
                st.one_of(
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(-(2**53), 2**53),
                    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 31)),
                    st.booleans(),
                    st.times(),
                )
            )
    return _xlsx(header, data, {})


random_files = st.one_of(st.binary(max_size=300), st.text(any_char, max_size=200).map(str.encode))

# --- the properties ----------------------------------------------------------------------

any_cells = st.fixed_dictionaries(
    {c: st.one_of(odd_cell, ODD_BY_COLUMN.get(c, odd_cell), st.just("")) for c in COLUMNS}
)


# No database: hundreds of rows take a second, so this one draws more examples.
@settings(max_examples=max(300, settings().max_examples))
@given(values=any_cells, today=st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)))
def test_the_row_parser_answers_any_row_with_a_row_or_errors_naming_columns(values, today):
    parsed, errors = RowParser(today).parse(RawRow(7, values, len(COLUMNS)))
    assert (parsed is None) == bool(errors)
    for error in errors:
        assert error.line == 7 and error.column in ("", *COLUMNS) and error.message.strip()
    if parsed is not None:
        assert parsed.received_on <= today
        assert parsed.production is None or 0 <= parsed.production < PRODUCTION_MAX


@pytest.fixture
def known(practice):
    """An office and doctor the files' rows may match."""
    office = OfficeFactory(practice=practice, name="Maple Dental", zip_code="12345")
    ProviderFactory(office=office, first_name="Jane", last_name="Smith")
    return office


def _counts() -> dict[str, int]:
    with scopes_disabled():
        return {
            "referrals_created": Referral.objects.count(),
            "patients_created": Patient.objects.count(),
            "events_created": MilestoneEvent.objects.count(),
        }


def _errors_name_line_and_column(report, columns) -> None:
    for error in report.errors:
        assert error["message"].strip()
        if error["line"] is None:
            assert report.file_error, error  # only a problem of the whole file has no line
        else:
            assert error["line"] >= 2, error  # line 1 is the header
            assert error["column"] in ("", *columns), error


def _import_and_check(practice, stream_of, run_check, run_import, columns, outcomes) -> None:
    """The shared property: check, import all-or-nothing, import again."""
    before = snapshot()
    report = run_check(stream_of())
    assert changed_tables(before, snapshot()) == [], "the check wrote something"
    _errors_name_line_and_column(report, columns)
    counts = _counts()
    try:
        imported = run_import(stream_of())
    except ImportRefused as refused:
        outcomes["refused"] += 1
        assert changed_tables(before, snapshot()) == [], "a refused file left rows behind"
        assert report.errors, "the check passed a file the import refused"
        _errors_name_line_and_column(refused.report, columns)
        return
    outcomes["imported"] += 1
    assert not report.errors, "the check faulted a file the import took"
    after = _counts()
    for name, total in after.items():
        assert total - counts[name] == imported.counts[name], (name, imported.counts)
    # The same file again: everything is matched, nothing doubled.
    again_before = snapshot(exclude=(AUDIT_TABLE,))
    again = run_import(stream_of())
    assert again.counts["referrals_created"] == 0, again.counts
    assert _counts() == after
    assert "referrals_referral" not in changed_tables(again_before, snapshot())


@pytest.mark.django_db
def test_any_file_in_our_format_imports_whole_or_leaves_the_database_as_it_was(
    practice, known, in_practice
):
    outcomes = Counter()

    @given(data=st.one_of(own_format_files(), random_files))
    def check(data):
        with rolled_back():
            _import_and_check(
                practice,
                lambda: io.BytesIO(data),
                lambda stream: check_csv(practice, stream),
                lambda stream: import_csv(practice, stream),
                COLUMNS,
                outcomes,
            )

    check()
    assert outcomes["imported"] and outcomes["refused"], outcomes


@pytest.mark.django_db
def test_any_mapped_export_imports_whole_or_leaves_the_database_as_it_was(
    practice, known, in_practice
):
    outcomes = Counter()

    @given(data=st.one_of(pms_files(), random_files), workbook=pms_workbooks(), xlsx=st.booleans())
    def check(data, workbook, xlsx):
        name = "export.xlsx" if xlsx else "export.csv"
        data = workbook if xlsx else data
        with rolled_back():
            before = snapshot()
            try:
                info = sources.inspect(io.BytesIO(data), name)
            except sources.FileProblem as problem:
                outcomes["unreadable"] += 1
                assert str(problem).strip()
                assert changed_tables(before, snapshot()) == []
                return
            mapping = mapping_module.suggest(info, io.BytesIO(data))
            _import_and_check(
                practice,
                lambda: io.BytesIO(data),
                lambda stream: check_file(practice, stream, info, mapping),
                lambda stream: import_file(practice, stream, info, mapping),
                # The file's columns; our own name only for a field no column of it feeds.
                {*info.header, *mapping_module.column_names(mapping).values()},
                outcomes,
            )

    check()
    assert outcomes["imported"] and outcomes["refused"], outcomes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | unicode_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(unicode_text, inner, max_size=4),
    max_leaves=12,
)
TARGETS = [t.value for t in mapping_module.Target]


@st.composite
def mapping_json(draw) -> dict:
    """A mapping as a file, a preset or a form may hold it: mostly well-formed, with any
    key or value replaced by any JSON."""
    header = [PMS_HEADER[c] for c in COLUMNS] + ["Notes"]
    data = {
        "version": draw(st.sampled_from([1, 1, 1, 2, "1", None])),
        "columns": draw(
            st.dictionaries(st.sampled_from(header) | unicode_text, st.sampled_from(TARGETS))
        ),
        "splits": draw(
            st.dictionaries(st.sampled_from(header), st.sampled_from(["last_first", "x"]))
        ),
        "values": draw(
            st.dictionaries(
                st.sampled_from([*mapping_module.VALUE_TARGETS, "chart_number"]),
                st.dictionaries(unicode_text, unicode_text | st.sampled_from(["doctor", "self"])),
            )
        ),
        "date_format": draw(st.sampled_from(["iso", "mdy", "dmy", "excel", "ymd", 3])),
        "defaults": draw(st.dictionaries(st.sampled_from(TARGETS) | unicode_text, unicode_text)),
        "code_ranges": draw(
            st.lists(
                st.lists(st.sampled_from(["D7140", "D7240", "zzz", "third_molars"]), max_size=4)
            )
        ),
        "offices": draw(st.dictionaries(unicode_text, st.sampled_from(["new", "1", "99", ""]))),
    }
    for key in draw(st.lists(st.sampled_from([*data, "extra"]), max_size=2)):
        data[key] = draw(json_values)
    return data


@pytest.mark.django_db
def test_any_mapping_is_refused_naming_its_key_or_reads_the_file(practice, known, in_practice):
    """A mapping from --mapping, a preset or the wizard: refused with a MappingProblem that
    names the key, or used; a file read through it imports whole or not at all."""
    header = [PMS_HEADER[c] for c in COLUMNS] + ["Notes"]
    outcomes = Counter()

    @given(raw=mapping_json(), table=rows())
    def check(raw, table):
        try:
            mapping = mapping_module.Mapping.from_json(raw)
        except mapping_module.MappingProblem as problem:
            outcomes["refused"] += 1
            assert str(problem).split(":")[0].split(".")[0] in (
                *raw,
                "A mapping is a JSON object ({...})",
            )
            return
        data = render(
            header,
            [[_us_date(r.get(c, "")) for c in COLUMNS] + ["x"] for r in table],
            {"delimiter": ",", "quoting": csv.QUOTE_MINIMAL, "newline": "\n", "bom": False}
            | {"encoding": "utf-8", "damage": None},
        )
        try:
            info = sources.inspect(io.BytesIO(data), "export.csv")
        except sources.FileProblem:
            return  # the file's own fault (a NUL, a row of blanks): the other properties
        assert isinstance(mapping.problems(info.header), list)
        with rolled_back():
            outcomes["used"] += 1
            _import_and_check(
                practice,
                lambda: io.BytesIO(data),
                lambda stream: check_file(practice, stream, info, mapping),
                lambda stream: import_file(practice, stream, info, mapping),
                {*info.header, *mapping_module.column_names(mapping).values()},
                outcomes,
            )

    check()
    assert outcomes["refused"] and outcomes["used"], outcomes


# --- through the pages, as an administrator uploads -----------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.mark.django_db
def test_any_upload_through_the_pages_answers_without_a_server_error(practice, known, media):
    client = Client()
    client.force_login(_member(practice, Role.ADMIN, "admin@imports.test"))
    # The import's own bookkeeping (the job, the audit log) may change; the practice's data not.
    bookkeeping = (AUDIT_TABLE, ImportJob._meta.db_table)
    outcomes = Counter()

    @given(
        data=st.one_of(own_format_files(), random_files, pms_files()),
        name=st.sampled_from(["history.csv", "export.txt", "book.xlsx", "old.xls", "x"]),
        mode=st.sampled_from(["all_or_nothing", "valid_only", "", "bogus"]),
    )
    def check(data, name, mode):
        with rolled_back():
            before = snapshot(exclude=bookkeeping)
            counts = _counts()
            upload = SimpleUploadedFile(name, data, content_type="text/csv")
            response = client.post("/imports/new/", {"file": upload})
            assert response.status_code in (200, 302)
            with scopes_disabled():
                job = ImportJob.objects.filter(practice=practice).order_by("-pk").first()
            if response.status_code == 200:
                outcomes["refused at upload"] += 1
                assert response.context["form"].errors["file"]
                assert job is None
                return
            page = client.get(response["Location"])
            assert page.status_code in (200, 302)
            if job.status not in (ImportStatus.READY, ImportStatus.INVALID):
                outcomes[job.status] += 1
                assert changed_tables(before, snapshot(exclude=bookkeeping)) == []
                return
            checked = job.status
            started = client.post(f"/imports/{job.pk}/start/", {"mode": mode})
            assert started.status_code == 302
            with scopes_disabled():
                job.refresh_from_db()
            outcomes[job.status] += 1
            may_start = (
                mode == "valid_only"
                and job.counts.get("valid_rows")
                or (mode == "all_or_nothing" and checked == ImportStatus.READY)
            )
            if not may_start:
                # Refused with a message on the page; the file's rows are not written.
                assert job.status == checked
                assert changed_tables(before, snapshot(exclude=bookkeeping)) == []
                return
            assert job.status == ImportStatus.DONE, (job.failure, job.errors[:3])
            after = _counts()
            for what, total in after.items():
                assert total - counts[what] == job.counts[what], (what, job.counts)
            assert client.get(f"/imports/{job.pk}/").status_code == 200

    check()
    assert outcomes[ImportStatus.DONE] and outcomes["refused at upload"], outcomes


# -- examples the properties found -------------------------------------------------------

GOOD = {
    "chart_number": "C100",
    "patient_first_name": "Ann",
    "patient_last_name": "Lee",
    "patient_dob": "1990-01-02",
    "referral_date": "2023-01-05",
    "source_type": "self",
    "case_type": "implant",
}


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["patient_last_name", "chart_number", "case_type"])
def test_a_nul_character_in_a_csv_is_refused_naming_the_line(practice, in_practice, column):
    """PostgreSQL stores no NUL in text or JSON: a NUL in a value was a 500 when the check
    looked the chart number up, stored the upload's samples or an error quoting it."""
    data = render(
        list(COLUMNS),
        [
            [GOOD.get(c, "") for c in COLUMNS],
            [{**GOOD, column: "Le\x00e"}.get(c, "") for c in COLUMNS],
        ],
        {"delimiter": ",", "quoting": csv.QUOTE_MINIMAL, "newline": "\n", "bom": False}
        | {"encoding": "utf-8", "damage": None},
    )
    before = snapshot()
    report = check_csv(practice, io.BytesIO(data))
    assert report.file_error.startswith("Line 3 contains a NUL character")
    with pytest.raises(ImportRefused):
        import_csv(practice, io.BytesIO(data))
    with pytest.raises(sources.FileProblem, match="Line 3 contains a NUL"):
        sources.inspect(io.BytesIO(data), "export.csv")
    assert changed_tables(before, snapshot()) == []


@pytest.mark.django_db
def test_a_nul_character_in_an_upload_is_refused_on_the_upload_page(practice, media):
    client = Client()
    client.force_login(_member(practice, Role.ADMIN, "admin@imports.test"))
    data = b"Chart #;DOB;Notes\nC1;01/02/1990;a\x00b\n"
    response = client.post("/imports/new/", {"file": SimpleUploadedFile("pms.csv", data)})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "Line 2 contains a NUL character: this is not a CSV text file (UTF-16?). Save it from "
        "the spreadsheet as 'CSV UTF-8' and upload it again."
    ]
    with scopes_disabled():
        assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_chart_number_conflict_in_a_mapped_export_names_the_files_column(practice, in_practice):
    header = [PMS_HEADER[c] for c in COLUMNS]
    first = [_us_date(GOOD.get(c, "")) if c in DATE_COLUMNS else GOOD.get(c, "") for c in COLUMNS]
    second = list(first)
    second[COLUMNS.index("patient_first_name")] = "Bea"
    second[COLUMNS.index("referral_date")] = "02/05/2023"
    data = render(
        header,
        [first, second],
        {"delimiter": ";", "quoting": csv.QUOTE_ALL, "newline": "\r\n", "bom": True}
        | {"encoding": "utf-8", "damage": None},
    )
    info = sources.inspect(io.BytesIO(data), "export.csv")
    mapping = mapping_module.suggest(info, io.BytesIO(data))
    report = check_file(practice, io.BytesIO(data), info, mapping)
    assert report.errors == [
        {
            "line": 3,
            "column": "Chart #",
            "message": "This chart number is used on line 2 for a patient with a different "
            "name or date of birth.",
        }
    ]


@pytest.mark.parametrize("amount", ["1e30", "1E+999999"])
def test_a_production_too_large_for_cents_is_an_error_on_its_column(amount):
    """Quantizing 1e30 to cents needs more digits than the decimal context has: the check
    raised InvalidOperation (a 500 in the request, a failed job in the worker)."""
    values = {**dict.fromkeys(COLUMNS, ""), **GOOD, "source_type": "self"}
    values |= {"consult_date": "2023-01-10", "decision": "accepted"}
    values |= {"decision_date": "2023-01-12", "surgery_date": "2023-02-01", "production": amount}
    parsed, errors = RowParser(dt.date(2024, 6, 1)).parse(RawRow(2, values, len(COLUMNS)))
    assert parsed is None
    assert [e.as_dict() for e in errors] == [
        {"line": 2, "column": "production", "message": f"production '{amount}' is too large."}
    ]


def test_a_mapped_exports_journey_errors_name_its_columns():
    names = mapping_module.column_names(
        mapping_module.Mapping(columns={PMS_HEADER[c]: c for c in COLUMNS})
    )
    values = {**dict.fromkeys(COLUMNS, ""), **GOOD, "decision_date": "2023-01-12"}
    _parsed, errors = RowParser(dt.date(2024, 6, 1), column_names=names).parse(
        RawRow(2, values, len(COLUMNS))
    )
    assert [e.as_dict() for e in errors] == [
        {
            "line": 2,
            "column": "Decision",
            "message": "Decision is required when Decision Date is given.",
        }
    ]
