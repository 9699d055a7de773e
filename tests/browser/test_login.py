import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_and_sees_the_practice_home(login, admin_user, practice, screenshot):
    page = login(admin_user)
    expect(page.get_by_test_id("practice-name")).to_have_text(practice.name)
    nav = page.get_by_role("navigation", name="Main")
    for section in ["Intake", "Cases", "Referrers", "Alerts", "Reports", "Settings"]:
        expect(nav.get_by_role("link", name=section)).to_be_visible()
    screenshot("home")
