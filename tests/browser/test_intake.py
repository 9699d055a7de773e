"""The intake by keyboard alone, in a real Chromium."""

import datetime as dt
import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from referrals.choices import CaseType, SourceType
from referrals.models import OfficeEvent, Referral, ReferringOffice

from ..factories import OfficeFactory, PatientFactory, ProviderFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offices(practice):
    maple = OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139")
    ProviderFactory(office=maple, first_name="Alex", last_name="Moreno")
    lee = ProviderFactory(office=maple, first_name="Sam", last_name="Lee")
    OfficeFactory(practice=practice, name="Maplewood Family Dentistry", zip_code="02140")
    OfficeFactory(practice=practice, name="Harbor Smiles", zip_code="02141")
    return maple, lee


def open_intake(login, user, live_server):
    page = login(user)
    page.goto(f"{live_server.url}/intake/")
    # Keystrokes typed before the autofocus lands go nowhere (a flaky CI run showed it).
    expect(page.locator("#id_patient_q")).to_be_focused()
    return page


def wait_for_options(page, list_id):
    expect(page.locator(f"#{list_id} [role=option]").first).to_be_visible()


def test_a_referral_entered_by_keyboard_alone(
    login, live_server, front_desk_user, offices, screenshot
):
    maple, dr_lee = offices
    page = open_intake(login, front_desk_user, live_server)
    kb = page.keyboard

    # The cursor starts in the patient search.
    expect(page.locator("#id_patient_q")).to_be_focused()
    screenshot("1-empty")

    # Nobody found: Tab past the list (nothing highlighted, nothing chosen) to a new patient.
    kb.type("Newpatient")
    expect(page.locator("#patient-option-new")).to_be_visible()
    kb.press("Tab")
    expect(page.locator("#id_first_name")).to_be_focused()
    expect(page.locator("#patient-results")).to_be_hidden()
    kb.type("Riley")
    kb.press("Tab")
    kb.type("Newpatient")
    kb.press("Tab")
    kb.type("07/04/1995")
    kb.press("Tab")
    kb.type("555-777-8888")
    kb.press("Tab")  # chart number: optional
    kb.press("Tab")
    expect(page.locator("#id_source_type")).to_be_focused()
    kb.type("Doc")
    expect(page.locator("#id_source_type")).to_have_value(SourceType.DOCTOR)
    kb.press("Tab")
    expect(page.locator("#id_office_q")).to_be_focused()

    # The office from the typeahead: arrow down to it, Enter picks it (and does not save).
    kb.type("maple")
    wait_for_options(page, "office-results")
    expect(page.locator("#office-results [role=option]")).to_have_count(3)
    kb.press("ArrowDown")
    expect(page.locator(f"#office-option-{maple.pk}")).to_have_attribute("aria-selected", "true")
    screenshot("2-typeahead-open")
    kb.press("Enter")
    expect(page.get_by_test_id("office-chip")).to_contain_text("Maple Dental")
    expect(page.locator("#id_referring_provider")).to_be_focused()
    with scopes_disabled():
        assert Referral.objects.count() == 0  # picking saved nothing

    # The doctor: type to pick in the select; then the case.
    kb.type("Dr. S")
    expect(page.locator("#id_referring_provider")).to_have_value(str(dr_lee.pk))
    kb.press("Tab")
    expect(page.locator("#id_case_type")).to_be_focused()
    kb.type("Imp")
    expect(page.locator("#id_case_type")).to_have_value(CaseType.IMPLANTS)
    kb.press("Tab")  # urgency: routine
    kb.press("Tab")
    expect(page.locator("#id_reason")).to_be_focused()
    kb.type("Lower left implant consult")
    kb.press("Enter")

    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    expect(page.get_by_text("First referral from Maple Dental — a new referrer.")).to_be_visible()
    screenshot("4-after-save")
    with scopes_disabled():
        referral = Referral.objects.select_related("patient").get()
        assert referral.patient.first_name == "Riley"
        assert referral.patient.last_name == "Newpatient"
        assert referral.patient.date_of_birth == dt.date(1995, 7, 4)
        assert referral.source_type == SourceType.DOCTOR
        assert referral.referring_office_id == maple.pk
        assert referral.referring_provider_id == dr_lee.pk
        assert referral.case_type == CaseType.IMPLANTS
        assert referral.reason == "Lower left implant consult"
        assert page.url.endswith(f"/cases/{referral.pk}/")
    page.goto(f"{live_server.url}/patients/{referral.patient_id}/")
    expect(page.get_by_test_id("patient-referrals")).to_contain_text("Maple Dental")
    screenshot("6-patient-page")


