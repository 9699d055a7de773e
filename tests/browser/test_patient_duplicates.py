"""Marking two patients as not duplicates in a real browser: the patient page warns of two
lookalikes; "Not the same person" on one removes that pair, the other stays, and the pair is
gone from the other patient's page too."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from practices.scoping import practice_scope
from tests.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_front_desk_tells_two_patients_apart(
    page, login, front_desk_user, practice, live_server, screenshot
):
    born = dt.date(1988, 3, 9)
    with practice_scope(practice):
        jordan = PatientFactory(
            practice=practice, first_name="Jordan", last_name="Lee", date_of_birth=born,
            phone="555-010-2030",
        )  # fmt: skip
        namesake = PatientFactory(
            practice=practice, first_name="Jordan", last_name="Lee", date_of_birth=born, phone=""
        )
        PatientFactory(
            practice=practice, first_name="Sam", last_name="Okafor", phone="(555) 010-2030"
        )
    login(front_desk_user)
    page.goto(f"{live_server.url}/patients/{jordan.pk}/")
    warning = page.get_by_test_id("patient-duplicates")
    expect(warning).to_contain_text("2 other patients may be the same person")
    rows = warning.get_by_test_id("patient-duplicate")
    expect(rows).to_have_count(2)
    screenshot("1-two-lookalikes")

    rows.filter(has_text="same name and date of birth").get_by_role(
        "button", name="Not the same person"
    ).click()
    expect(page.locator(".messages")).to_contain_text(
        f"Marked as different people: patient #{namesake.pk} is no longer suggested."
    )
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Okafor, Sam")
    screenshot("2-one-left")

    page.goto(f"{live_server.url}/patients/{namesake.pk}/")
    expect(page.get_by_test_id("patient-name")).to_have_text("Jordan Lee")
    expect(page.get_by_test_id("patient-duplicates")).to_have_count(0)
    screenshot("3-namesake-no-warning")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/patients/{jordan.pk}/")
    expect(rows).to_have_count(1)
    screenshot("4-phone")
