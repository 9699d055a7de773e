"""Reports in a real browser: the volume report by month, then by quarter (htmx), the CSV
downloaded, the printable PDF opened, the acceptance report and the trend's Plotly chart."""

import csv
import subprocess

import pytest
import time_machine
from playwright.sync_api import expect

from practices.scoping import practice_scope
from tests.analytics.report_data import NOW, crafted_practice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def the_day():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def offices(practice):
    practice.address = "12 Harbor Road\nLakeside, NY 14450"
    practice.phone = "(585) 555-0100"
    practice.save()
    with practice_scope(practice):
        return crafted_practice(practice)


def test_admin_reads_the_volume_by_quarter_downloads_the_csv_and_opens_the_pdf(
    login, live_server, admin_user, offices, screenshot
):
    page = login(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.wait_for_load_state()  # htmx is ready
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.get_by_test_id("report-scope")).to_have_text(
        "Nov 2025 – Oct 2026 · by month · all case types · all sources"
    )
    table = page.get_by_test_id("table-volume")
    expect(table.locator("thead th")).to_have_count(2 + 12 + 1)
    expect(table.locator("tbody tr").first).to_contain_text("Birch Dental")
    screenshot("1-volume-by-month")

    period = page.get_by_label("Period")
    period.focus()
    period.select_option("quarter")
    expect(page.get_by_test_id("report-scope")).to_contain_text("by quarter")
    expect(table.locator("thead th")).to_have_count(2 + 5 + 1)
    expect(table.locator("thead")).to_contain_text("Q1 2026")
    expect(page).to_have_url(
        f"{live_server.url}/reports/?report=referral-volume&start=2025-11&end=2026-10"
        "&period=quarter&case_type=&source_type=&office="
    )
    birch = table.locator("tbody tr").first
    expect(birch.locator("td")).to_have_text(["Doctor (GP)", "2", "3", "0", "1", "1", "7"])
    expect(table.locator("tfoot tr")).to_contain_text("14")
    # The focus stays on the select that was changed (htmx keeps elements with an id).
    expect(period).to_be_focused()
    screenshot("2-volume-by-quarter")

    with page.expect_download() as download_info:
        page.get_by_test_id("download-csv").click()
    download = download_info.value
    assert download.suggested_filename == "referral-volume-2025-11_2026-10.csv"
    with open(download.path(), encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][2:] == [
        "Q4 2025 (Nov 2025 – Dec 2025 only)",
        "Q1 2026",
        "Q2 2026",
        "Q3 2026",
        "Q4 2026 (Oct 2026 only)",
        "Total",
    ]
    assert rows[-1] == ["Total", "", "2", "6", "3", "2", "1", "14"]

    # The printable PDF opens in a new tab.
    pdf_link = page.get_by_test_id("open-pdf")
    expect(pdf_link).to_have_attribute("target", "_blank")
    with (
        page.context.expect_page() as popup_info,
        page.context.expect_event("response", lambda r: ".pdf" in r.url) as response_info,
    ):
        pdf_link.click()
    popup, response = popup_info.value, response_info.value
    assert response.url.startswith(f"{live_server.url}/reports/referral-volume.pdf?")
    assert "period=quarter" in response.url
    assert response.status == 200
    assert response.header_value("content-type") == "application/pdf"
    popup.wait_for_load_state()
    screenshot_of_viewer = popup.screenshot()
    assert screenshot_of_viewer  # Chromium's PDF viewer shows it
    # The viewer hands the page its own wrapper, not the file: fetch the same URL with the
    # same session for the bytes.
    content = page.context.request.get(response.url).body()
    assert content.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    for expected in ["Lakeside Oral Surgery", "12 Harbor Road", "Q1 2026", "Page 1 of 1"]:
        assert expected in text
    artifact = screenshot("2-volume-by-quarter").parent / "3-volume-by-quarter.pdf"
    artifact.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", str(artifact), str(artifact.with_suffix(""))],
        check=True,
    )
    popup.close()


def test_the_acceptance_report_and_the_trend_chart(
    login, live_server, admin_user, offices, screenshot
):
    page = login(admin_user)
    page.goto(f"{live_server.url}/reports/")  # waits for the load event: htmx is ready
    page.get_by_test_id("tab-case-acceptance").click()
    expect(page.get_by_role("heading", name="Case acceptance")).to_be_visible()
    by_office = page.get_by_test_id("table-acceptance-offices")
    expect(by_office.locator("tbody tr").first.locator("td")).to_have_text(
        ["4", "3", "1", "75%", "2", "$5,501"]
    )
    expect(page.get_by_test_id("table-acceptance-sources").locator("tfoot")).to_contain_text(
        "$7,301"
    )
    expect(page).to_have_url(
        f"{live_server.url}/reports/?report=case-acceptance&start=2025-11&end=2026-10&period=month"
    )
    screenshot("1-acceptance")

    page.get_by_test_id("tab-rolling-trend").click()
    expect(page.get_by_role("heading", name="12-month trend")).to_be_visible()
    # Plotly (loaded now, 3.5 MB: a slow machine takes a while) drew both charts.
    expect(page.locator("#trend-practice-chart svg.main-svg").first).to_be_visible(timeout=20_000)
    expect(page.locator("#trend-offices-chart svg.main-svg").first).to_be_visible()
    expect(page.get_by_test_id("table-trend-practice").locator("tbody tr").last).to_contain_text(
        "+250%"
    )
    screenshot("2-trend")

    page.get_by_label("Case type").select_option("implants")
    expect(page.get_by_test_id("report-scope")).to_contain_text("Implants")
    expect(page.locator("#trend-practice-chart svg.main-svg").first).to_be_visible()
    screenshot("3-trend-implants")
