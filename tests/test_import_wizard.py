"""The import wizard, step by step: a Dentrix-like export under its own headers mapped
onto our columns (file, columns, values, dates, offices, preview), the preset kept and
reused, the mapping downloaded, the import run; roles and another practice's jobs."""

import csv
import io
import json

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.models import AuditEntry
from practices.scoping import practice_scope
from referrals import tasks
from referrals.choices import ImportStatus
from referrals.importing.mapping import Mapping
from referrals.models import ImportJob, ImportPreset, Referral, ReferringOffice

from .factories import OfficeFactory

HEADER = "Pt Last,Pt First,Birthdate,Chart #,Ref Date,Referred By,Referral Type,Procedure"
SMILE = '"Dr. Jane Smith, Smile Dental Care"'
RIVERSIDE = '"Dr. Tom Lee, Riverside Family Dentistry"'
DENTRIX_ROWS = [
    f"Garcia,Maria,04/12/1985,D100,01/15/2024,{SMILE},Dentist,Wisdom teeth",
    f"Nguyen,Bao,11/30/1990,D101,02/03/2024,{SMILE},Dentist,Implant",
    f"Okafor,Chidi,07/08/1972,D102,02/20/2024,{RIVERSIDE},Dentist,Extraction",
    "Brown,Ella,01/02/2001,D103,03/01/2024,,Self,Biopsy",
]


def dentrix_csv(*rows: str, header: str = HEADER) -> bytes:
    return "\r\n".join([header, *rows]).encode() + b"\r\n"


