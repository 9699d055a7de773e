"""Export everything of a practice (portability/): the zip's CSVs, README and files, the
page with its progress and expiring link, the audit entries, and the re-import into an
empty practice with the same counts."""

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from communications.models import Letter
from portability.entities import ENTITIES, columns
from portability.export import build_export
from portability.models import ExportJob, ExportStatus
from portability.reimport import ImportRefused, import_practice
from portability.services import download_token, run_export, token_matches
from practices.models import AuditEntry
from practices.scoping import practice_scope
from referrals.models import Attachment, Patient, Referral
from tests.factories import OfficeFactory, PatientFactory, PracticeFactory, ReferralFactory
from tests.practice_data import store_files
from tests.security.test_rls import _fill_practice

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def full_practice(practice, media):
    """Our practice with rows in every exported table, real files, and a patient and an
    office named like a spreadsheet formula."""
    _fill_practice(practice, 1)
    with scopes_disabled():
        office = OfficeFactory(practice=practice, name=FORMULA)
        patient = PatientFactory(practice=practice, first_name=FORMULA, last_name="-Minus")
        ReferralFactory.create_batch(3, practice=practice, referring_office=office)
        ReferralFactory(practice=practice, patient=patient, referring_office=office)
    store_files(practice)
    return practice


def _counts(practice) -> dict[str, int]:
    with practice_scope(practice):
        return {e.name: e.model.objects.filter(practice=practice).count() for e in ENTITIES}


def _export(practice) -> bytes:
    out = io.BytesIO()
    with practice_scope(practice):
        build_export(practice, out)
    return out.getvalue()


def _csv(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.TextIOWrapper(zf.open(name), encoding="utf-8")))


def test_the_export_has_a_csv_per_entity_a_readme_and_the_files(full_practice):
    counts = _counts(full_practice)
    with zipfile.ZipFile(io.BytesIO(_export(full_practice))) as zf:
        names = set(zf.namelist())
        for entity in ENTITIES:
            rows = _csv(zf, entity.filename)
            assert len(rows) == counts[entity.name], entity.name
            assert list(rows[0]) == [c.name for c in columns(entity)] if rows else True
        for wanted in (
            "offices",
            "doctors",
            "patients",
            "referrals",
            "milestones",
            "letters",
            "alerts",
            "outreach",
            "audit_log",
        ):
            assert f"{wanted}.csv" in names
        readme = zf.read("README.md").decode()
        manifest = json.loads(zf.read("manifest.json"))
        letters = _csv(zf, "letters.csv")
        attachments = _csv(zf, "attachments.csv")
        pdf = zf.read(letters[0]["pdf"])
        attachment = zf.read(attachments[0]["file"])
        offices = _csv(zf, "offices.csv")
        patients = _csv(zf, "patients.csv")
    assert "## patients.csv" in readme and "| date_of_birth |" in readme
    assert "| referral_id | id of the row in referrals.csv" in readme
    assert manifest["counts"]["patients"] == counts["patients"]
    assert manifest["counts"]["files"] == 2  # the letter PDF and the attachment
    assert pdf == b"lakeside communications.Letter"
    assert attachment == b"lakeside referrals.Attachment"
    # Cells that a spreadsheet would run as formulas are neutralised.
    assert f"'{FORMULA}" in {o["name"] for o in offices}
    assert f"'{FORMULA}" in {p["first_name"] for p in patients}
    assert "'-Minus" in {p["last_name"] for p in patients}


def test_the_export_holds_nothing_of_another_practice(full_practice, other_practice):
    _fill_practice(other_practice, 2)
    with scopes_disabled():
        PatientFactory(practice=other_practice, last_name="Hilltoponly")
    data = _export(full_practice)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        text = b"".join(zf.read(n) for n in zf.namelist())
    assert b"Hilltoponly" not in text
    assert b"hilltop" not in text.lower()


