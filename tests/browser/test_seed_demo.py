"""The demo's printed logins work in a real browser, and its data shows up in the app."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from analytics.nightly import recompute
from communications.models import Letter, LetterStatus
from practices.models import Practice
from practices.scoping import practice_scope
from referrals.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, demo_today
from referrals.models import ReferringOffice
from tests.conftest import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_printed_admin_login_opens_the_seeded_practice(page, live_server, screenshot):
    out = io.StringIO()
    call_command("seed_demo", "--offices", "5", "--years", "1", stdout=out)
    assert "admin@demo.example" in out.getvalue()
    assert DEMO_TOTP_SECRET in out.getvalue()
    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        office = ReferringOffice.objects.order_by("-first_referral_on").first()

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("admin@demo.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # The printed authenticator key, as an authenticator app would use it.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_code(DEMO_TOTP_SECRET))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text(practice.name)
    screenshot("home")

    page.goto(f"{live_server.url}/referrers/")
    expect(page.get_by_text(office.name).first).to_be_visible()
    screenshot("referrers")
    page.goto(f"{live_server.url}/cases/")
    screenshot("cases")


def test_the_demo_board_shows_loop_closure_and_the_letters_their_history(
    page, live_server, screenshot
):
    # The default demo, its history ending yesterday (the letters' loop is measured from now).
    call_command("seed_demo", stdout=io.StringIO())
    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        recompute(practice, demo_today() - dt.timedelta(days=1))
        failing = Letter.objects.filter(status=LetterStatus.FAILED).first().office

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("admin@demo.example")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_code(DEMO_TOTP_SECRET))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/referrers/health/")
    cells = page.get_by_test_id("loop-rate")
    expect(cells.first).to_be_visible()
    texts = cells.all_inner_texts()
    assert len(texts) >= 40
    assert sum(text.strip().endswith("%") for text in texts) >= 0.8 * len(texts)
    screenshot("board")

    page.goto(f"{live_server.url}/letters/")
    expect(page.get_by_test_id("letter-row").first).to_be_visible()
    screenshot("letters")
    page.goto(f"{live_server.url}/letters/?status=failed")
    expect(page.get_by_test_id("letter-row").first).to_contain_text(failing.name)
    expect(page.get_by_test_id("letter-status").first).to_have_text("Failed")
    screenshot("failed-letters")
    page.goto(f"{live_server.url}/alerts/")
    expect(page.get_by_text(f"letter to {failing.name} could not be sent").first).to_be_visible()
    screenshot("alerts")