def upload(client, data: bytes, name="dentrix-referrals.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("import_upload"), {"file": file})


def the_job(practice) -> ImportJob:
    with practice_scope(practice):
        return ImportJob.objects.latest("pk")


def url(name: str, job: ImportJob) -> str:
    return reverse(name, args=[job.pk])


def columns_post(job: ImportJob, **overrides) -> dict:
    """The columns form as the page would post it with the suggested choices."""
    mapping = Mapping.from_json(job.mapping)
    data = {}
    for index, header in enumerate(job.file_info["header"]):
        data[f"col_{index}"] = overrides.get(header, mapping.columns.get(header, ""))
        data[f"split_{index}"] = mapping.splits.get(header, "last_first")
    return data


@pytest.fixture
def uploaded(admin_client, practice):
    response = upload(admin_client, dentrix_csv(*DENTRIX_ROWS))
    job = the_job(practice)
    assert response.status_code == 302
    assert response["Location"] == url("import_wizard_file", job)
    return job


def test_upload_stores_the_file_at_its_mapping_step_and_shows_what_was_detected(
    admin_client, uploaded
):
    assert uploaded.status == ImportStatus.MAPPING
    assert uploaded.file_info["header"][:3] == ["Pt Last", "Pt First", "Birthdate"]
    page = admin_client.get(url("import_wizard_file", uploaded)).content.decode()
    assert 'data-testid="file-kind">Text (CSV)' in page
    assert "comma" in page and "utf-8" in page
    assert "about 4" in page


def test_the_file_step_reads_the_file_again_with_another_delimiter(admin_client, uploaded):
    response = admin_client.post(
        url("import_wizard_file", uploaded), {"encoding": "", "delimiter": ";"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("import_wizard_file", uploaded)
    with scopes_disabled():
        uploaded.refresh_from_db()
    assert uploaded.file_info["delimiter"] == ";"
    assert len(uploaded.file_info["header"]) == 1  # the whole line is one column now


def test_columns_are_suggested_from_the_headers_with_samples(admin_client, uploaded):
    page = admin_client.get(url("import_wizard_columns", uploaded)).content.decode()
    assert '<option value="patient_last_name" selected>' in page
    assert '<option value="referred_by" selected>' in page
    assert "<span>Garcia</span>" in page  # a sample under its column
    mapping = Mapping.from_json(uploaded.mapping)
    assert mapping.columns["Chart #"] == "chart_number"
    assert mapping.columns["Ref Date"] == "referral_date"
    # The samples are patient data: their viewing is recorded.
    with scopes_disabled():
        assert AuditEntry.objects.filter(summary__contains="column samples").count() == 1


def test_a_mapping_without_a_required_column_is_shown_and_not_passed(admin_client, uploaded):
    data = columns_post(uploaded, **{"Chart #": ""})
    response = admin_client.post(url("import_wizard_columns", uploaded), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="mapping-problems"' in page
    assert "chart" in page.lower()


def test_the_columns_post_stores_the_mapping_and_goes_on(admin_client, uploaded):
    data = columns_post(uploaded, Procedure="case_type")
    response = admin_client.post(url("import_wizard_columns", uploaded), data)
    assert response.status_code == 302
    assert response["Location"] == url("import_wizard_values", uploaded)
    with scopes_disabled():
        uploaded.refresh_from_db()
    assert Mapping.from_json(uploaded.mapping).columns["Procedure"] == "case_type"


def test_values_are_listed_with_counts_and_prefilled(admin_client, practice):
    veneers = f"Diaz,Luis,05/06/1970,D104,03/02/2024,{SMILE},Dentist,Veneers"
    upload(admin_client, dentrix_csv(*DENTRIX_ROWS, veneers))
    job = the_job(practice)
    admin_client.post(
        url("import_wizard_columns", job),
        columns_post(job, Procedure="case_type", **{"Referral Type": "source_type"}),
    )
    response = admin_client.get(url("import_wizard_values", job))
    page = response.content.decode()
    assert 'data-testid="values-source_type"' in page and 'data-testid="values-case_type"' in page
    assert "<code>Wisdom teeth</code>" in page
    assert '<option value="third_molars" selected>' in page
    # "Veneers" is no case type of ours: left unmapped, with a warning.
    assert 'data-testid="unmapped-warning"' in page

    form = response.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    response = admin_client.post(url("import_wizard_values", job), data)
    assert response["Location"] == url("import_wizard_dates", job)
    with scopes_disabled():
        job.refresh_from_db()
    values = Mapping.from_json(job.mapping).values
    assert values["case_type"]["Wisdom teeth"] == "third_molars"
    assert values["source_type"]["Dentist"] == "doctor"
    assert "Veneers" not in values["case_type"]


def test_the_date_format_is_detected_and_can_be_changed(admin_client, uploaded):
    page = admin_client.get(url("import_wizard_dates", uploaded)).content.decode()
    assert '<option value="mdy" selected>' in page
    assert "2024-01-15" in page  # 01/15/2024 as it will be read
    response = admin_client.post(url("import_wizard_dates", uploaded), {"date_format": "dmy"})
    assert response["Location"] == url("import_wizard_offices", uploaded)
    with scopes_disabled():
        uploaded.refresh_from_db()
    assert Mapping.from_json(uploaded.mapping).date_format == "dmy"


def test_an_uncertain_office_is_asked_and_the_choice_is_kept(admin_client, practice):
    with practice_scope(practice):
        existing = OfficeFactory(practice=practice, name="Smile Dental Care, LLC", zip_code="02139")
    upload(admin_client, dentrix_csv(*DENTRIX_ROWS))
    job = the_job(practice)
    response = admin_client.get(url("import_wizard_offices", job))
    page = response.content.decode()
    form = response.context["form"]
    assert [c.name for c in form.candidates] == ["Smile Dental Care"]
    assert f"Same as {existing.name}" in page
    assert "Riverside Family Dentistry" in page  # a certain (new) one, shown compactly

    response = admin_client.post(url("import_wizard_offices", job), {"office_0": "new"})
    assert response["Location"] == url("import_wizard_preview", job)
    with scopes_disabled():
        job.refresh_from_db()
    assert list(Mapping.from_json(job.mapping).offices.values()) == ["new"]

    admin_client.post(url("import_wizard_offices", job), {"office_0": str(existing.pk)})
    with scopes_disabled():
        job.refresh_from_db()
    assert list(Mapping.from_json(job.mapping).offices.values()) == [str(existing.pk)]


def test_the_preview_shows_the_cases_and_each_problem_on_its_line_and_column(
    admin_client, practice
):
    bad = f"Diaz,Luis,05/06/1970,D104,13/45/2024,{SMILE},Dentist,Implant"
    upload(admin_client, dentrix_csv(*DENTRIX_ROWS, bad))
    job = the_job(practice)
    response = admin_client.get(url("import_wizard_preview", job))
    page = response.content.decode()
    rows = response.context["preview"]
    assert [row.line for row in rows] == [2, 3, 4, 5, 6]
    assert rows[0].patient == "Maria Garcia" and rows[0].office == "Smile Dental Care"
    assert rows[0].case_type == "Third molars"
    assert rows[4].action == "reject"
    assert "<code>Ref Date</code>" in page  # the file's column, on line 6
    with scopes_disabled():
        assert AuditEntry.objects.filter(summary__contains="wizard preview").exists()
        assert Referral.objects.count() == 0  # a preview writes nothing


def test_the_mapping_downloads_as_json_and_reads_back(admin_client, uploaded):
    response = admin_client.get(url("import_wizard_mapping", uploaded))
    assert response["Content-Disposition"] == (
        f'attachment; filename="import-{uploaded.pk}-mapping.json"'
    )
    data = json.loads(response.content)
    assert data["version"] == 1
    assert Mapping.from_json(data) == Mapping.from_json(uploaded.mapping)


def test_the_downloaded_mapping_imports_the_file_with_the_command(
    admin_client, practice, uploaded, tmp_path
):
    from django.core.management import call_command

    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_bytes(admin_client.get(url("import_wizard_mapping", uploaded)).content)
    export = tmp_path / "dentrix.csv"
    export.write_bytes(dentrix_csv(*DENTRIX_ROWS))
    call_command(
        "import_referrals", "--practice", practice.slug, str(export), "--mapping", str(mapping_file)
    )
    with practice_scope(practice):
        assert Referral.objects.count() == 4


def test_a_saved_preset_is_applied_to_the_next_export_with_the_same_headers(
    admin_client, practice, uploaded
):
    response = admin_client.post(
        url("import_wizard_save_preset", uploaded), {"name": "Dentrix monthly"}
    )
    assert response["Location"] == url("import_wizard_preview", uploaded)
    with practice_scope(practice):
        preset = ImportPreset.objects.get()
    assert preset.name == "Dentrix monthly"
    assert preset.header == uploaded.file_info["header"]

    page = admin_client.get(reverse("import_list")).content.decode()
    assert "Dentrix monthly" in page

    # Next month: upload, and the preview is there at once.
    # Next month's export puts a column elsewhere: the same preset still.
    reordered = "Pt First,Pt Last,Birthdate,Chart #,Ref Date,Referred By,Referral Type,Procedure"
    rows = [",".join([r.split(",")[1], r.split(",")[0], *r.split(",")[2:]]) for r in DENTRIX_ROWS]
    response = upload(admin_client, dentrix_csv(*rows[:2], header=reordered), name="february.csv")
    job = the_job(practice)
    assert response["Location"] == url("import_wizard_preview", job)
    assert job.preset_id == preset.pk
    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-testid="change-mapping"' in page and "Dentrix monthly" in page

    admin_client.post(reverse("import_preset_delete", args=[preset.pk]))
    with practice_scope(practice):
        assert not ImportPreset.objects.exists()


def test_a_builtin_preset_is_offered_on_the_columns_page(admin_client, practice):
    header = (
        "PatNum,LName,FName,Birthdate,RefDate,RefLName,RefFName,RefTitle,BusinessName,"
        "RefZip,RefNPI,ProcCode,ProcDate,ProcFee,ProcStatus"
    )
    row = (
        "17,Garcia,Maria,1985-04-12,2024-01-15,Smith,Jane,Dr.,Smile Dental Care,02139,,"
        "D7240,2024-02-01,450.00,2"
    )
    upload(admin_client, dentrix_csv(row, header=header), name="open-dental.csv")
    job = the_job(practice)
    page = admin_client.get(url("import_wizard_columns", job)).content.decode()
    assert 'data-testid="preset-offer"' in page and "built-in" in page

    response = admin_client.post(url("import_wizard_use_preset", job))
    assert response["Location"] == url("import_wizard_preview", job)
    with scopes_disabled():
        job.refresh_from_db()
    assert Mapping.from_json(job.mapping).columns["ProcCode"] == "procedure_code"


def test_import_checks_and_imports_with_the_mapping(
    admin_client, practice, uploaded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(url("import_wizard_import", uploaded), {"mode": "valid_only"})
    assert response["Location"] == url("import_detail", uploaded)
    # The request only queued the work (one Celery job); run it as a worker would.
    assert len(queued) == 1
    assert the_job(practice).status == ImportStatus.UPLOADED
    tasks.check_and_import.apply(args=(practice.pk, uploaded.pk, "valid_only")).get()
    job = the_job(practice)
    assert job.status == ImportStatus.DONE
    assert job.counts["referrals_created"] == 4
    with practice_scope(practice):
        names = set(ReferringOffice.objects.values_list("name", flat=True))
    assert {"Smile Dental Care", "Riverside Family Dentistry"} <= names
    page = admin_client.get(url("import_detail", job)).content.decode()
    assert 'data-testid="import-summary"' in page


def test_our_own_format_skips_the_mapping(admin_client, practice):
    from .test_import_csv import GOOD_ROWS, csv_bytes

    response = upload(admin_client, csv_bytes(*GOOD_ROWS))
    job = the_job(practice)
    assert response["Location"] == url("import_detail", job)
    assert job.status == ImportStatus.READY


STEP_URLS = [
    "import_wizard_file",
    "import_wizard_columns",
    "import_wizard_values",
    "import_wizard_dates",
    "import_wizard_offices",
    "import_wizard_preview",
    "import_wizard_mapping",
]


@pytest.mark.parametrize("name", STEP_URLS)
def test_another_practices_job_is_not_found(client, other_practice, practice, name):
    from practices.models import Role

    from .conftest import _member

    theirs = _member(other_practice, Role.ADMIN, "admin@hilltop.test")
    client.force_login(theirs)
    upload(client, dentrix_csv(*DENTRIX_ROWS))
    job = the_job(other_practice)
    ours = _member(practice, Role.ADMIN, "admin@lakeside.test")
    client.force_login(ours)
    assert client.get(url(name, job)).status_code == 404


@pytest.mark.parametrize("name", STEP_URLS)
def test_the_front_desk_may_not_map_imports(client, front_desk_user, uploaded, name):
    client.force_login(front_desk_user)
    assert client.get(url(name, uploaded)).status_code == 403


def test_a_coordinator_uses_the_wizard(client, coordinator_user, uploaded):
    client.force_login(coordinator_user)
    assert client.get(url("import_wizard_columns", uploaded)).status_code == 200


def test_an_xlsx_export_goes_through_the_same_steps(admin_client, practice):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for line in [HEADER, *DENTRIX_ROWS]:
        sheet.append(next(csv.reader([line])))
    data = io.BytesIO()
    book.save(data)
    response = upload(admin_client, data.getvalue(), name="dentrix.xlsx")
    job = the_job(practice)
    assert response["Location"] == url("import_wizard_file", job)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Excel workbook (.xlsx)" in page
    response = admin_client.get(url("import_wizard_preview", job))
    assert [row.patient for row in response.context["preview"]][:1] == ["Maria Garcia"]


def test_dates_that_read_both_ways_are_flagged(admin_client, practice):
    rows = [f"Garcia,Maria,03/04/1985,D100,02/01/2024,{SMILE},Dentist,Implant"]
    upload(admin_client, dentrix_csv(*rows))
    job = the_job(practice)
    page = admin_client.get(url("import_wizard_dates", job)).content.decode()
    assert 'data-testid="date-ambiguous"' in page