def test_the_export_reimports_into_an_empty_practice_with_the_same_counts(full_practice, media):
    before = _counts(full_practice)
    data = _export(full_practice)
    empty = PracticeFactory(slug="fresh", name="Fresh Start")
    with practice_scope(empty):
        imported = import_practice(empty, io.BytesIO(data))
    assert _counts(empty) == before
    assert {k: v for k, v in imported.items() if k != "files"} == before
    assert imported["files"] == 2
    with practice_scope(empty):
        patient = Patient.objects.get(first_name=FORMULA)
        assert patient.last_name == "-Minus"  # the quote of the export is gone again
        # Links follow the new ids: the case of the patient, the letter's PDF and event.
        referral = Referral.objects.get(patient=patient)
        assert referral.referring_office.name == FORMULA
        letter = Letter.objects.get()
        assert letter.event.referral_id == letter.referral_id
        assert letter.pdf.read() == b"lakeside communications.Letter"
        assert Attachment.objects.get().file.read() == b"lakeside referrals.Attachment"
    # The original is untouched.
    assert _counts(full_practice) == before


def test_the_audit_log_follows_the_new_patient_ids(full_practice):
    with practice_scope(full_practice):
        patient = Patient.objects.filter(first_name=FORMULA).get()
        AuditEntry.objects.create(
            practice=full_practice,
            actor_kind="system",
            action="viewed",
            object_type="patient",
            object_id=str(patient.pk),
            patient_id=patient.pk,
        )
    data = _export(full_practice)
    empty = PracticeFactory(slug="fresh")
    with practice_scope(empty):
        import_practice(empty, io.BytesIO(data))
        new_patient = Patient.objects.get(first_name=FORMULA)
        entry = AuditEntry.objects.get(object_type="patient")
    assert (entry.patient_id, entry.object_id) == (new_patient.pk, str(new_patient.pk))


def test_an_export_is_refused_by_a_practice_with_data(full_practice, other_practice):
    data = _export(full_practice)
    with scopes_disabled():
        OfficeFactory(practice=other_practice)
    with practice_scope(other_practice), pytest.raises(ImportRefused, match="already has data"):
        import_practice(other_practice, io.BytesIO(data))


def test_a_broken_export_changes_nothing_and_leaves_no_file(full_practice, media):
    data = _export(full_practice)
    # letters.csv names a milestone that is not in milestones.csv.
    source = zipfile.ZipFile(io.BytesIO(data))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as out:
        for name in source.namelist():
            content = source.read(name)
            if name == "letters.csv":
                header, row = content.decode().split("\r\n")[:2]
                cells = next(csv.reader([row]))
                cells[header.split(",").index("event_id")] = "999999"
                line = io.StringIO()
                csv.writer(line, lineterminator="\r\n").writerow(cells)
                content = f"{header}\r\n{line.getvalue()}".encode()
            out.writestr(name, content)
    empty = PracticeFactory(slug="fresh")
    files_before = sorted(p for p in media.rglob("*") if p.is_file())
    with practice_scope(empty), pytest.raises(ImportRefused, match="letters.csv line 2"):
        import_practice(empty, io.BytesIO(broken.getvalue()))
    assert set(_counts(empty).values()) == {0}
    assert sorted(p for p in media.rglob("*") if p.is_file()) == files_before


def test_not_a_zip_is_refused_clearly(practice):
    with practice_scope(practice), pytest.raises(ImportRefused, match="not a zip"):
        import_practice(practice, io.BytesIO(b"name,dob\n"))


def test_export_and_import_commands_round_trip(full_practice, tmp_path):
    before = _counts(full_practice)
    out = tmp_path / "lakeside.zip"
    stdout = io.StringIO()
    call_command("export_practice", str(out), practice="lakeside", stdout=stdout)
    assert "Exported lakeside" in stdout.getvalue()
    PracticeFactory(slug="fresh")
    call_command("import_practice", str(out), practice="fresh", stdout=io.StringIO())
    with scopes_disabled():
        fresh = type(full_practice).objects.get(slug="fresh")
    after = _counts(fresh)
    # The zip was written before the export's own audit entry; the import adds one entry
    # of its own in the new practice.
    assert after == {**before, "audit_log": before["audit_log"] + 1}
    with practice_scope(full_practice):
        assert AuditEntry.objects.filter(action="exported", object_type="practice_export").count()
    with pytest.raises(CommandError, match="already has data"):
        call_command("import_practice", str(out), practice="fresh")


