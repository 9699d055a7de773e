"""Mapped imports from a shell and as jobs: --mapping JSON, a saved preset reused, a preset
found by the file's headers, XLSX, and the job's mapping step (upload -> map -> check ->
import) with its two-click re-import."""

import datetime as dt
import json
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from practices.scoping import practice_scope
from referrals.choices import ImportMode, ImportStatus
from referrals.importing import jobs, presets
from referrals.importing.mapping import Mapping, MappingProblem, suggest
from referrals.importing.sources import inspect
from referrals.models import ImportJob, ImportPreset, Patient, Referral, ReferringOffice

from .test_import_mapped import DENTRIX_HEADER, DENTRIX_ROWS, delimited, table_counts, xlsx


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(
        dt.datetime(2024, 6, 1, 12, tzinfo=ZoneInfo("America/New_York")), tick=False
    ):
        yield


@pytest.fixture
def tasks_inline():
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


# Our own headers for the same data: a practice's custom report.
OWN_HEADER = ["Acct", "Pt", "Born", "Sent On", "From", "Why"]


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("import_referrals", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def custom_mapping() -> Mapping:
    return Mapping(
        columns={
            "Acct": "chart_number",
            "Pt": "patient_name",
            "Born": "patient_dob",
            "Sent On": "referral_date",
            "From": "referred_by",
            "Why": "case_type",
        },
        splits={"Pt": "last_first"},
        values={"case_type": {"Wisdom Teeth": "third_molars", "Implant": "implants"}},
        date_format="mdy",
        defaults={"case_type": "extractions"},
    )


def referrals_of(practice) -> int:
    with practice_scope(practice):
        return Referral.objects.count()


def test_mapping_json_from_the_wizard_reads_a_file_under_any_headers(practice, tmp_path):
    path = tmp_path / "custom.csv"
    path.write_bytes(delimited(OWN_HEADER, DENTRIX_ROWS, sep=";"))
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(custom_mapping().to_json()))
    out, _ = run("--practice", practice.slug, path, "--mapping", mapping_path)
    assert "Columns read with the mapping mapping.json." in out
    assert "Created: 3 referrals" in out
    assert referrals_of(practice) == 3


def test_a_bad_mapping_json_names_its_key(practice, tmp_path):
    path = tmp_path / "custom.csv"
    path.write_bytes(delimited(OWN_HEADER, DENTRIX_ROWS))
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps({"version": 1, "date_format": "ymd"}))
    with pytest.raises(CommandError, match="date_format: 'ymd' is not one of"):
        run("--practice", practice.slug, path, "--mapping", mapping_path)


def test_a_saved_preset_is_reused_by_name_and_by_headers(practice, admin_user, tmp_path):
    with practice_scope(practice):
        presets.save_preset(practice, "Monthly report", OWN_HEADER, custom_mapping(), admin_user)
    path = tmp_path / "custom.xlsx"
    path.write_bytes(xlsx(OWN_HEADER, DENTRIX_ROWS))
    out, _ = run("--practice", practice.slug, path, "--preset", "Monthly report")
    assert "Columns read with the preset 'Monthly report'." in out
    assert referrals_of(practice) == 3
    # Next month: the same headers in another order; found without --preset, nothing new.
    shuffled = [OWN_HEADER[i] for i in (5, 4, 3, 2, 1, 0)]
    rows = [[r[i] for i in (5, 4, 3, 2, 1, 0)] for r in DENTRIX_ROWS]
    path.write_bytes(xlsx(shuffled, rows))
    before = table_counts()
    out, _ = run("--practice", practice.slug, path)
    assert "Columns read with the saved preset 'Monthly report' (headers match)." in out
    assert table_counts() == before
    assert "Matched (already here): 3 referrals" in out


def test_a_preset_saved_again_under_its_name_is_updated(practice, admin_user):
    with practice_scope(practice):
        presets.save_preset(practice, "Monthly", ["A"], Mapping(), admin_user)
        presets.save_preset(practice, "Monthly", OWN_HEADER, custom_mapping(), admin_user)
        preset = ImportPreset.objects.get()
        assert preset.header == OWN_HEADER
        assert presets.mapping_for(preset, OWN_HEADER) == custom_mapping()


def test_a_builtin_preset_matches_by_header_names(practice, tmp_path, monkeypatch):
    folder = tmp_path / "builtin"
    folder.mkdir()
    (folder / "dentrix.json").write_text(
        json.dumps(
            {
                "name": "dentrix-like",
                "description": "test",
                "header": DENTRIX_HEADER,
                "mapping": {**suggest_for_dentrix().to_json()},
            }
        )
    )
    monkeypatch.setattr(presets, "BUILTIN_DIR", folder)
    presets.builtin_presets.cache_clear()
    try:
        path = tmp_path / "export.csv"
        header = ["Extra", *reversed(DENTRIX_HEADER)]
        rows = [["x", *reversed(r)] for r in DENTRIX_ROWS]
        path.write_bytes(delimited(header, rows))
        out, _ = run("--practice", practice.slug, path)
        assert "Columns read with the built-in preset 'dentrix-like' (headers match)." in out
        assert referrals_of(practice) == 3
    finally:
        presets.builtin_presets.cache_clear()


