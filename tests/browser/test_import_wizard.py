"""The import wizard in a real browser: a Dentrix-like export under its own headers goes
through every step without editing the file, imports with a progress bar, and fills the
referrer list; and the same steps without JavaScript, to the preview."""

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from practices.scoping import practice_scope
from referrals import tasks
from referrals.models import ImportJob, Referral, ReferringOffice
from tests.conftest import ARTIFACTS, PASSWORD, fresh_totp_code
from tests.factories import OfficeFactory

from ..test_import_wizard import DENTRIX_ROWS, dentrix_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload_export(page, base_url):
    page.goto(f"{base_url}/imports/new/")
    expect(page.get_by_role("heading", name="Import referral history")).to_be_visible()
    page.get_by_label("Export file").set_input_files(
        files=[
            {
                "name": "dentrix-referrals.csv",
                "mimeType": "text/csv",
                "buffer": dentrix_csv(*DENTRIX_ROWS),
            }
        ]
    )
    page.get_by_role("button", name="Upload", exact=True).click()


def next_step(page):
    page.get_by_test_id("next").click()


@override_settings(IMPORT_SYNC_MAX_ROWS=2)
def test_a_dentrix_export_goes_through_every_step_and_fills_the_referrer_list(
    login, admin_user, practice, live_server, screenshot
):
    with practice_scope(practice):
        OfficeFactory(practice=practice, name="Smile Dental Care, LLC", zip_code="02139")
    page = login(admin_user)
    upload_export(page, live_server.url)

    expect(page.get_by_role("heading", name="The file")).to_be_visible()
    expect(page.get_by_test_id("file-kind")).to_have_text("Text (CSV)")
    expect(page.get_by_test_id("file-delimiter")).to_have_text("comma")
    screenshot("1-file")
    next_step(page)

    expect(page.get_by_role("heading", name="Which column is which?")).to_be_visible()
    row = page.locator("tr[data-column='Referred By']")
    expect(row.locator("select").first).to_have_value("referred_by")
    expect(row).to_contain_text("Smile Dental Care")
    # The "order" of a split name shows only for a patient-name column (JavaScript).
    expect(row.locator(".imp-split")).to_be_hidden()
    screenshot("2-columns")
    next_step(page)

    expect(page.get_by_role("heading", name="What do the values mean?")).to_be_visible()
    screenshot("3-values")
    next_step(page)

    expect(page.get_by_role("heading", name="Dates")).to_be_visible()
    expect(page.get_by_test_id("date-samples")).to_contain_text("2024-01-15")
    # Another format: the conversions show again at once (JavaScript resubmits the form).
    page.get_by_label("Dates in this file are").select_option("dmy")
    expect(page.get_by_test_id("date-samples")).to_contain_text("not a date in this format")
    page.get_by_label("Dates in this file are").select_option("mdy")
    expect(page.get_by_test_id("date-samples")).not_to_contain_text("not a date")
    screenshot("4-dates")
    next_step(page)

    expect(page.get_by_role("heading", name="Referring offices")).to_be_visible()
    expect(page.get_by_test_id("offices-certain")).to_contain_text("Riverside Family Dentistry")
    # The file's "Smile Dental Care" (no ZIP) may be the practice's "…, LLC": asked.
    page.get_by_label("Same as Smile Dental Care, LLC").check()
    screenshot("5-offices")
    next_step(page)

    expect(page.get_by_role("heading", name="Preview", exact=True)).to_be_visible()
    preview = page.get_by_test_id("preview")
    expect(preview.locator("tbody tr")).to_have_count(4)
    expect(preview.locator("tr[data-line='2']")).to_contain_text("Maria Garcia")
    expect(preview.locator("tr[data-line='2']")).to_contain_text("Smile Dental Care, LLC")
    expect(preview.locator("tr[data-line='4']")).to_contain_text("new office")
    screenshot("6-preview")

    page.get_by_test_id("save-preset").get_by_label("Save this mapping as a preset").fill(
        "Dentrix monthly"
    )
    page.get_by_role("button", name="Save preset").click()
    expect(page.locator(".messages")).to_contain_text("Dentrix monthly")

    # Large for this test's settings: the import runs as a Celery job; the test plays the
    # worker while the page polls the progress.
    page.get_by_test_id("import").click()
    expect(page.get_by_test_id("import-progress")).to_be_visible()
    screenshot("7-progress")
    with practice_scope(practice):
        job = ImportJob.objects.get()
    tasks.check_and_import.apply(args=(practice.pk, job.pk, "all_or_nothing"))
    expect(page.get_by_test_id("import-summary")).to_be_visible(timeout=10000)
    expect(page.get_by_test_id("referrals-created")).to_have_text("4")
    screenshot("8-summary")
    with practice_scope(practice):
        assert Referral.objects.filter(is_historical=True).count() == 4

    with practice_scope(practice):
        names = sorted(ReferringOffice.objects.values_list("name", flat=True))
    assert names == ["Riverside Family Dentistry", "Smile Dental Care, LLC"]  # matched, not doubled
    page.goto(f"{live_server.url}/referrers/")
    expect(page.get_by_text("Smile Dental Care, LLC").first).to_be_visible()
    expect(page.get_by_text("Riverside Family Dentistry").first).to_be_visible()
    screenshot("9-referrers")

    page.goto(f"{live_server.url}/imports/")
    expect(page.get_by_test_id("presets")).to_contain_text("Dentrix monthly")
    screenshot("10-list")