def test_export_command_refuses_an_unknown_practice(db, tmp_path):
    with pytest.raises(CommandError, match="No practice has the slug 'nope'"):
        call_command("export_practice", str(tmp_path / "x.zip"), practice="nope")


# --- the page ---------------------------------------------------------------------------


def test_only_an_admin_may_open_the_export_page(client, full_practice, coordinator_user):
    client.force_login(coordinator_user)
    assert client.get("/settings/export/").status_code == 403


def test_the_page_queues_an_export_that_a_worker_builds(
    admin_client, full_practice, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post("/settings/export/")
    assert response.status_code == 302
    assert len(callbacks) == 1  # the task is queued after the commit
    with practice_scope(full_practice):
        job = ExportJob.objects.get(requested_by__isnull=False)
        assert job.status == ExportStatus.QUEUED
        assert AuditEntry.objects.filter(action="exported", object_type="exportjob").exists()
    page = admin_client.get("/settings/export/").content.decode()
    assert 'data-testid="export-progress"' in page
    assert "waiting for a worker" in page
    with practice_scope(full_practice):
        run_export(job.pk)
        job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.size > 0
    page = admin_client.get("/settings/export/").content.decode()
    assert "Your export is ready" in page
    url = f"/settings/export/{job.pk}/download/{download_token(job)}/"
    assert url in page
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="lakeside-export-')
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert "patients.csv" in zf.namelist()
    with practice_scope(full_practice):
        downloaded = AuditEntry.objects.get(action="downloaded", object_type="exportjob")
    assert downloaded.count == sum(v for k, v in job.counts.items() if k != "files")


def test_a_second_request_while_one_runs_finds_the_first(admin_client, full_practice):
    admin_client.post("/settings/export/")
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        assert ExportJob.objects.filter(requested_by__isnull=False).count() == 1


def test_the_progress_card_polls_until_the_export_is_done(admin_client, full_practice):
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        job = ExportJob.objects.get(requested_by__isnull=False)
    url = f"/settings/export/{job.pk}/progress/"
    card = admin_client.get(url, headers={"HX-Request": "true"})
    assert card.status_code == 200 and b"Preparing the export" in card.content
    with practice_scope(full_practice):
        run_export(job.pk)
    done = admin_client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 204 and done["HX-Redirect"] == "/settings/export/"


def test_the_link_expires_and_the_file_goes(admin_client, full_practice, media):
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        job = ExportJob.objects.get(requested_by__isnull=False)
        run_export(job.pk)
        job.refresh_from_db()
    token = download_token(job)
    url = f"/settings/export/{job.pk}/download/{token}/"
    stored = media / job.file.name
    assert stored.exists()
    # The signed link itself stops working after 24 hours...
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert not token_matches(job, token)
    # ...and so does the export, whatever the link says.
    with practice_scope(full_practice):
        ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now())
    gone = admin_client.get(url)
    assert gone.status_code == 410 and b"This export has expired" in gone.content
    admin_client.get("/settings/export/")  # the page deletes expired files
    assert not stored.exists()
    with practice_scope(full_practice):
        job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED


def test_a_forged_or_foreign_token_is_a_404(admin_client, full_practice):
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        job = ExportJob.objects.get(requested_by__isnull=False)
        run_export(job.pk)
    assert admin_client.get(f"/settings/export/{job.pk}/download/forged/").status_code == 404
    other = PracticeFactory(slug="elsewhere")
    with practice_scope(other):
        foreign = ExportJob.objects.create(practice=other)
    token = download_token(foreign)
    assert admin_client.get(f"/settings/export/{job.pk}/download/{token}/").status_code == 404


