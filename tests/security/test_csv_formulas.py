"""Every CSV download keeps a formula-looking value as text (practices/csv_export.py): an
office and a patient named =HYPERLINK("http://x","y"), a crafted user agent and a crafted
column header go through each download as a user would get it, and each file is then
opened by a real spreadsheet, LibreOffice Calc, which must read those cells as text, never
as formulas, while the numbers, negative ones included, stay numbers."""

import csv
import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.csv_export import cell, csv_lines, csv_response
from practices.scoping import practice_scope
from referrals import tasks
from referrals.choices import ImportStatus
from referrals.models import ImportJob

from ..analytics.history import add_referrals
from ..factories import OfficeFactory, PatientFactory
from ..test_import_wizard import DENTRIX_ROWS, HEADER, columns_post, dentrix_csv, upload

pytestmark = pytest.mark.django_db

NAME = '=HYPERLINK("http://x","y")'
AS_TEXT = f"'{NAME}"  # what Calc shows: the quote keeps it text
NOW = dt.datetime(2026, 11, 15, 17, 0, tzinfo=dt.UTC)


def read_in_calc(tmp_path, files: dict[str, bytes]) -> dict[str, list[list[tuple]]]:
    """Each CSV opened by LibreOffice Calc as a person's double-click opens it (comma
    separated, UTF-8, formulas evaluated), saved as XLSX and read back cell by cell:
    ``(value, type)`` with type ``s`` text, ``n`` number, ``f`` formula."""
    soffice = shutil.which("soffice")
    assert soffice, (
        "LibreOffice Calc (libreoffice-calc-nogui) is needed: scripts/test.sh installs it"
    )
    paths = []
    for name, content in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_bytes(content)
        paths.append(str(path))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--infilter=CSV:44,34,76,1",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            *paths,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    sheets = {}
    for name in files:
        book = openpyxl.load_workbook(tmp_path / f"{name}.xlsx")
        sheets[name] = [[(c.value, c.data_type) for c in row] for row in book.active.iter_rows()]
    return sheets


def formulas(sheet) -> list:
    return [value for row in sheet for value, kind in row if kind == "f"]


def column(sheet, header: str) -> list[tuple]:
    index = [value for value, _ in sheet[0]].index(header)
    return [row[index] for row in sheet[1:] if len(row) > index]


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.fixture
def crafted(practice):
    """An office and a patient whose names and chart number are the payload, with
    referrals this year and more last year (the trend report's change is negative)."""
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name=NAME)
        add_referrals(office, [dt.date(2025, 3, 3), dt.date(2025, 4, 3), dt.date(2025, 5, 3)])
        add_referrals(office, [dt.date(2026, 3, 3)], accepted=1)
        patient = PatientFactory(
            practice=practice, first_name=NAME, last_name=NAME, chart_number=NAME
        )
    return office, patient


def test_every_report_keeps_the_office_name_as_text(admin_client, crafted, tmp_path):
    with time_machine.travel(NOW, tick=False):
        files = {
            slug: body(admin_client.get(reverse("report_csv", args=[slug])))
            for slug in ("referral-volume", "case-acceptance", "rolling-trend")
        }
    sheets = read_in_calc(tmp_path, files)
    for slug, sheet in sheets.items():
        assert formulas(sheet) == [], slug
        assert (AS_TEXT, "s") in [c for row in sheet for c in row], slug
    # The trend's fall (3 referrals a year ago, 1 now) is a number the spreadsheet can sum.
    changes = [
        value
        for value, kind in column(sheets["rolling-trend"], "Change (%)")
        if kind == "n" and value is not None
    ]
    assert any(value < 0 for value in changes)
    volume = sheets["referral-volume"]
    assert [kind for _, kind in volume[1][3:]] == ["n"] * (len(volume[1]) - 3)


