"""The patient page, and the patient search and duplicate queries behind the intake."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from practices.models import Role
from referrals.choices import SourceType
from referrals.patients import likely_duplicates, phone_digits, search_patients

from .conftest import _member
from .factories import OfficeFactory, PatientFactory, ProviderFactory, ReferralFactory


@pytest.fixture
def patient(practice):
    return PatientFactory(
        practice=practice,
        first_name="Jordan",
        last_name="Testcase",
        date_of_birth=dt.date(1988, 3, 9),
        phone="(555) 010-2030",
        email="jordan@patient.example",
        chart_number="C-1001",
    )


def url(patient):
    return reverse("patient_detail", args=[patient.pk])


# -- the page ----------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2025, 3, 8, 17, 0, tzinfo=dt.UTC), tick=False)
def test_the_patient_page_shows_the_details_and_every_referral(admin_client, practice, patient):
    office = OfficeFactory(practice=practice, name="Maple Dental")
    doctor = ProviderFactory(office=office, first_name="Alex", last_name="Moreno")
    older = ReferralFactory(
        practice=practice,
        patient=patient,
        referring_office=office,
        referring_provider=doctor,
        received_on=dt.date(2024, 6, 1),
    )
    newer = ReferralFactory(
        practice=practice,
        patient=patient,
        source_type=SourceType.WEBSITE,
        referring_office=None,
        referring_provider=None,
        received_on=dt.date(2025, 2, 1),
        reason="Implant consult",
    )
    stranger = ReferralFactory(practice=practice)  # another patient's case

    response = admin_client.get(url(patient))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Jordan Testcase" in html
    assert "03/09/1988" in html and "(age 36)" in html
    assert "C-1001" in html and "(555) 010-2030" in html
    assert html.index("02/01/2025") < html.index("06/01/2024")  # newest first
    assert "Maple Dental" in html and "Dr. Alex Moreno" in html
    assert "Website" in html and "Implant consult" in html
    for referral in (older, newer):
        assert reverse("referral_detail", args=[referral.pk]) in html
    assert reverse("referral_detail", args=[stranger.pk]) not in html
    assert f"{reverse('intake')}?patient={patient.pk}" in html


def test_a_patient_without_referrals(admin_client, patient):
    assert "No referral yet." in admin_client.get(url(patient)).content.decode()


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_the_patient_page(client, practice, patient, role):
    client.force_login(_member(practice, role, f"{role}@lakeside.test"))
    assert client.get(url(patient)).status_code == 200


def test_another_practices_patient_is_a_404(client, outsider, patient):
    client.force_login(outsider)
    assert client.get(url(patient)).status_code == 404


def test_the_patient_page_needs_a_login(client, patient):
    response = client.get(url(patient))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_patient_page_query_count_does_not_grow_with_referrals(
    admin_client, practice, patient, django_assert_max_num_queries
):
    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url(patient)).status_code == 200
        return len(queries)

    ReferralFactory(practice=practice, patient=patient)
    queries_for_the_page()  # the first request of a session stores the practice in it
    one = queries_for_the_page()
    ReferralFactory.create_batch(15, practice=practice, patient=patient)
    assert queries_for_the_page() == one
    # page: patient + referrals; the rest is layout; +2 for the audit: its INSERT, and the
    # administrator's "who has seen this record" panel.
    with django_assert_max_num_queries(12):
        admin_client.get(url(patient))


# -- the queries -------------------------------------------------------------------------


def test_search_patients_matches_every_word(in_practice, patient):
    PatientFactory(practice=in_practice, first_name="Jordan", last_name="Else")
    assert search_patients("jordan testcase") == [patient]
    assert search_patients("Testcase, Jordan") == [patient]
    assert len(search_patients("jordan")) == 2
    assert search_patients("03/09/1988") == [patient]
    assert search_patients("c-1001") == [patient]
    assert search_patients("555 010 2030") == [patient]
    assert search_patients("j") == []


def test_search_patients_puts_surname_matches_first_and_stops_at_ten(in_practice):
    PatientFactory.create_batch(12, practice=in_practice, first_name="Morgan", last_name="Ames")
    smith = PatientFactory(practice=in_practice, first_name="Ann", last_name="Morgan")
    found = search_patients("morgan")
    assert len(found) == 10
    assert found[0] == smith


def test_search_patients_stays_in_the_practice(practice, other_practice, in_practice, patient):
    PatientFactory(practice=other_practice, first_name="Jordan", last_name="Testcase")
    assert search_patients("testcase") == [patient]


def test_likely_duplicates_by_name_and_date_of_birth(in_practice, patient):
    found = likely_duplicates(
        first_name=" JORDAN", last_name="testcase", date_of_birth=dt.date(1988, 3, 9)
    )
    assert [(d.patient, d.reasons) for d in found] == [(patient, ["same name and date of birth"])]
    other_birthday = likely_duplicates(
        first_name="Jordan", last_name="Testcase", date_of_birth=dt.date(1988, 3, 10)
    )
    assert other_birthday == []


def test_likely_duplicates_by_phone_in_any_format(in_practice, patient):
    for typed in ["555-010-2030", "+1 (555) 010 2030", "5550102030", "010-2030"]:
        found = likely_duplicates(first_name="Someone", last_name="Else", phone=typed)
        assert [(d.patient, d.reasons) for d in found] == [(patient, ["same phone"])], typed
    assert likely_duplicates(phone="2030") == []  # too short to be a phone number


def test_likely_duplicates_stay_in_the_practice(other_practice, in_practice, patient):
    PatientFactory(practice=other_practice, phone="555-777-0000")
    assert likely_duplicates(phone="555-777-0000") == []


def test_phone_digits():
    assert phone_digits("+1 (555) 010-2030") == "5550102030"
    assert phone_digits("555.010.2030 ") == "5550102030"
    assert phone_digits("12") == ""
