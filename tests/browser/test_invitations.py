"""An admin invites a person from the Team page; the person opens the emailed link in a
fresh browser, sets a password and lands in the practice. The link then works no more."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS
from tests.smtp import serve_smtp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


def test_an_invited_person_accepts_in_a_fresh_browser(
    login,
    admin_user,
    practice,
    live_server,
    new_context,
    smtp_server,
    settings,
    screenshot,
    shoot_other,
):
    settings.SITE_URL = live_server.url
    page = login(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_test_id("team-link").click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email").fill("rosa@lakeside.test")
    form.get_by_label("Role").select_option(label="Front desk")
    form.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to rosa@lakeside.test.")).to_be_visible()
    expect(
        page.locator('[data-testid="invitation-row"][data-email="rosa@lakeside.test"]')
    ).to_be_visible()
    screenshot("1-invited")

    [message] = smtp_server.messages
    assert message["To"] == "rosa@lakeside.test"
    link = re.search(r"http://\S+/invitations/\S+/", message.get_content()).group(0)

    # A fresh browser: no cookie of the admin's.
    fresh = new_context()
    invitee = fresh.new_page()
    invitee.goto(link)
    expect(invitee.get_by_test_id("invitation-summary")).to_contain_text(
        "invites rosa@lakeside.test to join Lakeside Oral Surgery as Front desk"
    )
    shoot_other(invitee, "2-link-opened")
    invitee.get_by_label("First name").fill("Rosa")
    invitee.get_by_label("Last name").fill("Diaz")
    invitee.get_by_label("Password", exact=True).fill("lantern-Orchard-58")
    invitee.get_by_label("Password again").fill("lantern-Orchard-58")
    invitee.get_by_role("button", name="Set password and join").click()
    invitee.wait_for_url(f"{live_server.url}/")
    expect(invitee.get_by_text("Welcome to Lakeside Oral Surgery.")).to_be_visible()
    expect(invitee.get_by_test_id("practice-name")).to_have_text("Lakeside Oral Surgery")
    shoot_other(invitee, "3-landed")

    # The link worked once.
    invitee.goto(link)
    expect(invitee.get_by_test_id("invitation-unusable")).to_contain_text("already accepted")
    shoot_other(invitee, "4-used-link")
    fresh.close()

    page.reload()
    row = page.locator('[data-testid="member-row"][data-email="rosa@lakeside.test"]')
    expect(row).to_contain_text("Rosa Diaz")
    expect(page.get_by_test_id("no-invitations")).to_be_visible()
    screenshot("5-member-listed")


@pytest.fixture
def shoot_other(request):
    """Like ``screenshot``, for a page of another browser context."""

    def take(other_page, name):
        folder = ARTIFACTS / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        other_page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def test_admin_changes_a_role_and_deactivates_with_htmx(
    login, admin_user, front_desk_user, practice, live_server, screenshot
):
    page = login(admin_user)
    page.goto(f"{live_server.url}/settings/team/")
    row = page.locator('[data-testid="member-row"][data-email="desk@lakeside.test"]')
    row.get_by_label("Role of desk@lakeside.test", exact=True).select_option(label="Coordinator")
    row.get_by_role("button", name="Save role of desk@lakeside.test").click()
    expect(page.get_by_text("desk@lakeside.test is now Coordinator.")).to_be_visible()
    screenshot("1-role-changed")

    row.get_by_role("button", name="Deactivate desk@lakeside.test").click()
    expect(page.get_by_text("desk@lakeside.test is deactivated and logged out.")).to_be_visible()
    expect(row).to_contain_text("Deactivated")
    screenshot("2-deactivated")

    me = page.locator('[data-testid="member-row"][data-email="admin@lakeside.test"]')
    me.get_by_role("button", name="Deactivate admin@lakeside.test").click()
    expect(page.get_by_text("last active administrator")).to_be_visible()
    screenshot("3-last-admin")
