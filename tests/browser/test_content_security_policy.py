"""The pages with the most script under the strict Content-Security-Policy, in a real
Chromium: the referrer board, an office's chart, the reports' trend charts (Plotly, loaded
on demand, redrawn after an htmx swap), the letter editor's live preview (an srcdoc frame
with the letter's own stylesheet), the intake's typeahead (htmx) and the API docs (Swagger
UI). Each page's policy is strict and everything on it works; any violation the browser
reports fails the test (the ``new_context`` fixture in tests/conftest.py)."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from analytics.nightly import recompute
from practices.scoping import practice_scope
from referrals.models import ReferringOffice

from ..analytics.report_data import NOW, crafted_practice
from ..communications.cases import add_surgeon, walk_case
from ..factories import OfficeFactory
from ..online_referral_helpers import make_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def the_day():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def data(practice):
    with practice_scope(practice):
        crafted_practice(practice)
        walk_case(practice, surgeon=add_surgeon(practice))
        OfficeFactory(practice=practice, name="Maplewood Family Dentistry")
        recompute(practice, dt.date(2026, 11, 14))


def assert_strict_policy(response):
    header = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in header.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["style-src"]
    assert "unsafe-eval" not in header
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


def test_charts_htmx_the_preview_and_the_api_docs_work_under_the_policy(
    login, live_server, practice, admin_user, data, screenshot
):
    page = login(admin_user)

    # The board: server-drawn sparklines, htmx search.
    assert_strict_policy(page.goto(f"{live_server.url}/referrers/health/"))
    expect(page.locator("svg.spark").first).to_be_visible()
    page.get_by_test_id("board-search").fill("birch")
    expect(page).to_have_url(f"{live_server.url}/referrers/health/?q=birch")
    expect(page.get_by_test_id("board-row")).to_have_count(1)
    screenshot("1-board")

    # An office's 24-month chart (Plotly).
    with practice_scope(practice):
        birch = ReferringOffice.objects.get(name="Birch Dental")
    assert_strict_policy(page.goto(f"{live_server.url}/referrers/health/{birch.pk}/"))
    expect(page.locator("#referral-chart .main-svg").first).to_be_visible(timeout=30_000)
    expect(page.locator(".funnel-bar rect").first).to_be_attached()
    screenshot("2-office-chart")

    # The reports: the trend's two charts, then redrawn after htmx swaps in other filters.
    response = page.goto(f"{live_server.url}/reports/?report=rolling-trend")
    assert_strict_policy(response)
    expect(page.locator("#trend-practice-chart .plot-container").first).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("#trend-offices-chart svg.main-svg").first).to_be_visible()
    page.get_by_label("Case type").select_option("implants")
    expect(page.get_by_test_id("report-scope")).to_contain_text("Implants")
    expect(page.locator("#trend-practice-chart svg.main-svg").first).to_be_visible()
    screenshot("3-trend")

    # The letter editor: the preview frame is styled by the letter's own stylesheet.
    assert_strict_policy(page.goto(f"{live_server.url}/settings/letters/consult_completed/"))
    frame = page.frame_locator("[data-testid=preview-frame]")
    sheet = frame.locator(".sheet")
    expect(sheet).to_be_visible()
    # The letter's stylesheet applied (a refused <style> would leave the browser's font).
    font = sheet.evaluate("el => getComputedStyle(el).fontFamily")
    assert "Liberation Serif" in font, font
    page.get_by_label("Letter").fill("Dear {{ recipient.salutation }},\n\nCSP says hello.")
    expect(frame.get_by_text("CSP says hello.")).to_be_visible()
    screenshot("4-letter-preview")

    # The intake's office typeahead (htmx) and its keyboard code (a static file).
    assert_strict_policy(page.goto(f"{live_server.url}/intake/"))
    page.locator("#id_office_q").fill("Maplewood")
    expect(page.locator("#office-results [role=option]").first).to_contain_text("Maplewood")
    screenshot("5-intake-typeahead")

    # The API docs: Swagger UI's start-up script is a file; it renders the operations.
    assert_strict_policy(page.goto(f"{live_server.url}/api/v1/docs/"))
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
    screenshot("6-api-docs")


def test_without_javascript_the_intake_shows_its_hidden_parts(
    new_context, live_server, front_desk_user, screenshot
):
    # The no-script fallback is a stylesheet too: an inline <style> would be refused.
    context = new_context(java_script_enabled=False)
    client = Client()
    client.force_login(front_desk_user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/intake/")
    expect(page.locator("#new-office")).to_be_visible()
    expect(page.locator("#new-doctor")).to_be_visible()


def test_the_behaviours_that_replaced_inline_handlers(
    login, live_server, practice, admin_user, data, screenshot
):
    """static/js/app.js: select-all, copy, confirm (Cancel keeps the form unsent) and a
    list that ticks its own radio button."""
    page = login(admin_user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # The alerts inbox: "Select all" ticks every alert on the page.
    page.goto(f"{live_server.url}/alerts/")
    boxes = page.locator("input[form=bulk-form][name=alert]")
    expect(boxes.first).to_be_visible()
    page.get_by_test_id("select-all").check()
    for box in boxes.all():
        expect(box).to_be_checked()
    screenshot("1-alerts-selected")

    # A new API key: Copy puts it on the clipboard.
    page.goto(f"{live_server.url}/settings/api-keys/")
    page.get_by_label("Name").fill("Dentrix bridge")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_test_id("new-key-value").input_value()
    page.get_by_test_id("copy-key").click()
    expect(page.get_by_test_id("copy-key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    # Revoking asks first; Cancel keeps the key.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("api-key-row").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("api-key-row")).to_contain_text("Active")
    screenshot("2-key-kept")

    # An online referral: picking another office from the list ticks "Another office".
    online = make_submission(practice)
    page.goto(f"{live_server.url}/inbox/{online.pk}/")
    form = page.get_by_test_id("accept-form")
    form.locator("select[name=other_office]").select_option(label="Cedar Dental")
    expect(form.locator("input[name=office][value=other]")).to_be_checked()
    screenshot("3-another-office")
