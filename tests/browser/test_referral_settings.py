"""Settings → Referrals in a real browser: an administrator finds the page from Settings, a
bad value comes back with its message, a good one is saved, and the GP's online form and
the worklist show the new numbers."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_sets_the_promise_and_the_stuck_thresholds(
    page, login, admin_user, practice, live_server, screenshot
):
    login(admin_user)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_test_id("referral-settings-link").click()
    expect(page.get_by_role("heading", name="Referrals", exact=True)).to_be_visible()
    expect(page.get_by_label("Routine")).to_have_value("2")
    expect(page.get_by_label("Consult not scheduled after")).to_have_value("7")
    screenshot("1-defaults")

    page.get_by_label("Soon").fill("6")
    page.get_by_label("Routine").fill("0")
    page.get_by_test_id("save-referral-settings").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_contain_text("Routine: at least 1 business day.")
    expect(page.get_by_test_id("error-online_contact_days_routine")).to_be_visible()
    screenshot("2-errors")

    page.get_by_label("Soon").fill("3")
    page.get_by_label("Routine").fill("5")
    page.get_by_label("Consult not scheduled after").fill("4")
    page.get_by_test_id("save-referral-settings").click()
    expect(page.locator(".messages")).to_contain_text("Referral settings saved")
    expect(page.get_by_label("Routine")).to_have_value("5")
    screenshot("3-saved")

    page.goto(f"{live_server.url}/refer/{practice.slug}/")
    expect(page.get_by_test_id("contact-promise")).to_have_text(
        "We contact the patient within 1 business day for an urgent referral, 3 for a soon "
        "one and 5 for a routine one."
    )
    screenshot("4-online-form")

    page.goto(f"{live_server.url}/cases/")
    expect(page.get_by_text("Received, consult not scheduled for 4+ days")).to_be_visible()
