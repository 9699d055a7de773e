"""The "back in a moment" page in a real browser: the database cannot be reached (asked for
on a port where nothing listens), a GP office opening the referral form sees the 503 page
with the app's look and no traceback; once the database is back, a reload shows the form."""

import socket

import pytest
from django.db import connection
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_an_unreachable_database_shows_back_in_a_moment_then_the_form(
    page, live_server, practice, screenshot
):
    # The live server's thread opens its connections from this same settings dict.
    saved = connection.settings_dict["PORT"]
    connection.settings_dict["PORT"] = closed_port()
    try:
        response = page.goto(f"{live_server.url}/refer/lakeside/")
        assert response.status == 503
        assert response.headers["retry-after"] == "30"
        expect(page.get_by_role("heading", name="Back in a moment")).to_be_visible()
        expect(page.get_by_test_id("unavailable")).to_contain_text("was not saved")
        expect(page.locator("body")).not_to_contain_text("Traceback")
        screenshot("1-back-in-a-moment")
    finally:
        connection.settings_dict["PORT"] = saved

    response = page.reload()
    assert response.status == 200
    expect(page.get_by_role("heading", name="Back in a moment")).to_have_count(0)
    expect(page.locator("form")).to_be_visible()
    screenshot("2-the-form-again")