def test_settings_page_links_the_export_for_admins_only(
    admin_client, client, full_practice, front_desk_user
):
    assert b'data-testid="export-link"' in admin_client.get("/settings/").content
    client.force_login(front_desk_user)
    assert b'data-testid="export-link"' not in client.get("/settings/").content


def test_a_practice_exported_deleted_and_reimported_comes_back_with_the_same_counts(
    full_practice, media, tmp_path
):
    """The issue's own check: export, delete_practice, create it again, import_practice."""
    before = _counts(full_practice)
    archive = tmp_path / "lakeside.zip"
    call_command("export_practice", str(archive), practice="lakeside", stdout=io.StringIO())
    call_command("delete_practice", slug="lakeside", yes=True, stdout=io.StringIO())
    assert not (media / "private" / str(full_practice.pk)).exists()

    call_command(
        "create_practice",
        "Lakeside Oral Surgery",
        slug="lakeside",
        admin_email="admin1@rls.test",
        stdout=io.StringIO(),
    )
    with scopes_disabled():
        reborn = type(full_practice).objects.get(slug="lakeside")
    written_since = _counts(reborn)["audit_log"]  # by create_practice itself
    call_command("import_practice", str(archive), practice="lakeside", stdout=io.StringIO())

    after = _counts(reborn)
    # + the import's own entry
    assert after == {**before, "audit_log": before["audit_log"] + written_since + 1}
    with practice_scope(reborn):
        assert Letter.objects.get().pdf.read() == b"lakeside communications.Letter"


def test_the_task_builds_the_export_in_its_practice_scope(full_practice, media):
    from portability.tasks import build_practice_export

    with practice_scope(full_practice):
        job = ExportJob.objects.create(practice=full_practice)
    build_practice_export.apply(args=[full_practice.pk, job.pk]).get()
    build_practice_export.apply(args=[full_practice.pk, job.pk]).get()  # delivered twice
    with practice_scope(full_practice):
        job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    assert job.counts["patients"] == _counts(full_practice)["patients"]
    assert (media / job.file.name).read_bytes()[:2] == b"PK"  # a zip


def test_the_hourly_task_deletes_expired_exports_of_every_practice(
    full_practice, other_practice, media
):
    from portability.tasks import build_practice_export, expire_practice_exports

    jobs = []
    for p in (full_practice, other_practice):
        with practice_scope(p):
            job = ExportJob.objects.create(practice=p)
        build_practice_export.apply(args=[p.pk, job.pk]).get()
        with practice_scope(p):
            job.refresh_from_db()
        jobs.append(job)
    stored = [media / job.file.name for job in jobs]
    assert all(path.exists() for path in stored)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert expire_practice_exports.apply().get() == 2
    for p, job in zip((full_practice, other_practice), jobs, strict=True):
        with practice_scope(p):
            job.refresh_from_db()
        assert job.status == ExportStatus.EXPIRED and not job.file
    assert not any(path.exists() for path in stored)


def test_a_build_that_lost_its_worker_fails_and_a_new_one_can_be_asked_for(
    admin_client, full_practice
):
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        job = ExportJob.objects.get(requested_by__isnull=False)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportStatus.RUNNING, started_at=timezone.now() - dt.timedelta(hours=3)
        )
    page = admin_client.get("/settings/export/").content.decode()
    assert "The export failed" in page and "stopped before it was finished" in page
    admin_client.post("/settings/export/")
    with practice_scope(full_practice):
        assert ExportJob.objects.filter(status=ExportStatus.QUEUED).count() == 1


def test_a_file_lost_from_the_storage_does_not_cost_the_export(full_practice, media):
    with practice_scope(full_practice):
        letter = Letter.objects.get()
    (media / letter.pdf.name).unlink()
    data = _export(full_practice)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["missing_files"] == [f"letters/{letter.pk}.pdf"]
    assert manifest["counts"]["files"] == 1
    empty = PracticeFactory(slug="fresh")
    with practice_scope(empty):
        counts = import_practice(empty, io.BytesIO(data))
        assert not Letter.objects.get().pdf
    assert counts["letters"] == 1 and counts["files"] == 1
