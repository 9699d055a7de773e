"""The import's main flow in a real browser: upload a CSV, read the preview and its error,
import only the valid rows, read the summary; and the progress bar of a large file."""

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from practices.scoping import practice_scope
from referrals.choices import ImportStatus
from referrals.models import ImportJob, Referral

from ..test_import_csv import GOOD_ROWS, csv_bytes, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_preview_with_an_error_import_valid_rows_and_see_the_summary(
    login, admin_user, practice, live_server, screenshot
):
    data = csv_bytes(*GOOD_ROWS, row(chart_number="C900", case_type="veneers"))
    page = login(admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    expect(page.get_by_role("heading", name="Import referral history")).to_be_visible()
    screenshot("1-upload")

    page.get_by_label("Export file").set_input_files(
        files=[{"name": "dentrix-export.csv", "mimeType": "text/csv", "buffer": data}]
    )
    page.get_by_role("button", name="Upload", exact=True).click()

    expect(page.get_by_test_id("import-status")).to_have_text("Errors found")
    expect(page.get_by_role("heading", name="1 of 6 rows have errors")).to_be_visible()
    expect(page.get_by_test_id("import-all")).to_be_disabled()
    errors = page.get_by_test_id("errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr").first).to_contain_text("7")
    expect(errors.locator("tbody tr").first).to_contain_text("case_type")
    expect(errors).to_contain_text("case_type 'veneers' is not known")
    preview = page.get_by_test_id("preview")
    expect(preview.locator("tbody tr")).to_have_count(6)
    expect(preview.locator("tr[data-line='2']")).to_contain_text("Surgery completed")
    expect(preview.locator("tr[data-line='2']")).to_contain_text("new office")
    expect(preview.locator("tr[data-line='7']")).to_contain_text("Skip")
    expect(page.get_by_test_id("referrals-created")).to_have_text("5")
    screenshot("2-preview-with-error")

    page.get_by_test_id("import-valid-only").click()

    expect(page.get_by_test_id("import-status")).to_have_text("Imported")
    summary = page.get_by_test_id("import-summary")
    expect(summary.get_by_role("heading", level=2)).to_have_text("Imported 5 referrals from 6 rows")
    expect(page.get_by_test_id("events-created")).to_have_text("13")
    expect(page.get_by_test_id("patients-created")).to_have_text("4")
    expect(page.get_by_test_id("offices-created")).to_have_text("2")
    expect(page.get_by_test_id("providers-created")).to_have_text("3")
    expect(page.get_by_test_id("rows-rejected")).to_have_text("1")
    expect(page.get_by_role("heading", name="Rejected rows (not imported)")).to_be_visible()
    screenshot("3-summary")
    with practice_scope(practice):
        assert Referral.objects.filter(is_historical=True).count() == 5

    page.goto(f"{live_server.url}/imports/")
    expect(page.get_by_test_id("import-list")).to_contain_text("dentrix-export.csv")
    screenshot("4-list")


@override_settings(IMPORT_SYNC_MAX_ROWS=2)
def test_a_large_file_shows_a_progress_bar_that_polls_until_done(
    login, admin_user, practice, live_server, screenshot
):
    """No worker runs here: the test plays the worker's part, checking in steps, while the
    page polls the progress fragment every second."""
    from referrals import tasks

    page = login(admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Export file").set_input_files(
        files=[{"name": "big.csv", "mimeType": "text/csv", "buffer": csv_bytes(*GOOD_ROWS)}]
    )
    # The upload queues the check on the broker; nothing consumes it here.
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_test_id("import-progress")).to_contain_text("Checking rows")
    with practice_scope(practice):
        job = ImportJob.objects.get()
        job.status, job.processed_rows, job.total_rows = ImportStatus.VALIDATING, 2, 5
        job.save()
    expect(page.get_by_test_id("progress-percent")).to_have_text("40%")
    screenshot("1-progress")

    tasks.check_import.apply(args=(practice.pk, job.pk))
    # The fragment sees the check is over and sends the browser to the preview.
    expect(page.get_by_test_id("check-summary")).to_be_visible(timeout=5000)
    expect(page.get_by_test_id("import-status")).to_have_text("Ready to import")
    page.get_by_test_id("import-all").click()
    expect(page.get_by_test_id("import-progress")).to_contain_text("Importing")
    tasks.run_import.apply(args=(practice.pk, job.pk))
    expect(page.get_by_test_id("import-summary")).to_be_visible(timeout=5000)
    screenshot("2-done")
