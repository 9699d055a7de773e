"""Closing the loop with the referring GP: an admin books and records a consult on the case
page, the letters are written and sent (the worker's function, run here, to a real SMTP
server on loopback), the case's delivery log shows them sent, the PDF downloads; then
the admin gives the office a status link, and the GP opens it in a browser of its own
and sees the patient's initials and stage."""

import datetime as dt
import subprocess

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from communications.models import Letter, LetterStatus
from communications.tasks import send_letter
from practices.scoping import practice_scope

from ..communications.letter_cases import make_case
from ..conftest import ARTIFACTS
from ..smtp import serve_smtp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


@pytest.fixture
def case(practice):
    with practice_scope(practice):
        return make_case(practice, first_name="Robin", last_name="Quill")


def send_queued(practice) -> list[str]:
    """What the worker does for each dispatched letter."""
    with practice_scope(practice):
        ids = list(
            Letter.objects.filter(status=LetterStatus.QUEUED)
            .order_by("id")
            .values_list("pk", flat=True)
        )
    return [send_letter.run(practice.pk, pk) for pk in ids]


def test_admin_records_a_consult_and_the_gp_sees_the_letters_and_the_status(
    live_server,
    page,
    new_context,
    login,
    admin_user,
    practice,
    case,
    smtp_server,
    settings,
    screenshot,
    request,
):
    settings.SITE_URL = live_server.url
    folder = ARTIFACTS / request.node.name
    login(admin_user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.get_by_test_id("case-letters")).to_contain_text("No letters yet")

    # Book the consult, then record it: each writes its letter (queued for the worker).
    page.get_by_role("link", name="Schedule consult").click()
    appointment = (timezone.localdate() + dt.timedelta(days=3)).strftime("%Y-%m-%d") + "T09:30"
    page.get_by_label("Consult appointment").fill(appointment)
    page.get_by_role("button", name="Record booking").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Consult scheduled")
    letters = page.get_by_test_id("case-letter")
    expect(letters).to_have_count(1)
    expect(letters.first.get_by_test_id("letter-status")).to_have_text("Queued")
    screenshot("1-consult-booked-letter-queued")

    page.get_by_role("link", name="Consult completed").click()
    page.get_by_label("Findings").fill("Mesioangular impaction of #17 and #32.")
    page.get_by_label("Treatment recommendation").fill("Extraction under IV sedation.")
    page.get_by_role("button", name="Record consult").click()
    expect(page.get_by_test_id("case-status")).to_have_text("Consult completed")
    expect(letters).to_have_count(2)

    # The worker sends them.
    assert send_queued(practice) == ["sent", "sent"]
    assert len(smtp_server.messages) == 2
    page.reload()
    expect(page.get_by_test_id("letter-status")).to_have_text(["Sent", "Sent"])
    expect(page.get_by_test_id("case-loop")).to_have_text("Loop: 2 of 2 letters sent")
    page.get_by_test_id("case-letters").scroll_into_view_if_needed()
    screenshot("2-letters-sent")

    # The consult letter's PDF downloads.
    with page.expect_download() as download_info:
        letters.nth(1).get_by_test_id("letter-pdf").click()
    download = download_info.value
    assert download.suggested_filename.startswith("Consult-completed-RQ-")
    pdf_path = folder / "consult-completed.pdf"
    download.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            str(pdf_path),
            str(folder / "3-pdf"),
        ],
        check=True,
    )

    # The office page: the letters, the loop, and a status link for the GP.
    page.get_by_role("link", name="Maple Street Dental").first.click()
    office_letters = page.get_by_test_id("office-letters")
    expect(office_letters.get_by_test_id("office-letter")).to_have_count(2)
    expect(page.get_by_test_id("office-loop")).to_contain_text("1 of 1")
    page.get_by_test_id("status-link-create").click()
    url = page.get_by_test_id("status-url").input_value()
    assert url.startswith(f"{live_server.url}/status/")
    screenshot("4-status-link-created")
    page.get_by_role("link", name="Back to Maple Street Dental").click()
    expect(page.get_by_test_id("status-link")).to_have_count(1)
    office_letters.scroll_into_view_if_needed()
    screenshot("5-office-letters")

    # The practice-wide letters page, filtered to sent letters.
    page.get_by_test_id("nav-letters").click()
    expect(page.get_by_test_id("letter-row")).to_have_count(2)
    page.get_by_label("Status").select_option("sent")
    expect(page).to_have_url(f"{live_server.url}/letters/?status=sent&kind=&office=&from=&to=")
    expect(page.get_by_test_id("letter-count")).to_have_text("2 letters")
    screenshot("6-letters-page")

    # The GP, in a browser of its own (no login), opens the link.
    gp = new_context()
    try:
        gp_page = gp.new_page()
        gp_page.set_viewport_size({"width": 1100, "height": 700})
        response = gp_page.goto(url)
        assert response.status == 200
        assert "noindex" in response.headers["x-robots-tag"]
        expect(gp_page.get_by_test_id("sp-office")).to_have_text("Maple Street Dental")
        row = gp_page.get_by_test_id("sp-patient")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("RQ")
        expect(row).not_to_contain_text("Quill")
        expect(row.get_by_test_id("sp-stage")).to_have_text("Consult completed")
        expect(row.get_by_test_id("sp-letter")).to_have_count(2)
        gp_page.screenshot(path=str(folder / "7-gp-status-page.png"), full_page=True)
        href = row.get_by_test_id("sp-letter").first.get_attribute("href")
        pdf = gp.request.get(f"{live_server.url}{href}")
        assert pdf.ok and pdf.body().startswith(b"%PDF")
    finally:
        gp.close()
