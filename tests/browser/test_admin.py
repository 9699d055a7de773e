import pytest
from django.contrib.auth.models import Permission
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from practices.models import Role
from practices.scoping import practice_scope
from tests.conftest import totp_code
from tests.factories import MembershipFactory, OfficeFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_staff_find_an_office_in_the_admin_of_their_practice(
    page, live_server, practice, other_practice, screenshot
):
    with scopes_disabled():
        staff = UserFactory(email="support@lakeside.test", is_staff=True)
        MembershipFactory(practice=practice, user=staff, role=Role.ADMIN)
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["practices", "referrals"])
    )
    with practice_scope(practice):
        OfficeFactory(practice=practice, name="Cedar Family Dental", zip_code="60601")
        OfficeFactory(practice=practice, name="Birch Dental Group")
    with practice_scope(other_practice):
        OfficeFactory(practice=other_practice, name="Cedar Smiles (theirs)", zip_code="60601")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-42")
    page.get_by_role("button", name="Log in").click()
    # The admin has no login of its own: the same login, with the second factor.
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("admin-practice")).to_contain_text("Lakeside Oral Surgery")
    page.get_by_role("link", name="Referring offices").first.click()
    page.get_by_role("textbox").first.fill("60601")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Cedar Family Dental")).to_be_visible()
    expect(page.get_by_text("Cedar Smiles (theirs)")).to_have_count(0)
    expect(page.get_by_text("Birch Dental Group")).to_have_count(0)
    screenshot("office-search")
    page.get_by_role("link", name="Cedar Family Dental").click()
    expect(page.get_by_role("heading", name="Providers")).to_be_visible()
    screenshot("office-change")