def test_enter_with_a_list_open_but_nothing_highlighted_saves_and_errors_show_inline(
    login, live_server, front_desk_user, practice, offices, screenshot
):
    maple, _ = offices
    patient = PatientFactory(practice=practice, first_name="Jordan", last_name="Testcase")
    page = open_intake(login, front_desk_user, live_server)
    kb = page.keyboard

    # An existing patient: type, arrow down, Enter picks them and moves on to the source.
    kb.type("testc")
    wait_for_options(page, "patient-results")
    kb.press("ArrowDown")
    kb.press("Enter")
    expect(page.get_by_test_id("patient-chip")).to_contain_text("Testcase, Jordan")
    expect(page.locator("#id_source_type")).to_be_focused()
    kb.type("Doc")
    kb.press("Tab")
    kb.type("maple")
    wait_for_options(page, "office-results")
    # Nothing highlighted: Enter is the save, not a pick. The server refuses it, inline.
    kb.press("Enter")
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_contain_text(
        "Referring office: A doctor or specialist referral needs its referring office."
    )
    expect(summary).to_contain_text("Case type: Choose the case type.")
    # The patient and the typed text survive; the cursor waits in the first field in error.
    expect(page.get_by_test_id("patient-chip")).to_contain_text("Testcase, Jordan")
    expect(page.locator("#id_office_q")).to_be_focused()
    expect(page.locator("#id_office_q")).to_have_value("maple")
    screenshot("3-inline-errors")
    with scopes_disabled():
        assert Referral.objects.count() == 0

    # Recover by keyboard: pick the office (one more letter brings the list back).
    kb.press("End")
    kb.type(" d")
    wait_for_options(page, "office-results")
    kb.press("ArrowDown")
    kb.press("Tab")  # Tab picks the highlighted option too
    expect(page.get_by_test_id("office-chip")).to_contain_text("Maple Dental")
    kb.type("Dr. A")
    kb.press("Tab")
    kb.type("Third")
    # Shift+Enter: save and start the next referral.
    kb.press("Shift+Enter")
    page.wait_for_url(f"{live_server.url}/intake/")
    expect(page.get_by_text("First referral from Maple Dental — a new referrer.")).to_be_visible()
    expect(page.locator("#id_patient_q")).to_be_focused()
    screenshot("5-saved-and-new")
    with scopes_disabled():
        referral = Referral.objects.get()
        assert referral.patient_id == patient.pk
        assert referral.referring_office_id == maple.pk
        assert referral.case_type == CaseType.THIRD_MOLARS
        assert OfficeEvent.objects.filter(office=maple).count() == 1


def test_a_new_office_and_its_doctor_by_keyboard(
    login, live_server, front_desk_user, practice, offices, screenshot
):
    PatientFactory(practice=practice, first_name="Casey", last_name="Known")
    page = open_intake(login, front_desk_user, live_server)
    kb = page.keyboard
    kb.type("known")
    wait_for_options(page, "patient-results")
    kb.press("ArrowDown")
    kb.press("Enter")
    kb.type("Other s")  # "Other specialist"
    kb.press("Tab")
    kb.type("Birch Street")
    expect(page.locator("#office-option-new")).to_be_visible()
    kb.press("ArrowDown")  # the only option: "New office “Birch Street”"
    kb.press("Enter")
    expect(page.locator("#id_new_office_name")).to_be_focused()
    expect(page.locator("#id_new_office_name")).to_have_value("Birch Street")
    expect(page.locator("#id_referring_provider")).to_be_hidden()
    kb.type(" Dentistry")
    kb.press("Tab")
    kb.type("02144")
    kb.press("Tab")
    kb.type("555-0199")
    kb.press("Tab")  # email: optional
    kb.press("Tab")
    expect(page.locator("#id_new_doctor_first_name")).to_be_focused()
    kb.type("Sam")
    kb.press("Tab")
    kb.type("Okafor")
    kb.press("Tab")
    kb.type("Bio")
    screenshot("new-office-filled")
    kb.press("Enter")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    with scopes_disabled():
        office = ReferringOffice.objects.get(name="Birch Street Dentistry")
        referral = Referral.objects.get()
        assert (office.zip_code, office.phone) == ("02144", "555-0199")
        assert referral.referring_office == office
        assert referral.source_type == SourceType.SPECIALIST
        assert str(referral.referring_provider) == "Dr. Sam Okafor"
        assert referral.case_type == CaseType.BIOPSY


def test_a_likely_duplicate_is_flagged_while_typing_and_can_be_used_instead(
    login, live_server, front_desk_user, practice, offices, screenshot
):
    existing = PatientFactory(
        practice=practice,
        first_name="Jordan",
        last_name="Testcase",
        date_of_birth=dt.date(1988, 3, 9),
        phone="555-010-2030",
    )
    page = open_intake(login, front_desk_user, live_server)
    kb = page.keyboard
    kb.press("Tab")
    kb.type("Jordan")
    kb.press("Tab")
    kb.type("Testcase")
    kb.press("Tab")
    kb.type("3/9/1988")
    kb.press("Tab")  # leaving the field asks whether we know this patient already
    warning = page.get_by_test_id("duplicate-warning")
    expect(warning).to_contain_text("same name and date of birth")
    screenshot("duplicate-warning")
    # Keyboard: on past phone and chart number to "Use this patient".
    kb.press("Tab")
    kb.press("Tab")
    expect(warning.get_by_role("button", name="Use this patient")).to_be_focused()
    kb.press("Enter")
    expect(page.get_by_test_id("patient-chip")).to_contain_text("Testcase, Jordan")
    expect(page.locator("#id_source_type")).to_be_focused()
    kb.type("Web")
    kb.press("Tab")
    kb.type("Ext")
    kb.press("Enter")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    with scopes_disabled():
        referral = Referral.objects.get()
        assert referral.patient_id == existing.pk
        assert referral.source_type == SourceType.WEBSITE
        assert referral.referring_office_id is None
