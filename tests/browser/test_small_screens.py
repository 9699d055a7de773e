"""The staff pages on a phone and a tablet, the GP-facing pages on a phone (issue 12, item 4).

On a phone (390 px) no page scrolls sideways, the navigation folds behind a Menu button that
opens (by tap or keyboard) and whose links navigate, and a table shows the columns that
matter first. On a tablet held sideways and a laptop the navigation stays on one line, even
for the front desk with a long practice name, a long email and every count showing.
"""

import pytest
import time_machine
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from communications.status_links import create_status_link
from practices.scoping import practice_scope
from referrals.choices import LetterChannel
from referrals.choices import MilestoneKind as K
from referrals.models import Referral

from ..analytics.health_pages import NOW, the_articles_practice
from ..communications.letter_cases import make_case, step
from ..online_referral_helpers import make_submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET_UPRIGHT = {"width": 768, "height": 1024}
TABLET_SIDEWAYS = {"width": 1024, "height": 768}
LAPTOP = {"width": 1366, "height": 768}

# How wide the document is against the window: equal when nothing sticks out sideways.
WIDTHS = "[document.documentElement.scrollWidth, window.innerWidth]"
# The distinct rows the main navigation's links sit on.
NAV_ROWS = "[...new Set([...document.querySelectorAll('.mainnav a')].map(a => a.offsetTop))]"


@pytest.fixture(autouse=True)
def the_day():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def busy_practice(practice):
    """Declining offices with open alerts, a case whose letter waits in the print queue and
    an online referral waiting in the inbox: every count of the navigation shows."""
    offices = the_articles_practice(practice)
    make_submission(practice)
    with practice_scope(practice):
        case = make_case(practice, channel=LetterChannel.FAX)
        step(case, K.CONSULT_SCHEDULED)
        referral = Referral.objects.filter(referring_office=offices["Birch Dental"]).first()
    return {"office": offices["Birch Dental"], "case": case, "referral": referral}


def assert_fits(page, what: str) -> None:
    scroll_width, window_width = page.evaluate(WIDTHS)
    assert scroll_width <= window_width, f"{what}: {scroll_width} px wide in {window_width}"


def test_an_admin_on_a_phone_reads_the_staff_pages_without_sideways_scrolling(
    login, live_server, admin_user, busy_practice, page, screenshot
):
    office, case = busy_practice["office"], busy_practice["case"]
    page.set_viewport_size(PHONE)
    login(admin_user)
    nav = page.get_by_role("navigation", name="Main")
    pages = {
        "board": ("/referrers/health/", "Referrer health"),
        "office-health": (f"/referrers/health/{office.pk}/", office.name),
        "office": (f"/referrers/{office.pk}/", office.name),
        "alerts": ("/alerts/", "Alerts"),
        "case": (f"/cases/{case.pk}/", str(case.patient)),
        "intake": ("/intake/", "New referral"),
        "cases": ("/cases/", "Cases"),
        "letters": ("/letters/", "Letters"),
        "offices": ("/referrers/", "Referring offices"),
    }
    for name, (path, heading) in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
        screenshot(f"390-{name}")
        assert_fits(page, name)
        # The links wait behind the Menu button; the page starts right under the bar.
        expect(page.get_by_test_id("menu-button")).to_be_visible()
        expect(nav).to_be_hidden()

    # The board keeps the office, its status and its trend; the counts step aside.
    page.goto(f"{live_server.url}/referrers/health/")
    heads = page.get_by_test_id("board-table").locator("thead th")
    for shown in ["Office", "Status", "Last 12 months"]:
        expect(heads.filter(has_text=shown)).to_be_visible()
    for folded in ["30 d", "90 d", "Acceptance", "At risk"]:
        expect(heads.filter(has_text=folded)).to_be_hidden()
    expect(page.get_by_test_id("board-row").first).to_contain_text("Declining")


def test_the_phone_menu_opens_by_tap_and_by_keyboard_and_its_links_navigate(
    login, live_server, admin_user, busy_practice, page, screenshot
):
    page.set_viewport_size(PHONE)
    login(admin_user)
    page.goto(f"{live_server.url}/alerts/")
    menu, nav = page.get_by_test_id("menu-button"), page.get_by_role("navigation", name="Main")

    menu.click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Alerts")).to_contain_text("3")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert_fits(page, "the open menu")
    screenshot("390-menu-open")
    nav.get_by_role("link", name="Cases").click()
    expect(page).to_have_url(f"{live_server.url}/cases/")
    expect(nav).to_be_hidden()

    # By keyboard: Enter opens it, Escape closes it and leaves the focus on the button,
    # Tab reaches the first link.
    menu.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Intake")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/intake/")

    # A tap beside the open menu closes it.
    menu.click()
    expect(nav).to_be_visible()
    page.mouse.click(20, 700)
    expect(nav).to_be_hidden()


