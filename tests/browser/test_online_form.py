"""A GP office refers a patient through the public form with a radiograph; the front desk
accepts it from the inbox and lands on the new case."""

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from practices.scoping import practice_scope
from referrals.choices import SourceType
from referrals.models import Referral, ReferringOffice
from tests.factories import OfficeFactory, PatientFactory, ProviderFactory
from tests.online_referral_helpers import image_bytes, make_submission, pdf_bytes, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def lakeside(practice):
    practice.phone = "(555) 201-3300"
    practice.address = "12 Harbor Road, Lakeside, MA 02139"
    practice.save()
    return practice


def fill_referral(page):
    page.get_by_label("Office name").fill("Maple Family Dental")
    page.get_by_label("Office phone").fill("(555) 010-2030")
    page.get_by_label("Office ZIP code").fill("02139")
    page.get_by_label("Office email").fill("front@maple-dental.example")
    page.get_by_label("Doctor’s first name").fill("Robin")
    page.get_by_label("Doctor’s last name").fill("Smith")
    page.get_by_label("Doctor’s email").fill("dr.smith@maple-dental.example")
    page.get_by_label("Patient’s first name").fill("Jordan")
    page.get_by_label("Patient’s last name").fill("Doe")
    page.get_by_label("Date of birth").fill("1994-03-08")
    page.get_by_label("Patient’s phone").fill("555-010-7788")
    page.get_by_label("Type of case").select_option("third_molars")
    page.get_by_label("Urgency").select_option("soon")
    page.get_by_label("Reason for referral").fill(
        "Impacted #17 and #32, recurrent pericoronitis on the right."
    )


def test_gp_refers_online_and_front_desk_accepts_it(
    page, live_server, lakeside, front_desk_user, login, screenshot
):
    page.goto(f"{live_server.url}/refer/lakeside/")
    expect(page.get_by_test_id("practice-name")).to_have_text("Lakeside Oral Surgery")
    expect(page.get_by_test_id("practice-phone")).to_have_text("(555) 201-3300")
    screenshot("1-public-form")

    fill_referral(page)
    page.locator("#id_attachments").set_input_files(
        {"name": "panoramic.png", "mimeType": "image/png", "buffer": image_bytes("PNG", (320, 160))}
    )
    screenshot("2-public-form-filled")
    page.get_by_role("button", name="Send referral").click()

    confirmation = page.get_by_test_id("confirmation")
    expect(confirmation).to_contain_text("Thank you, Dr. Smith.")
    expect(confirmation).to_contain_text(
        "Lakeside Oral Surgery has received your referral for patient J.D."
    )
    expect(page.get_by_test_id("reference")).to_have_text(re.compile(r"W-\d{6}"))
    expect(confirmation).not_to_contain_text("Jordan")
    screenshot("3-confirmation")

    login(front_desk_user)
    inbox_link = page.get_by_test_id("nav-inbox")
    expect(inbox_link).to_contain_text("1")
    inbox_link.click()
    expect(page.get_by_test_id("inbox-row")).to_have_count(1)
    expect(page.get_by_test_id("inbox-row")).to_contain_text("Maple Family Dental")
    screenshot("4-inbox")

    page.get_by_role("link", name="Review").click()
    expect(page.get_by_test_id("patient-name")).to_have_text("Jordan Doe")
    thumbnail = page.get_by_role("img", name="panoramic.png")
    expect(thumbnail).to_be_visible()
    # The protected view really served the image to the logged-in front desk.
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.thumb').naturalWidth === 320")
    expect(page.get_by_test_id("office-new")).to_be_checked()
    screenshot("5-inbox-item")

    page.get_by_role("button", name="Accept and open the case").click()
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    with scopes_disabled():
        referral = Referral.objects.select_related("referring_office").get()
        attachment_count = referral.attachments.count()
    assert page.url.endswith(f"/cases/{referral.pk}/")
    assert referral.source_type == SourceType.DOCTOR
    assert referral.referring_office.name == "Maple Family Dental"
    assert attachment_count == 1
    expect(page.get_by_text("Maple Family Dental").first).to_be_visible()
    screenshot("6-case")


def test_a_refused_file_is_named_on_the_form(page, live_server, lakeside, screenshot):
    page.goto(f"{live_server.url}/refer/lakeside/")
    fill_referral(page)
    page.locator("#id_attachments").set_input_files(
        {"name": "xray.png", "mimeType": "image/png", "buffer": b"this is only text\n"}
    )
    page.get_by_role("button", name="Send referral").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_contain_text(
        "“xray.png” is not a JPEG, PNG, GIF or TIFF image, a PDF or a DICOM file"
    )
    expect(summary).to_contain_text("please attach them again")
    # What was typed is kept; only the file must be chosen again.
    expect(page.get_by_label("Office name")).to_have_value("Maple Family Dental")
    screenshot("refused-file")


def test_front_desk_sees_matches_for_a_known_office_and_patient(
    page, live_server, lakeside, front_desk_user, login, screenshot
):
    with practice_scope(lakeside):
        office = OfficeFactory(
            practice=lakeside, name="Maple Family Dentistry", phone="555.010.2030", zip_code="02139"
        )
        ProviderFactory(office=office, first_name="Robin", last_name="Smith")
        patient = PatientFactory(
            practice=lakeside,
            first_name="Jordan",
            last_name="Doe",
            date_of_birth=dt.date(1994, 3, 8),
        )
    online = make_submission(lakeside, files=[upload("bitewing.pdf", pdf_bytes())])
    login(front_desk_user)
    page.goto(f"{live_server.url}/inbox/{online.pk}/")
    form = page.get_by_test_id("accept-form")
    expect(form.get_by_role("radio", name=re.compile("^Maple Family Dentistry"))).to_be_checked()
    expect(form.get_by_role("radio", name=re.compile("^Dr. Robin Smith"))).to_be_checked()
    expect(form.get_by_role("radio", name=re.compile("^Jordan Doe.*same name"))).to_be_checked()
    screenshot("item-with-matches")
    form.get_by_role("button", name="Accept and open the case").click()
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    with practice_scope(lakeside):
        referral = Referral.objects.get()
        assert (referral.referring_office_id, referral.patient_id) == (office.pk, patient.pk)
        assert ReferringOffice.objects.count() == 1
