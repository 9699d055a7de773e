"""The front desk works the print queue: sees the letters for fax and mail offices that
milestones queued, opens a PDF, marks one faxed (in place), marks a batch printed."""

import pytest
from playwright.sync_api import expect

from communications.models import Letter, LetterStatus
from practices.scoping import practice_scope
from referrals.choices import LetterChannel
from referrals.choices import MilestoneKind as K

from ..communications.letter_cases import letters_of, make_case, step
from ..factories import OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queued(practice):
    with practice_scope(practice):
        fax_case = make_case(practice, channel=LetterChannel.FAX)
        step(fax_case, K.CONSULT_SCHEDULED)
        birch = OfficeFactory(
            practice=practice,
            name="Birch Lane Dentistry",
            address="400 Birch Lane",
            city="Shelbyville",
            state="IL",
            zip_code="62565",
            preferred_channel=LetterChannel.MAIL,
        )
        letters = []
        for first, last in (("Casey", "Moss"), ("Drew", "Lind")):
            case = make_case(practice, office=birch, first_name=first, last_name=last)
            step(case, K.CONSULT_COMPLETED)
            letters += letters_of(case)
        return letters_of(fax_case) + letters


def test_the_front_desk_faxes_and_prints_the_queued_letters(
    live_server, page, login, front_desk_user, practice, queued, screenshot
):
    login(front_desk_user)
    expect(page.get_by_test_id("nav-print-queue")).to_contain_text("Print queue3")
    page.get_by_test_id("nav-print-queue").click()
    expect(page.get_by_role("heading", name="Print queue")).to_be_visible()
    rows = page.get_by_test_id("pq-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("tab-fax")).to_contain_text("1")
    screenshot("1-print-queue")

    # The PDF opens (it is what gets printed or faxed).
    pdf_url = rows.first.get_by_test_id("pq-pdf").get_attribute("href")
    pdf = page.request.get(f"{live_server.url}{pdf_url}")
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # The fax tab, and the one fax marked in place.
    page.get_by_test_id("tab-fax").click()
    expect(page).to_have_url(f"{live_server.url}/letters/print-queue/?channel=fax")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("555-0199")
    rows.first.get_by_role("button", name="Mark faxed").click()
    expect(rows.first).to_contain_text("✓ Faxed")
    screenshot("2-marked-faxed")
    # The list refreshes itself: empty, and the letter listed as done.
    expect(page.get_by_test_id("print-queue-empty")).to_be_visible()
    expect(page.get_by_test_id("print-queue-done")).to_contain_text("faxed")

    # The two mail letters, printed as a batch.
    page.get_by_test_id("tab-mail").click()
    expect(rows).to_have_count(2)
    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    page.get_by_role("button", name="Mark ticked letters as sent").click()
    expect(page.get_by_text("2 letters marked as sent.")).to_be_visible()
    expect(page.get_by_test_id("print-queue-empty")).to_be_visible()
    screenshot("3-batch-printed")

    with practice_scope(practice):
        statuses = set(Letter.objects.values_list("status", flat=True))
    assert statuses == {LetterStatus.PRINTED}
