"""What a person sees past a rate limit: the login form and a GP's status page answer with
the 429 page, which says how long to wait (docs/security.md "Rate limits")."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from communications.status_links import create_status_link
from practices.scoping import practice_scope

from ..communications.letter_cases import make_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def test_too_many_logins_show_the_wait(page, live_server, settings, admin_user, screenshot):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    page.goto(f"{live_server.url}/login/")
    for _ in range(2):
        page.get_by_label("Email").fill(admin_user.email)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(admin_user.email)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Too many requests")).to_be_visible()
    expect(page.get_by_text("There were too many login attempts from your network")).to_be_visible()
    expect(page.get_by_test_id("retry-after")).to_have_text("1 minute")
    screenshot("login-429")


def test_a_status_page_opened_too_often_shows_the_wait(
    page, live_server, settings, practice, screenshot
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "status_page": "2/10m"}
    with practice_scope(practice):
        referral = make_case(practice)
        _, token = create_status_link(referral.referring_office)
    for _ in range(2):
        page.goto(f"{live_server.url}/status/{token}/")
        expect(page.get_by_test_id("sp-office")).to_be_visible()
    response = page.goto(f"{live_server.url}/status/{token}/")
    assert response.status == 429 and 0 < int(response.headers["retry-after"]) <= 600
    expect(page.get_by_role("heading", name="Too many requests")).to_be_visible()
    expect(page.get_by_text("This secure status page was opened too many times")).to_be_visible()
    expect(page.get_by_test_id("retry-after")).to_contain_text("minute")
    screenshot("status-page-429")
