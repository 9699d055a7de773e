"""Two-factor and lockout in a real browser: enrol TOTP on the enrolment page, keep the
recovery codes, log out, log in again with the password and the current code; a locked
account is told why."""

import re

import pytest
from playwright.sync_api import expect

from practices.models import Role
from tests.conftest import PASSWORD, fresh_totp_code, totp_code
from tests.factories import MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_enrols_totp_then_logs_in_with_the_second_factor(
    page, live_server, practice, screenshot
):
    admin = MembershipFactory(practice=practice, role=Role.ADMIN, two_factor=False).user
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The practice requires two-factor of its administrators: enrolment comes first.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(page.get_by_test_id("enrol-required")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    screenshot("enrol")
    page.goto(f"{live_server.url}/intake/")  # nothing else opens before it is done
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")

    secret = page.get_by_test_id("totp-secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    used: set[str] = set()
    page.get_by_label("Code from the app").fill(fresh_totp_code(secret, used))
    page.get_by_role("button", name="Turn on two-factor").click()

    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    codes = page.get_by_test_id("recovery-codes").locator("code")
    expect(codes).to_have_count(10)
    screenshot("recovery-codes")
    page.get_by_test_id("recovery-codes-continue").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text(practice.name)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login/"))

    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    wrong = f"{(int(totp_code(secret)) + 1) % 10**6:06d}"
    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    screenshot("second-step-wrong-code")
    page.get_by_label("Code").fill(fresh_totp_code(secret, used))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text(practice.name)

    page.get_by_test_id("account-two-factor").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/")
    expect(page.get_by_test_id("totp-status")).to_contain_text("On")
    screenshot("two-factor-page")


def test_repeated_failures_lock_the_account_with_a_clear_message(
    page, live_server, front_desk_user, screenshot
):
    page.goto(f"{live_server.url}/login/")
    for attempt in range(5):
        page.get_by_label("Email").fill(front_desk_user.email)
        page.get_by_label("Password").fill(f"wrong-password-{attempt}")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
    expect(
        page.get_by_text(
            "Too many failed logins for this account. Try again in 15 minutes or ask your "
            "practice administrator to unlock it."
        )
    ).to_be_visible()
    screenshot("locked")
    # The right password does not help until the lockout ends or an admin unlocks it.
    page.get_by_label("Email").fill(front_desk_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Too many failed logins for this account.")).to_be_visible()
    assert "/login/" in page.url


def _virtual_authenticator(page):
    """A platform authenticator in Chromium (its DevTools WebAuthn domain): it answers the
    browser's WebAuthn calls as a fingerprint reader would, with the user present."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def test_an_admin_enrols_a_security_key_then_logs_in_with_it(
    page, live_server, practice, screenshot
):
    from practices.two_factor import has_second_factor, has_totp

    admin = MembershipFactory(practice=practice, role=Role.ADMIN, two_factor=False).user
    # The live server's address is http://localhost:<port>, where browsers allow WebAuthn.
    page.goto(f"{live_server.url}/login/")
    _virtual_authenticator(page)
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    page.get_by_test_id("use-security-key-instead").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/webauthn/add/")
    page.get_by_label("Name").fill("Desk fingerprint reader")
    screenshot("add-key")
    page.get_by_role("button", name="Add the key").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    expect(page.get_by_test_id("recovery-codes").locator("code")).to_have_count(10)
    assert has_second_factor(admin) and not has_totp(admin)
    page.get_by_test_id("recovery-codes-continue").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login/"))
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    screenshot("second-step-with-key")
    page.get_by_test_id("use-security-key").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text(practice.name)