def test_the_wizard_works_without_javascript(
    new_context, admin_user, practice, live_server, request
):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def screenshot(name: str):  # of this context's page (the fixture shoots the default one)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(admin_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(fresh_totp_code())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")

    upload_export(page, live_server.url)
    expect(page.get_by_role("heading", name="The file")).to_be_visible()
    next_step(page)
    # Without JavaScript every select shows, the split order too.
    expect(page.get_by_role("heading", name="Which column is which?")).to_be_visible()
    screenshot("1-columns-no-js")
    next_step(page)
    next_step(page)
    page.get_by_label("Dates in this file are").select_option("mdy")
    next_step(page)
    next_step(page)
    expect(page.get_by_role("heading", name="Preview", exact=True)).to_be_visible()
    expect(page.get_by_test_id("preview").locator("tbody tr")).to_have_count(4)
    screenshot("2-preview-no-js")
    context.close()


def test_an_open_dental_grid_with_the_suggested_preset_fills_the_referrer_board(
    login, admin_user, practice, live_server, screenshot
):
    from ..test_import_open_dental import DATA, _us_dates

    # The grid as a US workstation exports it: columns in another order, extra columns,
    # MM/DD/YYYY dates, an unknown birth date as 0001-01-01.
    grid = _us_dates(DATA.decode()).replace("01/01/0001", "0001-01-01").encode()
    page = login(admin_user)
    page.goto(f"{live_server.url}/imports/new/")
    page.get_by_label("Export file").set_input_files(
        files=[{"name": "open-dental-grid.csv", "mimeType": "text/csv", "buffer": grid}]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("heading", name="The file")).to_be_visible()
    next_step(page)

    offer = page.get_by_test_id("preset-offer")
    expect(offer).to_contain_text("the built-in open-dental preset")
    screenshot("od-1-offer")
    offer.get_by_role("button", name="Use it").click()

    expect(page.get_by_role("heading", name="Preview", exact=True)).to_be_visible()
    preview = page.get_by_test_id("preview")
    # Five procedure rows, three cases: each case is shown on its first row's line.
    expect(preview.locator("tbody tr")).to_have_count(3)
    expect(preview.locator("tr[data-line='2']")).to_contain_text("Ann Lee")
    expect(preview.locator("tr[data-line='2']")).to_contain_text("Third molars")
    screenshot("od-2-preview")
    page.get_by_test_id("import").click()

    expect(page.get_by_test_id("import-progress")).to_be_visible()
    with practice_scope(practice):
        job = ImportJob.objects.get()
    tasks.check_and_import.apply(args=(practice.pk, job.pk, "all_or_nothing"))  # the worker
    expect(page.get_by_test_id("import-summary")).to_be_visible(timeout=10000)
    expect(page.get_by_test_id("referrals-created")).to_have_text("3")
    expect(page.get_by_role("heading", name="Imported 3 referrals")).to_contain_text(
        "from 3 cases (the file's procedure rows grouped)"
    )
    screenshot("od-3-summary")
    page.goto(f"{live_server.url}/referrers/")
    expect(page.get_by_text("Smile Dental").first).to_be_visible()
    expect(page.get_by_text("Dr. Tom Brown").first).to_be_visible()
    screenshot("od-4-referrers")
