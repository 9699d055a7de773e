"""The idle warning in a real browser: the page's clock is driven by Playwright
(``page.clock``) and the server's by time-machine, so two minutes pass in a second."""

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from practices.models import PracticeSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECOND = 1000


def test_the_warning_stay_logged_in_and_the_logout(
    page, login, front_desk_user, practice, live_server, screenshot
):
    with scopes_disabled():
        PracticeSettings.objects.update_or_create(
            practice=practice, defaults={"idle_logout_minutes": 2}
        )
    login(front_desk_user)
    page.clock.install()
    # The server's clock runs on, and jumps when the test says (the live server runs in
    # this process, so time-machine moves its clock too).
    with time_machine.travel(dt.datetime.now(dt.UTC), tick=True) as server_clock:
        page.goto(f"{live_server.url}/cases/")
        warning = page.get_by_test_id("idle-warning")
        expect(warning).to_be_hidden()

        page.clock.fast_forward(61 * SECOND)
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("You will be logged out in")
        expect(warning).to_contain_text("seconds")
        stay = warning.get_by_role("button", name="Stay logged in")
        expect(stay).to_be_focused()
        screenshot("1-warning")

        server_clock.shift(dt.timedelta(seconds=61))
        stay.click()
        expect(warning).to_be_hidden()
        screenshot("2-stayed")

        # The keep-alive restarted the two minutes: 61 s later the warning is back ...
        page.clock.fast_forward(61 * SECOND)
        expect(warning).to_be_visible()
        # ... and when the time is up, the page goes to the login page, where the server
        # (two minutes on as well) has ended the session.
        server_clock.shift(dt.timedelta(minutes=2, seconds=5))
        page.clock.fast_forward(62 * SECOND)
        page.wait_for_url(f"{live_server.url}/login/?next=%2Fcases%2F")
        expect(
            page.get_by_text("You were logged out after 2 minutes without activity.")
        ).to_be_visible()
        screenshot("3-logged-out")

    page.goto(f"{live_server.url}/cases/")
    page.wait_for_url(f"{live_server.url}/login/?next=/cases/")


def test_htmx_polling_is_marked_as_background(page, login, front_desk_user, live_server):
    login(front_desk_user)
    page.goto(f"{live_server.url}/cases/")
    with page.expect_request(lambda r: r.url.endswith("/cases/?poll=1")) as polled:
        # A poller like the import's and the recompute's progress fragments.
        page.evaluate(
            """() => {
                const el = document.createElement("div");
                el.setAttribute("hx-get", "/cases/?poll=1");
                el.setAttribute("hx-trigger", "every 1s");
                el.setAttribute("hx-swap", "none");
                document.body.appendChild(el);
                window.htmx.process(el);
            }"""
        )
    assert polled.value.headers.get("x-idle-background") == "1"
    with page.expect_request(lambda r: r.url.endswith("/cases/?click=1")) as clicked:
        page.evaluate(
            """() => {
                const el = document.createElement("button");
                el.setAttribute("hx-get", "/cases/?click=1");
                el.setAttribute("hx-swap", "none");
                document.body.appendChild(el);
                window.htmx.process(el);
                el.click();
            }"""
        )
    assert clicked.value.headers.get("x-idle-background") is None