def suggest_for_dentrix() -> Mapping:
    import io

    stream = io.BytesIO(delimited(DENTRIX_HEADER, DENTRIX_ROWS))
    return suggest(inspect(stream, "x.csv"), stream)


def test_an_unknown_layout_without_preset_is_refused_suggesting_the_wizard(practice, tmp_path):
    path = tmp_path / "custom.csv"
    path.write_bytes(delimited(OWN_HEADER, DENTRIX_ROWS))
    with pytest.raises(CommandError, match="Map its columns once in the import wizard"):
        run("--practice", practice.slug, path)
    with pytest.raises(CommandError, match="No preset named 'Nope'"):
        run("--practice", practice.slug, path, "--preset", "Nope")
    assert referrals_of(practice) == 0


def test_encoding_and_delimiter_options(practice, tmp_path):
    path = tmp_path / "custom.txt"
    path.write_bytes(delimited(OWN_HEADER, DENTRIX_ROWS, sep="|", encoding="cp1252"))
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(custom_mapping().to_json()))
    out, _ = run(
        "--practice",
        practice.slug,
        path,
        "--mapping",
        mapping_path,
        "--encoding",
        "cp1252",
        "--delimiter",
        "|",
    )
    assert referrals_of(practice) == 3
    with practice_scope(practice):
        assert Patient.objects.get(chart_number="A1").first_name == "Zoé"


def test_a_refused_mapped_import_from_the_command_changes_nothing(practice, tmp_path):
    path = tmp_path / "custom.csv"
    rows = [*DENTRIX_ROWS, ["A4", "Ko, Bo", "1/1/80", "1/1/23", "Dr. Al Ng, Ng Dental", "Veneers"]]
    path.write_bytes(delimited(OWN_HEADER, rows))
    mapping = custom_mapping()
    mapping.defaults = {}
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(mapping.to_json()))
    before = table_counts()
    err = StringIO()
    with pytest.raises(CommandError, match="1 of 4 rows have errors; nothing was imported"):
        call_command(
            "import_referrals",
            "--practice",
            practice.slug,
            str(path),
            "--mapping",
            str(mapping_path),
            stdout=StringIO(),
            stderr=err,
        )
    assert table_counts() == before
    assert "line 5, Why: Why 'Veneers' is not known. Map it to one of:" in err.getvalue()


# --- jobs: the mapping step ---------------------------------------------------------------


def upload(data: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def test_a_job_waits_for_its_mapping_then_checks_and_imports(in_practice, admin_user):
    job = jobs.create_job(
        in_practice,
        upload(delimited(OWN_HEADER, DENTRIX_ROWS, sep="\t"), "custom.tsv"),
        user=admin_user,
        mapping_step=True,
    )
    assert job.status == ImportStatus.MAPPING
    assert job.file_info["delimiter"] == "\t"
    assert job.file_info["header"] == OWN_HEADER
    assert job.file_info["samples"]["Acct"] == ["A1", "A2", "A3"]
    assert jobs.check_job(job.pk) is None  # not before its mapping
    with pytest.raises(MappingProblem, match="Choose a column for"):
        jobs.confirm_mapping(job, Mapping(columns={"Acct": "chart_number"}))
    assert jobs.confirm_mapping(job, custom_mapping())
    assert job.status == ImportStatus.UPLOADED
    job = jobs.check_job(job.pk)
    assert job.status == ImportStatus.READY
    assert job.counts["referrals_created"] == 3
    assert jobs.start_job(job, ImportMode.ALL_OR_NOTHING)
    job = jobs.run_job(job.pk)
    assert job.status == ImportStatus.DONE
    assert Referral.objects.count() == 3
    assert ReferringOffice.objects.count() == 2


def test_errors_of_a_mapped_job_name_the_files_columns(in_practice, admin_user):
    rows = [*DENTRIX_ROWS, ["A4", "Ko, Bo", "1/1/80", "31/01/2023", "", "Implant"]]
    job = jobs.create_job(
        in_practice,
        upload(delimited(OWN_HEADER, rows), "c.csv"),
        user=admin_user,
        mapping_step=True,
    )
    jobs.confirm_mapping(job, custom_mapping())
    job = jobs.check_job(job.pk)
    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {
            "line": 5,
            "column": "Sent On",
            "message": "Sent On '31/01/2023' is not a date as MM/DD/YYYY.",
        }
    ]


def test_a_two_click_reimport_checks_and_imports_in_one_task(
    in_practice, admin_user, tasks_inline, django_capture_on_commit_callbacks
):
    preset = presets.save_preset(in_practice, "Monthly", OWN_HEADER, custom_mapping(), admin_user)
    job = jobs.create_job(
        in_practice,
        upload(xlsx(OWN_HEADER, DENTRIX_ROWS), "m.xlsx"),
        user=admin_user,
        mapping_step=True,
    )
    found = presets.find_for(job.file_info["header"])
    assert found == preset
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.import_now(
            job, ImportMode.ALL_OR_NOTHING, presets.mapping_for(found, OWN_HEADER), preset=found
        )
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportStatus.DONE
    assert job.preset == preset
    assert job.counts["referrals_created"] == 3
    assert not job.file  # the upload is patient data: not kept once imported
    assert job.file_info["samples"] == {}
    assert job.file_info["header"] == OWN_HEADER
