"""Referrer health in a real browser: the board, the declining filter, an office's page,
logging a call and acknowledging the office's alert."""

import datetime as dt

import pytest
import time_machine
from playwright.sync_api import expect

from analytics.nightly import recompute
from practices.scoping import practice_scope
from tests.analytics.health_pages import AS_OF, NOW
from tests.analytics.history import add_referrals, month_list
from tests.factories import OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MONTHS = month_list(dt.date(2024, 11, 1), 24)  # Nov 2024 .. Oct 2026
# name -> 24 monthly counts (Nov 2024 .. Oct 2026) and referrals this month (day numbers)
HISTORY = {
    "Maple Street Dental": ([6, 7, 6, 5, 7, 6, 6, 8, 6, 5, 6, 7, 6, 6, 7, 6] + [2] * 8, [10]),
    "Harbor View Family Dental": ([5, 6, 5, 6, 4, 6, 5, 5, 6, 5, 6, 4, 5, 6] + [1] * 10, [3]),
    "Riverside Dental Group": ([4, 5, 3, 4, 5, 4, 4, 3, 5, 4, 4, 5] * 2, [4, 18, 24]),
    "Oak Park Smiles": ([3, 2, 3, 4, 3, 2, 3, 3, 2, 3, 4, 3] * 2, [12]),
    "Lakeview Dentistry": ([2, 3, 2, 2, 3, 2, 3, 2, 2, 3, 2, 2, 3, 2, 2, 3] + [0] * 8, []),
    "Summit Family Dental": ([2, 1, 2, 2, 1, 2, 1, 2, 1, 0, 0, 0] + [0] * 12, []),
    "Cedar Grove Dental": ([0] * 22 + [2, 3], [6, 19]),
}


@pytest.fixture
def health(practice):
    """A practice with a declining office and its neighbours, computed as of AS_OF."""
    with practice_scope(practice):
        offices = {}
        for name, (counts, this_month) in HISTORY.items():
            office = OfficeFactory(practice=practice, name=name, city="Lakeside", state="NY")
            for month, count in zip(MONTHS, counts, strict=True):
                # About two in three referred patients go on to surgery.
                days = [month.replace(day=1 + (k * 27) // max(count, 1)) for k in range(count)]
                add_referrals(office, days, accepted=(2 * count) // 3)
            add_referrals(office, [AS_OF.replace(day=d) for d in this_month])
            offices[name] = office
        recompute(practice, AS_OF)
    return offices


@pytest.fixture(autouse=True)
def the_day():
    with time_machine.travel(NOW, tick=True):
        yield


def test_admin_finds_a_declining_office_logs_a_call_and_acknowledges_the_alert(
    login, live_server, admin_user, health, screenshot
):
    page = login(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrers").click()
    expect(page.get_by_role("heading", name="Referrer health")).to_be_visible()
    expect(page.get_by_test_id("as-of")).to_contain_text("As of Nov 26, 2026")
    expect(page.get_by_test_id("board-row")).to_have_count(len(HISTORY))
    screenshot("1-board")

    page.get_by_test_id("tab-declining").click()
    expect(page).to_have_url(f"{live_server.url}/referrers/health/?status=declining")
    rows = page.get_by_test_id("board-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Maple Street Dental")
    expect(page.get_by_test_id("tab-declining")).to_have_attribute("aria-current", "page")
    screenshot("2-declining")

    # The search keeps the chosen tab (its status travels with the swapped fragment).
    page.get_by_test_id("board-search").fill("maple")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(f"{live_server.url}/referrers/health/?q=maple&status=declining")

    page.get_by_role("link", name="Maple Street Dental").click()
    expect(page.get_by_test_id("office-name")).to_contain_text("Maple Street Dental")
    expect(page.get_by_test_id("office-status")).to_have_text("Declining")
    expect(page.get_by_test_id("office-reason")).to_contain_text("2 a month over the 8 months")
    # Plotly drew it (a 4.8 MB script: give a busy machine time to parse it).
    expect(page.locator("#referral-chart .main-svg").first).to_be_visible(timeout=30_000)
    screenshot("3-detail")

    form = page.get_by_test_id("outreach-form")
    form.get_by_label("Contact").select_option("call")
    form.get_by_label("Outcome").fill("Spoke with Dr. Maple; two implant cases coming")
    form.get_by_label("Follow up on").fill("2026-12-10")
    form.get_by_role("button", name="Log it").click()
    expect(page.get_by_test_id("outreach-logged")).to_have_text("Phone call on Nov 26 logged.")
    entry = page.get_by_test_id("outreach-entry").first
    expect(entry).to_contain_text("Spoke with Dr. Maple; two implant cases coming")
    expect(entry.get_by_test_id("follow-up")).to_have_text("Dec 10, 2026")
    screenshot("4-outreach-logged")

    alert = page.get_by_test_id("alert").first
    expect(alert.get_by_test_id("alert-state")).to_have_text("Open")
    alert.get_by_test_id("acknowledge").click()
    alert = page.get_by_test_id("alert").first
    expect(alert.get_by_test_id("alert-state")).to_have_text("Acknowledged")
    expect(alert).to_contain_text("Alert acknowledged.")
    expect(alert).to_contain_text("acknowledged by")
    screenshot("5-acknowledged")

    page.get_by_role("link", name="← Referrer health").click()
    page.get_by_role("link", name="Outreach plan").click()
    plan = page.get_by_test_id("plan-row").filter(has_text="Maple Street Dental")
    expect(plan).to_contain_text("Phone call")
    expect(plan.get_by_test_id("plan-follow-up")).to_have_text("Dec 10, 2026")
    screenshot("6-outreach-plan")


def test_the_front_desk_sees_health_without_money(login, front_desk_user, health, screenshot):
    page = login(front_desk_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrers").click()
    expect(page.get_by_test_id("board-row")).to_have_count(len(HISTORY))
    expect(page.get_by_test_id("kpi-risk")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("$")
    screenshot("board-front-desk")


def test_a_declining_office_shows_its_evidence_and_the_expected_band(
    login, live_server, admin_user, health, screenshot
):
    page = login(admin_user)
    page.goto(f"{live_server.url}/referrers/health/?status=declining")
    row = page.get_by_test_id("board-row").filter(has_text="Maple Street Dental")
    expect(row.get_by_test_id("row-evidence")).to_contain_text(
        "Since March 2026: 16 referrals where"
    )
    row.get_by_role("link", name="Maple Street Dental").click()
    evidence = page.get_by_test_id("office-evidence")
    expect(evidence).to_contain_text("Since March 2026: 16 referrals where")
    expect(evidence).to_contain_text("were expected (80% band")
    chart = page.locator("#referral-chart")
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=30_000)
    # The band is drawn (a filled area) and named in the legend.
    expect(chart.locator(".legendtext", has_text="Expected (80% band)")).to_be_visible()
    expect(chart.locator("path.js-fill").first).to_be_attached()
    screenshot("1-office-evidence-and-band")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("office-evidence")).to_be_visible()
    expect(chart.locator(".legendtext", has_text="Expected (80% band)")).to_be_visible(
        timeout=30_000
    )
    screenshot("2-office-at-390")
