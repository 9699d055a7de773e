"""A practice administrator rewrites the consult report letter: sees it previewed live on
a real case, is stopped by a mistyped value, saves, and goes back to the default."""

import pytest
from playwright.sync_api import expect

from practices.scoping import practice_scope

from ..communications.cases import add_surgeon, walk_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def case(practice):
    practice.address = "2200 Lakeshore Drive, Suite 310\nSpringfield, IL 62704"
    practice.phone = "217-555-0100"
    practice.save()
    with practice_scope(practice):
        surgeon = add_surgeon(practice)
        referral, _ = walk_case(practice, surgeon=surgeon)
    return referral


def test_an_administrator_edits_a_letter_with_a_live_preview(
    page, live_server, login, admin_user, case, screenshot
):
    login(admin_user)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Edit letters").click()
    expect(page.get_by_role("heading", name="Letters to referring dentists")).to_be_visible()
    expect(page.get_by_test_id("letter-kinds")).to_contain_text("Default")
    screenshot("1-letter-list")

    page.get_by_role("link", name="Consult completed").first.click()
    expect(page.get_by_role("heading", name="Consult completed letter")).to_be_visible()
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.get_by_text("Jordan Whitfield", exact=True)).to_be_visible()
    expect(frame.get_by_text("Maria Alvarez, DDS, MD")).to_be_visible()
    expect(page.get_by_test_id("preview-subject")).to_have_text(
        "Consultation report for your patient JW"
    )
    screenshot("2-editor-with-preview")

    # Typing updates the preview (debounced), without a reload.
    body = page.get_by_label("Letter")
    body.fill(
        "Dear {{ recipient.salutation }},\n\n"
        "We saw {{ patient.first_name }} today. Findings: {{ consult.findings }}\n\n"
        "Kind regards from the whole team."
    )
    expect(frame.get_by_text("Kind regards from the whole team.")).to_be_visible()
    expect(frame.get_by_text("We saw Jordan today.", exact=False)).to_be_visible()

    # A value that does not exist is named at once, and saving is refused.
    body.press("End")
    body.type(" {{ patient.nickname }}")
    errors = page.get_by_test_id("preview-errors")
    expect(errors).to_contain_text("{{ patient.nickname }} is not a letter variable.")
    screenshot("3-preview-names-the-mistake")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-errors")).to_be_visible()
    expect(page.get_by_test_id("body-errors")).to_contain_text(
        "{{ patient.nickname }} is not a letter variable."
    )

    # Insert a real value with its button instead, and save.
    body = page.get_by_label("Letter")
    body.fill(body.input_value().replace(" {{ patient.nickname }}", " "))
    body.press("End")
    page.get_by_role("button", name="{{ surgeon.name }}").click()
    expect(frame.get_by_text("Kind regards from the whole team. Maria Alvarez")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("“Consult completed” letter saved.")).to_be_visible()
    expect(page.get_by_test_id("wording-state")).to_have_text("Customised")

    # The PDF preview downloads.
    with page.expect_download() as download:
        page.get_by_test_id("pdf-button").click()
    assert download.value.suggested_filename == "preview-consult-completed.pdf"
    screenshot("4-saved")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("reset-button").click()
    expect(page.get_by_text("is back to the default wording")).to_be_visible()
    expect(page.get_by_test_id("wording-state")).to_have_text("Default wording")
    expect(frame.get_by_text("Mesioangular impaction", exact=False)).to_be_visible()