def test_the_phone_menu_needs_no_javascript(login, live_server, admin_user, page, new_context):
    login(admin_user)
    # The same session in a browser with JavaScript switched off.
    context = new_context(java_script_enabled=False, viewport=PHONE)
    context.add_cookies(page.context.cookies())
    bare = context.new_page()
    bare.goto(f"{live_server.url}/alerts/")
    nav = bare.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    bare.get_by_test_id("menu-button").click()
    nav.get_by_role("link", name="Referrers").click()
    expect(bare).to_have_url(f"{live_server.url}/referrers/health/")
    assert_fits(bare, "the board without JavaScript")


def test_the_settings_pages_and_the_print_queue_fit_a_phone(
    login, live_server, admin_user, busy_practice, page, screenshot
):
    page.set_viewport_size(PHONE)
    login(admin_user)
    pages = {
        "settings": ("/settings/", "Settings"),
        "team": ("/settings/team/", "Team"),
        "letter-editor": ("/settings/letters/consult_completed/", "Consult completed"),
        "audit-log": ("/settings/audit-log/", "Audit log"),
        "print-queue": ("/letters/print-queue/", "Print queue"),
        "inbox": ("/inbox/", "Online referrals"),
        "reports": ("/reports/", "Reports"),
    }
    for name, (path, heading) in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
        screenshot(f"390-{name}")
        assert_fits(page, name)


def test_an_admin_snoozes_an_alert_on_a_phone(
    login, live_server, admin_user, busy_practice, page, screenshot
):
    page.set_viewport_size(PHONE)
    login(admin_user)
    page.goto(f"{live_server.url}/alerts/")
    expect(page.get_by_test_id("alert")).to_have_count(3)
    first = page.get_by_test_id("alert").first
    # The panel opens across the row of buttons, inside the screen.
    first.get_by_test_id("snooze-open").click()
    expect(first.get_by_label("Snooze until")).to_be_visible()
    assert_fits(page, "the open snooze panel")
    screenshot("390-snooze-open")
    first.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.get_by_test_id("done")).to_contain_text("Snoozed until")
    expect(page.get_by_test_id("alert")).to_have_count(2)
    assert_fits(page, "the inbox after snoozing")
    screenshot("390-snoozed")


def test_the_front_desks_navigation_stays_on_one_line_on_a_laptop_and_a_tablet(
    login, live_server, front_desk_user, practice, busy_practice, page, screenshot
):
    # The longest names a practice has: the demo's, and an email of some length.
    practice.name = "Lakeside Oral & Maxillofacial Surgery"
    practice.save()
    with scopes_disabled():
        front_desk_user.email = "frontdesk.scheduling@lakeside-oralsurgery.example"
        front_desk_user.save()
    page.set_viewport_size(LAPTOP)
    login(front_desk_user)
    page.goto(f"{live_server.url}/intake/")
    nav = page.get_by_role("navigation", name="Main")
    expect(page.get_by_test_id("nav-inbox")).to_contain_text("Inbox1")
    expect(page.get_by_test_id("nav-print-queue")).to_contain_text("Print queue1")
    # 1200 px is the narrowest the bar keeps on one row; below, the links get a row of their own.
    narrowest_one_row = {"width": 1200, "height": 768}
    for size, name in [(LAPTOP, "1366"), (narrowest_one_row, "1200"), (TABLET_SIDEWAYS, "1024")]:
        page.set_viewport_size(size)
        expect(nav).to_be_visible()
        expect(page.get_by_test_id("menu-button")).to_be_hidden()
        assert len(page.evaluate(NAV_ROWS)) == 1, f"the navigation wraps at {name} px"
        assert_fits(page, f"intake at {name} px")
        # The account stays reachable, its email cut short rather than the links wrapped.
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect(page.get_by_test_id("practice-switcher")).to_be_visible()
        screenshot(f"{name}-front-desk")

    page.set_viewport_size(TABLET_UPRIGHT)
    expect(page.get_by_test_id("menu-button")).to_be_visible()
    expect(nav).to_be_hidden()
    assert_fits(page, "intake at 768 px")
    screenshot("768-front-desk")


def test_the_gp_pages_and_the_login_fit_a_phone(
    live_server, practice, busy_practice, page, screenshot
):
    with practice_scope(practice):
        _, token = create_status_link(busy_practice["office"])
    page.set_viewport_size(PHONE)
    pages = {
        "login": ("/login/", "Log in"),
        "online-form": (f"/refer/{practice.slug}/", "Refer a patient"),
        "status-page": (f"/status/{token}/", busy_practice["office"].name),
    }
    for name, (path, heading) in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
        screenshot(f"390-{name}")
        assert_fits(page, name)
    expect(page.get_by_test_id("sp-patient").first).to_contain_text("Received")


def test_favicon_ico_leads_the_browser_to_the_icon(live_server, page):
    response = page.request.get(f"{live_server.url}/favicon.ico")
    assert response.ok
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in response.body()
