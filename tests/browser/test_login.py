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


def test_a_user_of_two_practices_picks_one_and_switches_from_the_header(
    page, live_server, practice, other_practice, screenshot
):
    from django_scopes import scopes_disabled

    from practices.models import Role
    from tests.conftest import totp_code
    from tests.factories import MembershipFactory, UserFactory

    with scopes_disabled():
        user = UserFactory(email="roams@group.test")
        MembershipFactory(practice=practice, user=user, role=Role.COORDINATOR)
        MembershipFactory(practice=other_practice, user=user, role=Role.ADMIN)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    # An administrator of one of them: the second factor comes with the login.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/authenticate/")
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server.url}/practice/")
    expect(page.get_by_role("heading", name="Choose a practice")).to_be_visible()
    screenshot("picker")

    page.get_by_role("button", name="Hilltop Oral Surgery").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text("Hilltop Oral Surgery")

    # The header switcher submits on change (no button needed with JavaScript).
    page.get_by_test_id("practice-switcher").select_option(label="Lakeside Oral Surgery")
    expect(page.get_by_test_id("practice-name")).to_have_text("Lakeside Oral Surgery")
    screenshot("switched")


def test_a_new_admin_logs_in_with_the_one_time_password_and_changes_it(
    page, live_server, screenshot
):
    import re
    from io import StringIO

    from django.core.management import call_command

    from tests.conftest import totp_code

    out = StringIO()
    call_command(
        "create_practice", "Harbor Oral Surgery", "--admin-email=lead@harbor.test", stdout=out
    )
    password = re.search(r"One-time password: (\S+)", out.getvalue()).group(1)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("lead@harbor.test")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # A practice administrator sets up two-factor before anything else.
    page.wait_for_url(f"{live_server.url}/accounts/2fa/totp/activate/")
    secret = page.get_by_test_id("totp-secret").input_value()
    page.get_by_label("Code from the app").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor").click()
    page.wait_for_url(f"{live_server.url}/accounts/2fa/recovery-codes/")
    page.get_by_test_id("recovery-codes-continue").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("practice-name")).to_have_text("Harbor Oral Surgery")

    page.goto(f"{live_server.url}/account/password/")
    page.get_by_label("Old password").fill(password)
    page.get_by_label("New password", exact=True).fill("granite-Harbor-73")
    page.get_by_label("New password confirmation").fill("granite-Harbor-73")
    screenshot("password-form")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    screenshot("password-changed")
