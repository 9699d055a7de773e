"""The referring offices flow in a real browser: list, search, office page, merge a
duplicate from the suggestions page, and the survivor with the moved referrals."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from practices.scoping import practice_scope
from referrals.services import ReferralInput, create_referral
from tests.factories import OfficeFactory, PatientFactory, ProviderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def referrals(practice, office, provider, days_ago: list[int]):
    """Through the intake service, so the office history gets its first referral."""
    today = timezone.localdate()
    with practice_scope(practice):
        for days in sorted(days_ago, reverse=True):
            create_referral(
                practice,
                ReferralInput(
                    patient=PatientFactory(practice=practice, first_name="Pat"),
                    source_type="doctor",
                    case_type="third_molars",
                    received_on=today - dt.timedelta(days=days),
                    referring_office=office,
                    referring_provider=provider,
                ),
            )


@pytest.fixture
def offices(practice):
    keep = OfficeFactory(
        practice=practice,
        name="Maple Family Dental",
        zip_code="02139",
        phone="617-555-0142",
        city="Cambridge",
        state="MA",
        email="",
    )
    twin = OfficeFactory(
        practice=practice,
        name="Maple Dental, PC",
        zip_code="02139",
        phone="617-555-0199",
        city="Cambridge",
        state="MA",
        email="front@maple.example",
    )
    referrals(practice, keep, ProviderFactory(practice=practice, office=keep, last_name="Reyes"),
              [3, 20, 45, 120])  # fmt: skip
    referrals(practice, twin, ProviderFactory(practice=practice, office=twin, last_name="Okafor"),
              [10, 200])  # fmt: skip
    for name, zip_code in [
        ("Birch Street Dentistry", "02420"),
        ("Harbor View Dental", "02110"),
        ("Quarry Road Family Dentistry", "02169"),
    ]:
        office = OfficeFactory(practice=practice, name=name, zip_code=zip_code)
        referrals(practice, office, ProviderFactory(practice=practice, office=office), [15])
    return keep, twin


def test_search_open_and_merge_a_duplicate(login, live_server, admin_user, offices, screenshot):
    keep, twin = offices
    page = login(admin_user)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrers").click()
    page.get_by_role("link", name="Manage offices").click()  # Referrers opens referrer health
    expect(page.get_by_role("heading", name="Referring offices")).to_be_visible()
    expect(page.get_by_test_id("office-row")).to_have_count(5)
    screenshot("1-list")

    page.get_by_test_id("office-search").fill("okafor")  # a doctor's name, found with htmx
    expect(page.get_by_test_id("office-row")).to_have_count(1)
    expect(page.get_by_test_id("office-row")).to_contain_text("Maple Dental, PC")
    expect(page).to_have_url(f"{live_server.url}/referrers/?q=okafor&show=active&sort=name&status=")
    screenshot("2-search")

    page.get_by_test_id("office-search").fill("maple")
    expect(page.get_by_test_id("office-row")).to_have_count(2)
    page.get_by_role("link", name="Maple Family Dental").click()
    expect(page.get_by_test_id("office-name")).to_have_text("Maple Family Dental")
    expect(page.get_by_test_id("stat-total")).to_have_text("4")
    expect(page.get_by_test_id("office-duplicates")).to_contain_text("Maple Dental, PC")
    screenshot("3-office")

    page.get_by_role("link", name="← Referring offices").click()
    page.get_by_role("link", name="Possible duplicates").click()
    pair = page.get_by_test_id("duplicate-pair").filter(has_text="Maple Dental, PC")
    expect(pair).to_contain_text("Maple Family Dental")
    screenshot("4-duplicates")
    pair.get_by_role("link", name="Merge…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Merge “Maple Dental, PC” into “Maple Family Dental”?"
    )
    preview = page.get_by_test_id("merge-preview")
    expect(preview).to_contain_text("2 referrals move to")
    expect(preview).to_contain_text("1 doctor moves to")
    expect(preview).to_contain_text("1 history entry moves to")
    expect(page.get_by_test_id("merge-filled")).to_contain_text("front@maple.example")
    screenshot("5-confirm")
    page.get_by_role("button", name="Merge into “Maple Family Dental”").click()

    expect(page).to_have_url(f"{live_server.url}/referrers/{keep.pk}/")
    expect(page.locator(".messages")).to_contain_text(
        "Merged “Maple Dental, PC” into “Maple Family Dental”: 2 referrals, 1 doctor"
    )
    expect(page.get_by_test_id("stat-total")).to_have_text("6")
    expect(page.get_by_test_id("office-referrals").locator("tbody tr")).to_have_count(6)
    expect(page.get_by_test_id("doctor-list")).to_contain_text("Dr. Alex Okafor")
    history = page.get_by_test_id("office-history")
    expect(history).to_contain_text("Merged “Maple Dental, PC”")
    expect(history).to_contain_text("recorded for “Maple Dental, PC”, merged in later")
    expect(page.get_by_text("front@maple.example")).to_be_visible()
    screenshot("6-survivor")

    page.get_by_role("link", name="← Referring offices").click()
    expect(page.get_by_test_id("office-row")).to_have_count(4)
    expect(page.get_by_text("Maple Dental, PC")).to_have_count(0)


def test_editing_an_office_shows_messages_on_the_fields(
    login, live_server, admin_user, offices, screenshot
):
    keep, _twin = offices
    page = login(admin_user)
    page.goto(f"{live_server.url}/referrers/{keep.pk}/edit/")
    page.get_by_label("ZIP").fill("2139")
    page.get_by_label("Phone").fill("555-01")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("error-zip_code")).to_contain_text("A ZIP code is 5 digits")
    expect(page.get_by_test_id("error-phone")).to_contain_text("A phone number has 10 digits")
    expect(page.get_by_test_id("error-email")).to_contain_text("Letters go by email")
    screenshot("edit-errors")
    page.get_by_label("ZIP").fill("02139")
    page.get_by_label("Phone").fill("617-555-0142")
    page.get_by_label("Mail", exact=True).check()  # no email yet: letters go by mail
    page.get_by_label("Address").fill("12 Elm Road")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved “Maple Family Dental”")
    expect(page.get_by_test_id("preferred-channel")).to_have_text("Mail")
