"""The public referral form (no login), its abuse protection, and the front desk's inbox
where a submission is accepted as a case or rejected."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.test import Client
from django_scopes import scopes_disabled

from practices.models import Role
from practices.scoping import practice_scope
from referrals import online_intake
from referrals.choices import MilestoneKind, OnlineReferralStatus, SourceType, Status
from referrals.models import (
    Attachment,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)

from .factories import OfficeFactory, PatientFactory, ProviderFactory
from .online_referral_helpers import (
    form_data,
    image_bytes,
    make_submission,
    pdf_bytes,
    stored_files,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # The rate limit lives in the real cache (Redis in the test run), shared by all tests.
    cache.clear()
    yield
    cache.clear()


def post_form(client, slug="lakeside", files=(), **overrides):
    data = form_data(**overrides)
    if files:
        data["attachments"] = list(files)
    return client.post(f"/refer/{slug}/", data)


# --- the public form -------------------------------------------------------------------


def test_public_form_shows_the_practice_without_login(client, practice):
    practice.phone = "(555) 123-4567"
    practice.save()
    response = client.get("/refer/lakeside/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Refer a patient to Lakeside Oral Surgery" in page
    assert "(555) 123-4567" in page
    assert 'enctype="multipart/form-data"' in page
    assert "csrfmiddlewaretoken" in page


def test_unknown_practice_slug_is_404(client, practice):
    assert client.get("/refer/nowhere/").status_code == 404
    assert post_form(client, slug="nowhere").status_code == 404
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()


def test_submission_with_attachments_lands_in_the_inbox_with_files_stored(
    client, practice, private_media
):
    png, pdf = image_bytes("PNG"), pdf_bytes()
    response = post_form(
        client,
        files=[
            upload("pano.png", png, "image/png"),
            upload("perio chart.pdf", pdf, "application/pdf"),
        ],
    )
    assert response.status_code == 302
    assert response["Location"] == "/refer/lakeside/thanks/"
    with practice_scope(practice):
        online = OnlineReferral.objects.get()
        attachments = list(online.attachments.order_by("original_name"))
    assert online.practice == practice
    assert online.status == OnlineReferralStatus.PENDING
    assert (online.office_name, online.doctor_last_name) == ("Maple Family Dental", "Smith")
    assert (online.patient_first_name, online.patient_last_name) == ("Jordan", "Doe")
    assert online.patient_date_of_birth == dt.date(1994, 3, 8)
    assert online.case_type == "third_molars"
    assert [(a.original_name, a.content_type, a.size) for a in attachments] == [
        ("pano.png", "image/png", len(png)),
        ("perio chart.pdf", "application/pdf", len(pdf)),
    ]
    for attachment, content in zip(attachments, (png, pdf), strict=True):
        # Random names in the practice's private folder; the bytes are what was sent.
        assert attachment.file.name.startswith(f"private/{practice.pk}/attachments/")
        assert "pano" not in attachment.file.name
        with default_storage.open(attachment.file.name) as stored:
            assert stored.read() == content
    assert len(stored_files(private_media)) == 2


def test_confirmation_thanks_the_doctor_and_shows_only_the_patients_initials(client, practice):
    response = post_form(client, urgency="urgent")
    page = client.get(response["Location"]).content.decode()
    with practice_scope(practice):
        online = OnlineReferral.objects.get()
    assert "Thank you, Dr. Smith." in page
    assert "Lakeside Oral Surgery has received your referral for patient J.D." in page
    assert "within 1 business day " in page
    assert f"W-{online.pk:06d}" in page
    for phi in ("Jordan", "Doe", "1994", "555-010-7788", "Impacted"):
        assert phi not in page


def test_confirmation_without_a_submission_goes_back_to_the_form(client, practice):
    response = client.get("/refer/lakeside/thanks/")
    assert response.status_code == 302
    assert response["Location"] == "/refer/lakeside/"


def test_bad_fields_are_named_and_nothing_is_stored(client, practice, private_media):
    response = post_form(
        client,
        files=[upload("pano.png", image_bytes())],
        patient_date_of_birth="",
        office_zip="2139",
        office_email="",
        doctor_email="",
        case_type="",
        office_phone="12345",
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please check the form" in page
    assert "Date of birth</a>: This field is required." in page
    assert "Office ZIP code</a>: Enter a 5-digit ZIP code (or ZIP+4)." in page
    assert "Office phone</a>: Enter a phone number with its area code." in page
    assert "Type of case</a>: This field is required." in page
    assert "Give an email for the office or the doctor" in page
    assert "please attach them again" in page
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()
        assert not Attachment.objects.exists()
    assert stored_files(private_media) == []


def test_date_of_birth_in_the_future_is_refused(client, practice):
    response = post_form(client, patient_date_of_birth="2999-01-01")
    assert "The date of birth cannot be in the future." in response.content.decode()


def test_filled_honeypot_shows_the_confirmation_but_stores_nothing(client, practice, private_media):
    response = post_form(
        client, files=[upload("x.png", image_bytes())], leave_blank="http://spam.example"
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Thank you, Dr. Smith." in page
    assert "Reference number" not in page
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()
        assert not Attachment.objects.exists()
    assert stored_files(private_media) == []


def test_honeypot_is_hidden_from_people(client, practice):
    page = client.get("/refer/lakeside/").content.decode()
    assert '<div class="hp" aria-hidden="true">' in page
    assert 'name="leave_blank"' in page and 'tabindex="-1"' in page


@time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False)
def test_rate_limit_stops_the_sixth_submission_from_one_address(practice):
    office_client, other_client = (
        Client(REMOTE_ADDR="203.0.113.7"),
        Client(REMOTE_ADDR="198.51.100.9"),
    )
    for _ in range(5):
        assert post_form(office_client).status_code == 302
    response = post_form(office_client)
    assert response.status_code == 429
    # The window is ten minutes (RATE_LIMITS["online_referral"] = "5/10m"); Retry-After is
    # what is left of it, and the page says the same in minutes.
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 600
    page = response.content.decode()
    assert "Please wait a few minutes" in page
    minutes = -(-retry_after // 60)
    assert f'try again in <strong data-testid="retry-after">{minutes} minute' in page
    assert "What you just sent was not saved." in page
    with practice_scope(practice):
        assert OnlineReferral.objects.count() == 5
    # Another office is not punished for this one's volume.
    assert post_form(other_client).status_code == 302
    # The limit counts POSTs only: the form still opens.
    assert office_client.get("/refer/lakeside/").status_code == 200


def test_rate_limit_lifts_after_the_window(practice):
    office_client = Client(REMOTE_ADDR="203.0.113.8")
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False) as t:
        for _ in range(5):
            post_form(office_client)
        assert post_form(office_client).status_code == 429
        t.shift(dt.timedelta(minutes=11))
        assert post_form(office_client).status_code == 302
    with practice_scope(practice):
        assert OnlineReferral.objects.count() == 6


def test_the_form_requires_a_csrf_token(practice):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/refer/lakeside/", form_data()).status_code == 403
    with scopes_disabled():
        assert not OnlineReferral.objects.exists()


# --- the inbox -------------------------------------------------------------------------


def test_inbox_lists_only_our_pending_items(
    client, practice, other_practice, front_desk_user, django_assert_max_num_queries
):
    ours = make_submission(
        practice, files=[upload("a.png", image_bytes())], patient_last_name="Ours"
    )
    make_submission(practice, patient_last_name="Urgentcase", urgency="urgent")
    handled = make_submission(practice, patient_last_name="Handled")
    with practice_scope(practice):
        OnlineReferral.objects.filter(pk=handled.pk).update(status=OnlineReferralStatus.REJECTED)
    make_submission(other_practice, patient_last_name="Theirs")
    client.force_login(front_desk_user)
    with django_assert_max_num_queries(12):
        response = client.get("/inbox/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Ours" in page and "Urgentcase" in page
    assert "Handled" not in page.split("<tbody>")[1]
    assert "Theirs" not in page
    # The urgent one first.
    assert page.index("Urgentcase") < page.index("Ours")
    assert f"/inbox/{ours.pk}/" in page
    assert "http://testserver/refer/lakeside/" in page


def test_handled_tab_shows_the_outcome(client, practice, front_desk_user):
    handled = make_submission(practice, patient_last_name="Handled")
    with practice_scope(practice):
        online_intake.reject(handled, reason="Duplicate of a phone referral", by=front_desk_user)
    client.force_login(front_desk_user)
    page = client.get("/inbox/?show=handled").content.decode()
    assert "Handled" in page and "Duplicate of a phone referral" in page


def test_nav_shows_the_pending_count(client, practice, other_practice, front_desk_user):
    make_submission(practice)
    make_submission(practice)
    make_submission(other_practice)
    client.force_login(front_desk_user)
    page = client.get("/inbox/").content.decode()
    assert (
        'data-testid="nav-inbox">Inbox<span class="count" title="online referrals waiting">2<'
        in (page)
    )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COORDINATOR, Role.FRONT_DESK, Role.CLINICIAN])
def test_every_role_may_work_the_inbox(client, practice, role, request):
    user = request.getfixturevalue(
        {
            Role.ADMIN: "admin_user",
            Role.COORDINATOR: "coordinator_user",
            Role.FRONT_DESK: "front_desk_user",
            Role.CLINICIAN: "clinician_user",
        }[role]
    )
    online = make_submission(practice)
    client.force_login(user)
    assert client.get("/inbox/").status_code == 200
    assert client.get(f"/inbox/{online.pk}/").status_code == 200


def test_inbox_needs_a_login(client, practice):
    online = make_submission(practice)
    for url in ("/inbox/", f"/inbox/{online.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    response = client.post(f"/inbox/{online.pk}/accept/", {"office": "new"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_another_practices_item_is_404(client, practice, outsider):
    online = make_submission(practice)
    client.force_login(outsider)
    assert client.get(f"/inbox/{online.pk}/").status_code == 404
    accept = {"office": "new", "provider": "new", "patient": "new"}
    assert client.post(f"/inbox/{online.pk}/accept/", accept).status_code == 404
    assert client.post(f"/inbox/{online.pk}/reject/", {"reject_reason": "x"}).status_code == 404
    assert "Jordan" not in client.get("/inbox/").content.decode()
    with scopes_disabled():
        online.refresh_from_db()
    assert online.status == OnlineReferralStatus.PENDING


def test_item_page_shows_details_and_attachment_links(client, practice, front_desk_user):
    online = make_submission(practice, files=[upload("pano.png", image_bytes())])
    client.force_login(front_desk_user)
    page = client.get(f"/inbox/{online.pk}/").content.decode()
    with practice_scope(practice):
        attachment = Attachment.objects.get()
    assert "Jordan Doe" in page
    assert "Impacted #17 and #32" in page
    assert f'href="/attachments/{attachment.pk}/"' in page
    assert "pano.png" in page
    assert "Create a new office: <strong>Maple Family Dental</strong>" in page


# --- accept and reject -----------------------------------------------------------------


def accept(client, online, follow=False, **choices):
    data = {"office": "new", "provider": "new", "patient": "new", "chart_number": ""}
    data.update(choices)
    return client.post(f"/inbox/{online.pk}/accept/", data, follow=follow)


def test_accepting_creates_a_doctor_referral_with_its_source_and_attachments(
    client, practice, front_desk_user
):
    online = make_submission(
        practice,
        files=[upload("pano.png", image_bytes()), upload("notes.pdf", pdf_bytes())],
        urgency="soon",
    )
    client.force_login(front_desk_user)
    response = accept(client, online, chart_number="C-9001")
    with practice_scope(practice):
        referral = Referral.objects.select_related(
            "referring_office", "referring_provider", "patient"
        ).get()
        office, provider, patient = (
            referral.referring_office,
            referral.referring_provider,
            referral.patient,
        )
        assert response.status_code == 302
        assert response["Location"] == f"/cases/{referral.pk}/"
        assert referral.source_type == SourceType.DOCTOR
        assert (office.name, office.phone, office.zip_code, office.email) == (
            "Maple Family Dental",
            "(555) 010-2030",
            "02139",
            "front@maple-dental.example",
        )
        assert (provider.first_name, provider.last_name, provider.office) == (
            "Robin",
            "Smith",
            office,
        )
        assert provider.email == "dr.smith@maple-dental.example"
        assert (patient.first_name, patient.last_name) == ("Jordan", "Doe")
        assert patient.date_of_birth == dt.date(1994, 3, 8)
        assert patient.chart_number == "C-9001"
        assert (referral.case_type, referral.urgency) == ("third_molars", "soon")
        assert referral.reason == "Impacted #17 and #32, pain on the right side."
        assert referral.status == Status.RECEIVED
        assert referral.created_by == front_desk_user
        assert list(referral.events.values_list("kind", flat=True)) == [MilestoneKind.RECEIVED]
        assert sorted(referral.attachments.values_list("original_name", flat=True)) == [
            "notes.pdf",
            "pano.png",
        ]
        online.refresh_from_db()
        office.refresh_from_db()
        assert office.first_referral_on == referral.received_on
    assert online.status == OnlineReferralStatus.ACCEPTED
    assert online.referral_id == referral.pk
    assert online.reviewed_by == front_desk_user
    assert online.reviewed_at is not None


def test_existing_office_doctor_and_patient_are_suggested_and_not_duplicated(
    client, practice, front_desk_user
):
    with practice_scope(practice):
        office = OfficeFactory(
            practice=practice, name="Maples Family Dentistry", phone="555.010.2030", email=""
        )
        OfficeFactory(practice=practice, name="Oak Family Dental", phone="555-999-0000")
        provider = ProviderFactory(office=office, first_name="Robin", last_name="Smith", email="")
        patient = PatientFactory(
            practice=practice,
            first_name="Jordan",
            last_name="Doe",
            date_of_birth=dt.date(1994, 3, 8),
        )
    online = make_submission(practice)
    client.force_login(front_desk_user)
    page = client.get(f"/inbox/{online.pk}/").content.decode()
    # Same phone (in another format) and a similar name: preselected, with the reasons.
    assert f'name="office" value="{office.pk}" checked' in page
    assert "same phone" in page and "similar name" in page
    assert "Oak Family Dental" not in page.split('name="other_office"')[0]
    assert f'name="provider" value="{provider.pk}" checked' in page
    assert f'name="patient" value="{patient.pk}" checked' in page
    assert "same name and date of birth" in page

    response = accept(client, online, office=office.pk, provider=provider.pk, patient=patient.pk)
    assert response.status_code == 302
    with practice_scope(practice):
        assert ReferringOffice.objects.count() == 2
        assert ReferringProvider.objects.count() == 1
        assert Patient.objects.count() == 1
        referral = Referral.objects.get()
        assert (referral.referring_office, referral.referring_provider, referral.patient) == (
            office,
            provider,
            patient,
        )
        office.refresh_from_db()
        provider.refresh_from_db()
    # What we did not have is filled in from the submission; what we had is kept.
    assert office.email == "front@maple-dental.example"
    assert office.phone == "555.010.2030"
    assert provider.email == "dr.smith@maple-dental.example"


def test_another_office_can_be_picked_from_the_list(client, practice, front_desk_user):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Riverside Dental Arts", phone="555-1")
    online = make_submission(practice)
    client.force_login(front_desk_user)
    response = accept(client, online, office="other", other_office=office.pk)
    assert response.status_code == 302
    with practice_scope(practice):
        referral = Referral.objects.get()
        assert referral.referring_office == office
        assert referral.referring_provider.office == office
        assert ReferringOffice.objects.count() == 1


def test_other_without_a_choice_is_refused(client, practice, front_desk_user):
    online = make_submission(practice)
    client.force_login(front_desk_user)
    response = accept(client, online, office="other")
    assert response.status_code == 200
    assert "Choose one from the list." in response.content.decode()
    with practice_scope(practice):
        assert not Referral.objects.exists()


def test_a_doctor_of_another_office_is_refused(client, practice, front_desk_user):
    with practice_scope(practice):
        elsewhere = ProviderFactory(
            office=OfficeFactory(practice=practice, name="Birchwood Dental"),
            last_name="Smith",
        )
    online = make_submission(practice)
    client.force_login(front_desk_user)
    response = accept(client, online, office="new", provider=elsewhere.pk)
    assert response.status_code == 200
    assert "works at Birchwood Dental: choose that office, or create a new doctor." in (
        response.content.decode()
    )
    with practice_scope(practice):
        assert not Referral.objects.exists()
        assert ReferringOffice.objects.count() == 1
    with scopes_disabled():
        online.refresh_from_db()
    assert online.status == OnlineReferralStatus.PENDING


def test_a_chart_number_matches_an_existing_patient(client, practice, front_desk_user):
    with practice_scope(practice):
        patient = PatientFactory(practice=practice, first_name="Jo", chart_number="C-42")
    online = make_submission(practice)
    client.force_login(front_desk_user)
    assert accept(client, online, chart_number="C-42").status_code == 302
    with practice_scope(practice):
        assert Patient.objects.count() == 1
        assert Referral.objects.get().patient == patient


def test_an_item_is_accepted_once(client, practice, front_desk_user, admin_user):
    online = make_submission(practice)
    client.force_login(front_desk_user)
    assert accept(client, online).status_code == 302
    client.force_login(admin_user)
    response = accept(client, online, follow=True)
    assert response.redirect_chain == [(f"/inbox/{online.pk}/", 302)]
    assert "This online referral was already accepted by" in response.content.decode()
    with practice_scope(practice):
        assert Referral.objects.count() == 1
        assert ReferringOffice.objects.count() == 1


def test_rejecting_needs_a_reason_and_records_it(client, practice, front_desk_user):
    online = make_submission(practice, files=[upload("a.png", image_bytes())])
    client.force_login(front_desk_user)
    response = client.post(f"/inbox/{online.pk}/reject/", {"reject_reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    response = client.post(f"/inbox/{online.pk}/reject/", {"reject_reason": "Not our patient"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    with scopes_disabled():
        online.refresh_from_db()
    assert online.status == OnlineReferralStatus.REJECTED
    assert online.reject_reason == "Not our patient"
    assert online.reviewed_by == front_desk_user
    with practice_scope(practice):
        assert not Referral.objects.exists()
    page = client.get(f"/inbox/{online.pk}/").content.decode()
    assert "Reason: Not our patient" in page
    assert 'data-testid="accept-form"' not in page


def test_received_on_is_the_practices_date_not_the_servers(client, practice, front_desk_user):
    # 03:30 UTC on March 10 is 23:30 on March 9 in New York.
    with time_machine.travel(dt.datetime(2026, 3, 10, 3, 30, tzinfo=dt.UTC), tick=False):
        online = make_submission(practice)
    client.force_login(front_desk_user)
    accept(client, online)
    with practice_scope(practice):
        assert Referral.objects.get().received_on == dt.date(2026, 3, 9)
