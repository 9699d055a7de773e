"""Settings → Export all data in a real browser: the administrator asks for the export, the
page shows it waiting and being built, then offers the download, and the zip holds the
practice's records and files."""

import csv
import io
import zipfile

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from portability.models import ExportJob
from portability.services import run_export
from practices.models import AuditEntry
from practices.scoping import practice_scope
from tests.factories import OfficeFactory, PatientFactory, ReferralFactory
from tests.practice_data import store_files
from tests.security.test_rls import _fill_practice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_admin_exports_all_data_and_downloads_it(
    login, admin_user, practice, live_server, screenshot, media, page
):
    _fill_practice(practice, 1)
    with scopes_disabled():
        office = OfficeFactory(practice=practice, name="Maple Family Dental")
        for last_name in ("Okafor", "Lindqvist", "Moreau"):
            patient = PatientFactory(practice=practice, last_name=last_name)
            ReferralFactory(practice=practice, patient=patient, referring_office=office)
    store_files(practice)
    with practice_scope(practice):
        ExportJob.objects.all().delete()  # _fill_practice's row: this practice's first export

    login(admin_user)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_test_id("export-link").click()
    expect(page.get_by_role("heading", name="Export all data")).to_be_visible()
    screenshot("1-export-page")

    # No worker runs in this test: the export waits in the queue, and the page says so.
    page.get_by_test_id("export-start").click()
    progress = page.get_by_test_id("export-progress")
    expect(progress).to_contain_text("waiting for a worker")
    expect(page.get_by_test_id("export-start")).to_be_disabled()
    screenshot("2-waiting")

    # A worker builds it (here: the task's service, in the test); the card the page polls
    # sees it done and the page shows the download.
    with practice_scope(practice):
        job = ExportJob.objects.get(requested_by=admin_user)
        run_export(job.pk)
    expect(page.get_by_test_id("export-ready")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("export-counts")).to_contain_text("Patients")
    screenshot("3-ready")

    with page.expect_download() as download_info:
        page.get_by_test_id("export-download").click()
    download = download_info.value
    assert download.suggested_filename.startswith("lakeside-export-")
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as zf:
        names = set(zf.namelist())
        patients = list(csv.DictReader(io.TextIOWrapper(zf.open("patients.csv"), "utf-8")))
        readme = zf.read("README.md").decode()
    assert {"offices.csv", "referrals.csv", "milestones.csv", "audit_log.csv"} <= names
    assert {"Okafor", "Lindqvist", "Moreau"} <= {p["last_name"] for p in patients}
    assert any(n.startswith("letters/") for n in names)
    assert any(n.startswith("attachments/") for n in names)
    assert "# Export of Lakeside Oral Surgery" in readme
    with practice_scope(practice):
        actions = set(
            AuditEntry.objects.filter(object_type="exportjob").values_list("action", flat=True)
        )
    assert actions == {"exported", "downloaded"}
