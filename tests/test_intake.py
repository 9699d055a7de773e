"""Front-desk intake: the form, its typeaheads and what a save writes."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.models import Role
from practices.scoping import practice_scope
from referrals.choices import CaseType, MilestoneKind, OfficeEventKind, SourceType, Status
from referrals.models import (
    MilestoneEvent,
    OfficeEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)

from .conftest import _member
from .factories import OfficeFactory, PatientFactory, ProviderFactory

URL = reverse("intake")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


@pytest.fixture
def office(practice):
    return OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139", phone="555-0101")


@pytest.fixture
def doctor(office):
    return ProviderFactory(office=office, first_name="Alex", last_name="Moreno")


@pytest.fixture
def patient(practice):
    return PatientFactory(
        practice=practice,
        first_name="Jordan",
        last_name="Testcase",
        date_of_birth=dt.date(1988, 3, 9),
        phone="(555) 010-2030",
        chart_number="C-1001",
    )


def counts():
    with scopes_disabled():
        return {
            model.__name__: model.objects.count()
            for model in (
                Referral,
                Patient,
                MilestoneEvent,
                ReferringOffice,
                ReferringProvider,
                OfficeEvent,
            )
        }


def intake_data(**overrides):
    data = {
        "patient": "",
        "first_name": "",
        "last_name": "",
        "date_of_birth": "",
        "phone": "",
        "chart_number": "",
        "source_type": SourceType.DOCTOR,
        "referring_office": "",
        "referring_provider": "",
        "case_type": CaseType.THIRD_MOLARS,
        "urgency": "routine",
        "received_on": "2025-03-03",
        "reason": "#17 and #32 impacted",
        "then": "case",
    }
    data.update(overrides)
    return data


def new_patient(**overrides):
    return {
        "first_name": "Riley",
        "last_name": "Newpatient",
        "date_of_birth": "07/04/1995",
        "phone": "555-777-8888",
        **overrides,
    }


def only_referral():
    with scopes_disabled():
        # Everything the tests read after the block: outside it row-level security hides
        # the related rows from lazy loads.
        return Referral.objects.select_related(
            "patient", "referring_office", "referring_provider__office"
        ).get()


# -- the page ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_do_intake(client, practice, role):
    client.force_login(_member(practice, role, f"{role}@lakeside.test"))
    assert client.get(URL).status_code == 200


def test_intake_needs_a_login(client, practice):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@time_machine.travel(dt.datetime(2025, 3, 1, 3, 0, tzinfo=dt.UTC), tick=False)
def test_the_form_starts_in_the_patient_search_and_received_is_today_practice_local(desk):
    html = desk.get(URL).content.decode()
    # 03:00 UTC on March 1st is still February 28th in New York (the practice's zone).
    assert 'value="02/28/2025"' in html
    assert 'name="patient_q"' in html
    search = html[html.index('name="patient_q"') - 400 : html.index('name="patient_q"') + 400]
    assert "autofocus" in search
    assert 'role="combobox"' in search


def test_a_patient_link_prefills_the_patient(desk, patient):
    html = desk.get(f"{URL}?patient={patient.pk}").content.decode()
    assert 'data-testid="patient-chip"' in html
    assert "Testcase, Jordan" in html


# -- refusals: nothing is written ----------------------------------------------------------


def test_no_source_is_refused_naming_the_field_and_nothing_is_written(desk, office, doctor):
    before = counts()
    response = desk.post(URL, intake_data(source_type="", **new_patient()))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert ">Source</a>: Choose where this referral came from." in html
    assert counts() == before


def test_a_doctor_source_without_office_or_doctor_is_refused(desk, office, doctor, patient):
    before = counts()
    response = desk.post(URL, intake_data(patient=patient.pk, source_type=SourceType.DOCTOR))
    html = response.content.decode()
    assert ">Referring office</a>: A doctor or specialist referral needs its referring office." in (
        html
    )
    assert ">Doctor</a>: A doctor or specialist referral needs the referring doctor." in html
    assert counts() == before


def test_a_specialist_source_with_office_but_no_doctor_is_refused(desk, office, doctor, patient):
    before = counts()
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk, source_type=SourceType.SPECIALIST, referring_office=office.pk
        ),
    )
    html = response.content.decode()
    assert ">Doctor</a>: A doctor or specialist referral needs the referring doctor." in html
    assert "needs its referring office" not in html
    # The chosen office stays chosen, with its doctors offered.
    assert 'data-testid="office-chip"' in html
    assert f'<option value="{doctor.pk}">Dr. Alex Moreno</option>' in html
    assert counts() == before


def test_a_new_patient_needs_name_and_date_of_birth(desk, office, doctor):
    before = counts()
    response = desk.post(
        URL,
        intake_data(first_name="Riley", referring_office=office.pk, referring_provider=doctor.pk),
    )
    html = response.content.decode()
    assert ">Last name</a>: Needed for a new patient" in html
    assert ">Date of birth</a>: Needed for a new patient" in html
    assert counts() == before


def test_no_patient_at_all_is_refused(desk, office, doctor):
    response = desk.post(URL, intake_data(referring_office=office.pk, referring_provider=doctor.pk))
    assert "Find the patient, or enter a new patient&#x27;s details." in response.content.decode()
    assert counts()["Referral"] == 0


def test_a_missing_case_type_and_a_future_date_are_refused(desk, patient, office, doctor):
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk,
            referring_office=office.pk,
            referring_provider=doctor.pk,
            case_type="",
            received_on="2999-01-01",
        ),
    )
    html = response.content.decode()
    assert ">Case type</a>: Choose the case type." in html
    assert ">Received</a>: A referral cannot be received in the future." in html
    assert counts()["Referral"] == 0


def test_another_practices_patient_office_and_doctor_are_refused(desk, other_practice):
    theirs = PatientFactory(practice=other_practice)
    their_doctor = ProviderFactory(office=OfficeFactory(practice=other_practice))
    before = counts()
    response = desk.post(
        URL,
        intake_data(
            patient=theirs.pk,
            referring_office=their_doctor.office_id,
            referring_provider=their_doctor.pk,
        ),
    )
    html = response.content.decode()
    assert "That patient is not in this practice." in html
    assert "That office is not in this practice&#x27;s list." in html
    assert counts() == before


def test_a_doctor_of_another_office_is_refused(desk, practice, patient, office, doctor):
    elsewhere = ProviderFactory(office=OfficeFactory(practice=practice))
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk, referring_office=office.pk, referring_provider=elsewhere.pk
        ),
    )
    assert "Choose one of this office&#x27;s doctors." in response.content.decode()
    assert counts()["Referral"] == 0


def test_an_archived_office_cannot_be_chosen(desk, patient, office, doctor):
    office.is_archived = True
    with scopes_disabled():
        office.save()
    response = desk.post(
        URL,
        intake_data(patient=patient.pk, referring_office=office.pk, referring_provider=doctor.pk),
    )
    assert "That office is not in this practice&#x27;s list." in response.content.decode()
    assert counts()["Referral"] == 0


# -- saving ------------------------------------------------------------------------------


@time_machine.travel(dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC), tick=False)
def test_a_valid_intake_stores_the_referral_with_its_source_and_received_event(
    desk, front_desk_user, patient, office, doctor
):
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk,
            referring_office=office.pk,
            referring_provider=doctor.pk,
            urgency="soon",
        ),
    )
    referral = only_referral()
    assert response.status_code == 302
    assert response["Location"] == reverse("referral_detail", args=[referral.pk])
    assert referral.patient == patient
    assert referral.source_type == SourceType.DOCTOR
    assert referral.referring_office == office
    assert referral.referring_provider == doctor
    assert referral.case_type == CaseType.THIRD_MOLARS
    assert referral.urgency == "soon"
    assert referral.reason == "#17 and #32 impacted"
    assert referral.received_on == dt.date(2025, 3, 3)
    assert referral.status == Status.RECEIVED
    assert referral.created_by == front_desk_user
    with practice_scope(referral.practice):
        events = list(referral.events.all())
    assert [e.kind for e in events] == [MilestoneKind.RECEIVED]
    assert events[0].recorded_by == front_desk_user
    assert counts()["Patient"] == 1  # the existing patient was used, not copied


def test_a_non_doctor_source_needs_no_office(desk, patient, office):
    desk.post(URL, intake_data(patient=patient.pk, source_type=SourceType.WEBSITE))
    referral = only_referral()
    assert referral.source_type == SourceType.WEBSITE
    assert referral.referring_office is None


def test_a_non_doctor_source_ignores_a_half_entered_new_office(desk, patient):
    desk.post(
        URL,
        intake_data(
            patient=patient.pk, source_type=SourceType.SELF, new_office_name="Somewhere Dental"
        ),
    )
    assert only_referral().referring_office is None
    assert counts()["ReferringOffice"] == 0


def test_a_new_patient_is_created_with_the_referral(desk, office, doctor):
    desk.post(
        URL,
        intake_data(
            referring_office=office.pk,
            referring_provider=doctor.pk,
            chart_number="C-2002",
            **new_patient(),
        ),
    )
    created = only_referral().patient
    assert (created.first_name, created.last_name) == ("Riley", "Newpatient")
    assert created.date_of_birth == dt.date(1995, 7, 4)
    assert created.phone == "555-777-8888"
    assert created.chart_number == "C-2002"


def test_a_two_digit_year_of_birth_is_in_the_past(desk, office, doctor):
    desk.post(
        URL,
        intake_data(
            referring_office=office.pk,
            referring_provider=doctor.pk,
            **new_patient(date_of_birth="7/4/62"),
        ),
    )
    assert only_referral().patient.date_of_birth == dt.date(1962, 7, 4)


def test_a_chart_number_we_already_have_is_refused(desk, patient, office, doctor):
    response = desk.post(
        URL,
        intake_data(
            referring_office=office.pk,
            referring_provider=doctor.pk,
            **new_patient(chart_number="C-1001"),
        ),
    )
    assert "This chart number belongs to a patient we have" in response.content.decode()
    assert counts()["Referral"] == 0


def test_first_referral_marks_the_office_new_and_a_second_does_not(
    desk, practice, patient, office, doctor
):
    data = intake_data(
        patient=patient.pk,
        referring_office=office.pk,
        referring_provider=doctor.pk,
        then="new",
    )
    first = desk.post(URL, data, follow=True)
    assert first.redirect_chain == [(URL, 302)]
    assert "First referral from Maple Dental — a new referrer." in first.content.decode()
    with scopes_disabled():
        office.refresh_from_db()
    assert office.first_referral_on == dt.date(2025, 3, 3)
    with practice_scope(practice):
        events = list(OfficeEvent.objects.filter(office=office))
        first_referral = Referral.objects.get()
    assert [(e.kind, e.referral_id) for e in events] == [
        (OfficeEventKind.FIRST_REFERRAL, first_referral.pk)
    ]

    second = desk.post(URL, {**data, "received_on": "2025-03-04"}, follow=True)
    html = second.content.decode()
    assert "saved." in html
    assert "a new referrer" not in html
    with scopes_disabled():
        office.refresh_from_db()
    assert office.first_referral_on == dt.date(2025, 3, 3)
    assert counts()["OfficeEvent"] == 1
    assert counts()["Referral"] == 2


def test_the_new_referrer_notice_travels_to_the_case_page(desk, patient, office, doctor):
    response = desk.post(
        URL,
        intake_data(patient=patient.pk, referring_office=office.pk, referring_provider=doctor.pk),
    )
    notices = [str(m) for m in get_messages(response.wsgi_request)]
    referral = only_referral()
    assert notices == [
        f'Referral <a href="/cases/{referral.pk}/">#{referral.pk}</a> saved.',
        "First referral from Maple Dental — a new referrer.",
    ]


def test_save_and_new_returns_to_an_empty_form(desk, patient, office, doctor):
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk, referring_office=office.pk, referring_provider=doctor.pk, then="new"
        ),
        follow=True,
    )
    html = response.content.decode()
    pk = only_referral().pk
    assert f'Referral <a href="/cases/{pk}/">#{pk}</a> saved.' in html
    assert 'data-testid="patient-chip"' not in html
    assert "Nothing was saved" not in html


# -- duplicate patients ------------------------------------------------------------------


def test_same_name_and_date_of_birth_warns_and_saves_nothing_until_confirmed(
    desk, patient, office, doctor
):
    data = intake_data(
        referring_office=office.pk,
        referring_provider=doctor.pk,
        first_name="jordan",
        last_name="TESTCASE ",
        date_of_birth="03/09/1988",
    )
    response = desk.post(URL, data)
    html = response.content.decode()
    assert 'data-testid="duplicate-warning"' in html
    assert "Testcase, Jordan" in html
    assert "same name and date of birth" in html
    assert f'name="use_patient" value="{patient.pk}"' in html
    assert counts()["Referral"] == 0

    desk.post(URL, {**data, "confirm_new_patient": "on"})
    assert counts()["Patient"] == 2
    assert only_referral().patient != patient


def test_same_phone_warns(desk, patient, office, doctor):
    response = desk.post(
        URL,
        intake_data(
            referring_office=office.pk,
            referring_provider=doctor.pk,
            **new_patient(phone="+1 555.010.2030"),
        ),
    )
    html = response.content.decode()
    assert 'data-testid="duplicate-warning"' in html
    assert "same phone" in html
    assert counts()["Referral"] == 0


def test_the_live_duplicate_check_warns_while_typing(desk, patient):
    url = reverse("intake_duplicate_check")
    by_name = desk.get(
        url,
        {"first_name": "Jordan", "last_name": "Testcase", "date_of_birth": "3/9/1988"},
        **HTMX,
    )
    assert "same name and date of birth" in by_name.content.decode()
    assert "<html" not in by_name.content.decode()
    by_phone = desk.get(url, {"phone": "5550102030"}, **HTMX)
    assert "same phone" in by_phone.content.decode()
    nobody = desk.get(url, {"first_name": "Jordan", "last_name": "Else", "phone": "555"}, **HTMX)
    assert "duplicate" not in nobody.content.decode()


def test_use_this_patient_shows_the_form_with_them_chosen(desk, patient, office):
    response = desk.post(
        URL,
        intake_data(
            use_patient=patient.pk,
            referring_office=office.pk,
            **new_patient(first_name="Jordan", last_name="Testcase"),
        ),
    )
    html = response.content.decode()
    assert 'data-testid="patient-chip"' in html
    assert 'data-testid="office-chip"' in html
    assert "Nothing was saved" not in html
    assert counts()["Referral"] == 0


# -- new office and doctor inline --------------------------------------------------------


def test_a_new_office_is_created_inline_with_its_doctor(desk, practice, patient):
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk,
            new_office_name="Birch Street Dentistry",
            new_office_zip="02144",
            new_office_phone="555-0199",
            new_office_email="desk@birch.example",
            new_doctor_first_name="Sam",
            new_doctor_last_name="Okafor",
            then="new",
        ),
        follow=True,
    )
    referral = only_referral()
    office = referral.referring_office
    assert (office.name, office.zip_code, office.phone, office.email) == (
        "Birch Street Dentistry",
        "02144",
        "555-0199",
        "desk@birch.example",
    )
    assert office.practice == practice
    assert office.first_referral_on == referral.received_on
    provider = referral.referring_provider
    assert (provider.first_name, provider.last_name, provider.office) == ("Sam", "Okafor", office)
    assert "First referral from Birch Street Dentistry — a new referrer." in (
        response.content.decode()
    )


def test_a_new_office_needs_zip_phone_and_doctor(desk, patient):
    before = counts()
    response = desk.post(URL, intake_data(patient=patient.pk, new_office_name="Birch Dental"))
    html = response.content.decode()
    assert ">ZIP</a>: Give the new office&#x27;s ZIP code." in html
    assert ">Office phone</a>: Give the new office&#x27;s phone number." in html
    assert ">Doctor&#x27;s first name</a>: Give the referring doctor&#x27;s first name." in html
    assert ">Doctor&#x27;s last name</a>: Give the referring doctor&#x27;s last name." in html
    assert counts() == before


def test_a_new_office_that_is_already_listed_is_refused(desk, patient, office):
    response = desk.post(
        URL,
        intake_data(
            patient=patient.pk,
            new_office_name="maple dental",
            new_office_zip="02139",
            new_office_phone="555-0101",
            new_doctor_first_name="Sam",
            new_doctor_last_name="Okafor",
        ),
    )
    assert "An office with this name and ZIP is already in the list" in response.content.decode()
    assert counts()["ReferringOffice"] == 1


def test_a_new_doctor_at_a_known_office(desk, patient, office, doctor):
    desk.post(
        URL,
        intake_data(
            patient=patient.pk,
            referring_office=office.pk,
            referring_provider="new",
            new_doctor_first_name="Lee",
            new_doctor_last_name="Park",
        ),
    )
    provider = only_referral().referring_provider
    assert (provider.first_name, provider.last_name, provider.office) == ("Lee", "Park", office)


# -- typeaheads --------------------------------------------------------------------------


def test_patient_typeahead_finds_by_name_chart_number_and_phone(desk, patient, practice):
    PatientFactory(practice=practice, first_name="Other", last_name="Person", phone="555-999-0000")
    url = reverse("intake_patient_search")
    for query in ["testc", "Jordan Test", "Testcase, Jor", "C-1001", "010-2030", "5550102030"]:
        html = desk.get(url, {"patient_q": query}, **HTMX).content.decode()
        assert f'data-value="{patient.pk}"' in html, query
        assert "Other" not in html, query
        assert "DOB 03/09/1988" in html and "chart C-1001" in html
    assert 'role="option"' not in desk.get(url, {"patient_q": "z"}, **HTMX).content.decode()


def test_office_typeahead_finds_by_office_doctor_zip_and_phone(desk, practice, office, doctor):
    OfficeFactory(practice=practice, name="Harbor Smiles", zip_code="90210", phone="555-4444")
    url = reverse("intake_office_search")
    for query in ["maple", "Moreno", "Dr. Moreno", "021", "555-0101", "5550101"]:
        html = desk.get(url, {"office_q": query}, **HTMX).content.decode()
        assert f'data-value="{office.pk}"' in html, query
        assert "Harbor" not in html, query
    html = desk.get(url, {"office_q": "moreno"}, **HTMX).content.decode()
    assert f'data-provider="{doctor.pk}"' in html
    assert "+ New office “moreno”" in html


def test_office_typeahead_leaves_out_archived_offices_and_doctors(desk, practice, office, doctor):
    ProviderFactory(office=office, first_name="Old", last_name="Gone", is_archived=True)
    OfficeFactory(practice=practice, name="Maple Closed Dental", is_archived=True)
    html = desk.get(reverse("intake_office_search"), {"office_q": "maple"}, **HTMX).content.decode()
    assert "Maple Dental" in html
    assert "Maple Closed" not in html
    assert "Gone" not in html


def test_typeaheads_never_show_another_practice(client, outsider, other_practice, patient, doctor):
    PatientFactory(practice=other_practice, first_name="Their", last_name="Testcase")
    OfficeFactory(practice=other_practice, name="Maple Dental West")
    client.force_login(outsider)
    patients = client.get(reverse("intake_patient_search"), {"patient_q": "testcase"}, **HTMX)
    offices = client.get(reverse("intake_office_search"), {"office_q": "maple"}, **HTMX)
    assert "Their" in patients.content.decode()
    assert "Jordan" not in patients.content.decode()
    assert "Maple Dental West" in offices.content.decode()
    assert f'data-value="{doctor.office_id}"' not in offices.content.decode()
    dupes = client.get(reverse("intake_duplicate_check"), {"phone": "555-010-2030"}, **HTMX)
    assert "duplicate" not in dupes.content.decode()


def test_typeahead_fragments_vary_on_htmx_and_fall_back_to_pages(desk, patient, office, doctor):
    fragment = desk.get(reverse("intake_patient_search"), {"patient_q": "testcase"}, **HTMX)
    assert "HX-Request" in fragment["Vary"]
    # Without JavaScript the "Find" button opens a page whose link carries the form back.
    page = desk.get(
        reverse("intake_patient_search"),
        {"patient_q": "testcase", "source_type": "doctor", "reason": "pain"},
    )
    html = page.content.decode()
    assert "<html" in html
    assert f"patient={patient.pk}" in html
    assert "source_type=doctor" in html and "reason=pain" in html
    offices = desk.get(reverse("intake_office_search"), {"office_q": "maple"}).content.decode()
    assert f"referring_office={office.pk}" in offices
    assert f"referring_provider={doctor.pk}" in offices


# -- cost --------------------------------------------------------------------------------


def test_the_intake_post_does_a_bounded_number_of_queries_whatever_the_office_count(
    desk, practice, patient, django_capture_on_commit_callbacks
):
    desk.get(URL)  # the first request of a session stores the practice in it

    def intake_from_a_new_office() -> int:
        doctor = ProviderFactory(office=OfficeFactory(practice=practice))
        # Counted with what runs after the commit (the analytics refresh), as in production.
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = desk.post(
                URL,
                intake_data(
                    referring_office=doctor.office_id,
                    referring_provider=doctor.pk,
                    # A different person each time: a confirmed lookalike of the first
                    # would also be marked "not a duplicate" (a few queries more).
                    **new_patient(
                        first_name=f"Riley{doctor.pk}", chart_number=f"N-{doctor.pk}", phone=""
                    ),
                    confirm_new_patient="on",
                ),
            )
        assert response.status_code == 302
        return len(queries)

    few = intake_from_a_new_office()
    OfficeFactory.create_batch(300, practice=practice)
    many = intake_from_a_new_office()
    # Measured: 26 = 3 for the session and membership, 17 for the intake, 6 for the
    # analytics refresh after the commit; the same with 2 offices or 302.
    assert few == many
    assert many <= 35
    assert counts()["Referral"] == 2


def test_the_typeaheads_do_a_bounded_number_of_queries(
    desk, practice, django_assert_max_num_queries
):
    for office in OfficeFactory.create_batch(30, practice=practice, name="Maple Group"):
        ProviderFactory.create_batch(3, office=office)
    desk.get(URL)  # the first request of a session stores the practice in it
    # Session, user, membership; then the offices and their doctors.
    with django_assert_max_num_queries(5):
        html = desk.get(
            reverse("intake_office_search"), {"office_q": "maple"}, **HTMX
        ).content.decode()
    assert html.count('role="option"') == 11  # ten offices and "new office"