def test_the_audit_log_keeps_a_chart_number_and_a_user_agent_as_text(
    admin_client, crafted, tmp_path
):
    _, patient = crafted
    page = admin_client.get(
        reverse("patient_detail", args=[patient.pk]), HTTP_USER_AGENT=f"@SUM(1+1)*{NAME}"
    )
    assert page.status_code == 200
    export = admin_client.get("/settings/audit-log/export.csv", {"chart": NAME})
    sheet = read_in_calc(tmp_path, {"audit": body(export)})["audit"]
    assert formulas(sheet) == []
    assert (AS_TEXT, "s") in column(sheet, "patient chart number")
    assert (f"'@SUM(1+1)*{NAME}", "s") in column(sheet, "user agent")
    assert all(kind == "n" for _, kind in column(sheet, "id"))


def test_an_imports_errors_keep_a_crafted_column_header_as_text(
    admin_client, practice, tmp_path, django_capture_on_commit_callbacks
):
    # A PMS export whose referral-date column is headed by the payload, with a patient of
    # that name, and one row whose date is wrong: the error names the file's column.
    header = HEADER.replace("Ref Date", '"=HYPERLINK(""http://x"",""y"")"')
    bad = f'Diaz,"{NAME.replace(chr(34), chr(34) * 2)}",05/06/1970,D104,13/45/2024,,Self,Biopsy'
    upload(admin_client, dentrix_csv(*DENTRIX_ROWS, bad, header=header))
    with practice_scope(practice):
        job = ImportJob.objects.latest("pk")
    admin_client.post(
        reverse("import_wizard_columns", args=[job.pk]),
        columns_post(job, **{NAME: "referral_date"}),
    )
    with django_capture_on_commit_callbacks():
        admin_client.post(reverse("import_wizard_import", args=[job.pk]), {"mode": "valid_only"})
    tasks.check_and_import.apply(args=(practice.pk, job.pk, "valid_only")).get()
    with scopes_disabled():
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.counts["invalid_rows"] == 1
    export = admin_client.get(reverse("import_errors", args=[job.pk]))
    sheet = read_in_calc(tmp_path, {"errors": body(export)})["errors"]
    assert formulas(sheet) == []
    assert column(sheet, "column") == [(AS_TEXT, "s")]
    ((message, kind),) = column(sheet, "message")
    assert kind == "s" and message.startswith(AS_TEXT)
    assert column(sheet, "line") == [(6, "n")]


def test_numbers_stay_numbers_and_text_that_looks_like_one_stays_text(tmp_path):
    """The rule for negative numbers: a number the product computed is written as a number
    (a spreadsheet must be able to add it up); text a person typed is always text, even
    "-5" (a chart number, a phone "+1 555 0100")."""
    response = csv_response(
        "numbers.csv",
        ["what", "value"],
        [
            ["revenue at risk", Decimal("-1800.00")],
            ["change", -12.5],
            ["count", -3],
            ["typed", "-5"],
            ["phone", "+1 555 0100"],
            ["harmless", "a=b"],
        ],
    )
    sheet = read_in_calc(tmp_path, {"numbers": response.content})["numbers"]
    assert [row[1] for row in sheet[1:]] == [
        (-1800, "n"),
        (-12.5, "n"),
        (-3, "n"),
        ("'-5", "s"),
        ("'+1 555 0100", "s"),
        ("a=b", "s"),
    ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (NAME, AS_TEXT),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\0x", "'\0x"),
        ("plain", "plain"),
        (None, ""),
        (-7, "-7"),
        (Decimal("-0.50"), "-0.50"),
        (-1.5, "-1.5"),
        (True, "yes"),
        (dt.date(2026, 3, 2), "2026-03-02"),
    ],
)
def test_each_cell_is_written_by_its_type(value, written):
    assert cell(value) == written
    # Quoted as needed: a quote or comma in the value cannot close the cell and start a
    # formula in the next one.
    (_, line) = csv.reader(io.StringIO("".join(csv_lines(["a", "b"], [[value, "=x"]]))))
    assert line == [written, "'=x"]
