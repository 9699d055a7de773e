"""The referrals API: intake, milestones (the journey), errors, filters and pages."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from practices.scoping import practice_scope
from referrals.choices import MilestoneKind, Status
from referrals.models import MilestoneEvent, Patient, Referral

from .api_support import client_with, intake, key_for
from .factories import OfficeFactory, PatientFactory, ProviderFactory

NY = ZoneInfo("America/New_York")
NOW = dt.datetime(2025, 3, 12, 15, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(practice):
    return client_with(key_for(practice))


@pytest.fixture
def office(practice):
    return OfficeFactory(practice=practice, name="Maple Family Dental", external_id="PMS-1")


@pytest.fixture
def provider(practice, office):
    return ProviderFactory(practice=practice, office=office, first_name="Ana", last_name="Reyes")


def referral_payload(office, provider, **overrides):
    payload = {
        "patient_data": {
            "first_name": "Pat",
            "last_name": "Synthetic",
            "date_of_birth": "1990-05-17",
            "chart_number": "C-9001",
        },
        "source_type": "doctor",
        "referring_office": office.pk,
        "referring_provider": provider.pk,
        "case_type": "third_molars",
        "urgency": "soon",
        "received_on": "2025-03-03",
        "reason": "Impacted lower third molars.",
    }
    payload.update(overrides)
    return payload


def post_event(api, referral_id, kind, **fields):
    return api.post(
        f"/api/v1/referrals/{referral_id}/events/", {"kind": kind, **fields}, format="json"
    )


def test_create_and_advance_a_referral_through_the_api(api, practice, office, provider):
    created = api.post("/api/v1/referrals/", referral_payload(office, provider), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "received"
    assert body["referring_office"] == office.pk
    assert body["referring_provider"] == provider.pk
    assert body["received_on"] == "2025-03-03"
    assert "consult_scheduled" in body["allowed_next_steps"]
    referral_id = body["id"]

    booked = post_event(
        api, referral_id, "consult_scheduled", scheduled_for="2025-03-20T09:30:00-04:00"
    )
    assert booked.status_code == 201, booked.json()
    assert booked.json()["referral_status"] == "consult_scheduled"
    assert booked.json()["scheduled_for"] == "2025-03-20T09:30:00-04:00"

    seen = post_event(
        api, referral_id, "consult_completed", findings="Both impacted.", recommendation="Remove"
    )
    assert seen.status_code == 201, seen.json()
    assert seen.json()["referral_status"] == "consult_completed"

    accepted = post_event(api, referral_id, "treatment_accepted")
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["referral_status"] == "treatment_accepted"
    assert "surgery_scheduled" in accepted.json()["allowed_next_steps"]

    detail = api.get(f"/api/v1/referrals/{referral_id}/").json()
    assert detail["status"] == "treatment_accepted"

    events = api.get(f"/api/v1/referrals/{referral_id}/events/")
    assert events.status_code == 200
    assert [e["kind"] for e in events.json()] == [
        "received",
        "consult_scheduled",
        "consult_completed",
        "treatment_accepted",
    ]

    with practice_scope(practice):
        referral = Referral.objects.get(pk=referral_id)
        assert referral.status == Status.TREATMENT_ACCEPTED
        assert referral.patient.chart_number == "C-9001"
        assert referral.events.count() == 4
        assert referral.events.get(kind=MilestoneKind.CONSULT_COMPLETED).findings == (
            "Both impacted."
        )


def test_referral_for_an_existing_patient_by_id(api, practice, office, provider):
    patient = PatientFactory(practice=practice)
    payload = referral_payload(office, provider, patient=patient.pk)
    del payload["patient_data"]
    response = api.post("/api/v1/referrals/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["patient"] == patient.pk


def test_patient_data_matches_an_existing_chart_number(api, practice, office, provider):
    patient = PatientFactory(
        practice=practice,
        last_name="Synthetic",
        date_of_birth=dt.date(1990, 5, 17),
        chart_number="C-9001",
    )
    response = api.post("/api/v1/referrals/", referral_payload(office, provider), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["patient"] == patient.pk
    with practice_scope(practice):
        assert Patient.objects.count() == 1


def test_chart_number_of_a_different_person_is_a_409_naming_the_field(
    api, practice, office, provider
):
    PatientFactory(practice=practice, last_name="Other", chart_number="C-9001")
    response = api.post("/api/v1/referrals/", referral_payload(office, provider), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "chart_number" in response.json()["patient_data"]
    with practice_scope(practice):
        assert Referral.objects.count() == 0


def test_doctor_source_without_office_is_a_json_error_naming_the_field(
    api, practice, office, provider
):
    payload = referral_payload(office, provider, referring_office=None, referring_provider=None)
    response = api.post("/api/v1/referrals/", payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    errors = response.json()
    assert errors["referring_office"] == [
        "A doctor or specialist referral needs its referring office."
    ]
    assert "referring_provider" in errors
    # Atomic: the patient given inline was not left behind.
    with practice_scope(practice):
        assert Referral.objects.count() == 0
        assert Patient.objects.count() == 0


def test_missing_and_invalid_fields_are_named(api, office, provider):
    payload = referral_payload(office, provider, case_type="wisdom", received_on="2025-04-01")
    del payload["source_type"]
    errors = api.post("/api/v1/referrals/", payload, format="json").json()
    assert set(errors) >= {"source_type", "case_type", "received_on"}
    assert errors["received_on"] == ["The received date cannot be in the future."]


def test_patient_or_patient_data_is_required(api, office, provider):
    payload = referral_payload(office, provider)
    del payload["patient_data"]
    response = api.post("/api/v1/referrals/", payload, format="json")
    assert response.status_code == 400
    assert "patient" in response.json()


def test_another_practices_office_is_a_404_naming_the_field(api, other_practice, office, provider):
    theirs = OfficeFactory(practice=other_practice)
    payload = referral_payload(office, provider, referring_office=theirs.pk)
    response = api.post("/api/v1/referrals/", payload, format="json")
    # As for an id in the path: another practice's id is simply not there.
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["referring_office"] == [
        f'Invalid pk "{theirs.pk}" - object does not exist.'
    ]


def test_doctor_of_another_office_is_a_409(api, practice, office):
    elsewhere = ProviderFactory(practice=practice, office=OfficeFactory(practice=practice))
    payload = referral_payload(office, elsewhere)
    response = api.post("/api/v1/referrals/", payload, format="json")
    assert response.status_code == 409
    assert response.json()["referring_provider"] == [
        "This doctor does not work at the chosen office."
    ]


def test_self_referral_needs_no_office(api, office, provider):
    payload = referral_payload(
        office, provider, source_type="self", referring_office=None, referring_provider=None
    )
    response = api.post("/api/v1/referrals/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["referring_office"] is None


def test_illegal_step_is_refused_with_a_clear_message_and_nothing_stored(api, practice):
    referral = intake(practice, received_on=dt.date(2025, 3, 3))
    response = post_event(api, referral.pk, "treatment_accepted")
    assert response.status_code == 409
    body = response.json()
    assert body["current_status"] == "received"
    assert body["kind"] == "treatment_accepted"
    assert body["allowed_next_steps"] == ["consult_scheduled", "consult_completed", "cancelled"]
    assert body["detail"] == (
        "Cannot record 'Treatment accepted' while the referral is 'Received'. "
        "Allowed next steps: Consult scheduled, Consult completed, Cancelled."
    )
    with practice_scope(practice):
        referral.refresh_from_db()
        assert referral.status == Status.RECEIVED
        assert MilestoneEvent.objects.filter(referral=referral).count() == 1


def test_received_cannot_be_posted_again(api, practice):
    referral = intake(practice, received_on=dt.date(2025, 3, 3))
    assert post_event(api, referral.pk, "received").status_code == 409


def test_step_missing_its_details_is_a_400_naming_the_field(api, practice):
    referral = intake(practice, received_on=dt.date(2025, 3, 3))
    response = post_event(api, referral.pk, "consult_scheduled")
    assert response.status_code == 400
    assert response.json() == {"scheduled_for": ["Give the date of the appointment."]}
    declined = post_event(api, referral.pk, "cancelled")
    assert declined.json() == {"reason": ["Say why."]}
    unknown = post_event(api, referral.pk, "teleported")
    assert unknown.status_code == 400
    assert "kind" in unknown.json()
    with practice_scope(practice):
        assert MilestoneEvent.objects.filter(referral=referral).count() == 1


def test_step_dated_before_the_referral_is_a_409_naming_the_field(api, practice):
    referral = intake(practice, received_on=dt.date(2025, 3, 3))
    response = api.post(
        f"/api/v1/referrals/{referral.pk}/events/",
        {"kind": "consult_completed", "occurred_at": "2025-02-01T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A step cannot happen before the referral was received.",
        "code": "conflict",
        "occurred_at": ["A step cannot happen before the referral was received."],
    }
    with practice_scope(practice):
        assert MilestoneEvent.objects.filter(referral=referral).count() == 1


def test_times_before_standard_zones_are_valid_rfc_3339(api, practice):
    # New York's offset before 1883 was local mean time, -04:56:02: not writable in RFC 3339.
    practice.time_zone = "America/New_York"
    practice.save(update_fields=["time_zone"])
    referral = intake(practice, received_on=dt.date(1850, 8, 17))
    events = api.get(f"/api/v1/referrals/{referral.pk}/events/").json()
    assert events[0]["occurred_at"] == "1850-08-17T16:56:02Z"  # noon local mean time
    created = api.get(f"/api/v1/referrals/{referral.pk}/").json()["created_at"]
    assert created.endswith("-04:00")  # today's times keep the practice's zone


def test_unknown_referral_is_a_json_404(api):
    response = api.get("/api/v1/referrals/999999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No Referral matches the given query."}
    assert post_event(api, 999999, "consult_completed").status_code == 404
    assert api.get("/api/v1/referrals/not-a-number/").status_code == 404


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_filters_by_received_date_range_office_and_status(api, practice):
    maple = OfficeFactory(practice=practice)
    birch = OfficeFactory(practice=practice)
    early = intake(practice, received_on=dt.date(2025, 1, 10), office=maple)
    middle = intake(practice, received_on=dt.date(2025, 2, 10), office=birch)
    late = intake(practice, received_on=dt.date(2025, 3, 10), office=maple)
    post_event(api, late.pk, "consult_completed")

    url = "/api/v1/referrals/"
    assert ids(api.get(url)) == {early.pk, middle.pk, late.pk}
    assert ids(api.get(url, {"received_after": "2025-02-01"})) == {middle.pk, late.pk}
    assert ids(api.get(url, {"received_before": "2025-02-10"})) == {early.pk, middle.pk}
    assert ids(api.get(url, {"received_after": "2025-02-01", "received_before": "2025-02-28"})) == {
        middle.pk
    }
    assert ids(api.get(url, {"office": maple.pk})) == {early.pk, late.pk}
    assert ids(api.get(url, {"status": "consult_completed"})) == {late.pk}
    assert ids(api.get(url, {"status": ["received", "consult_completed"]})) == {
        early.pk,
        middle.pk,
        late.pk,
    }
    bad = api.get(url, {"received_after": "last tuesday", "status": "lost"})
    assert bad.status_code == 400
    assert set(bad.json()) == {"received_after", "status"}


def test_updated_since_returns_rows_changed_since(api, practice):
    old = intake(practice, received_on=dt.date(2025, 3, 1))
    with time_machine.travel(NOW + dt.timedelta(hours=2), tick=False):
        changed = intake(practice, received_on=dt.date(2025, 3, 2))
        later = (NOW + dt.timedelta(hours=1)).isoformat()
        response = api.get("/api/v1/referrals/", {"updated_since": later})
        assert ids(response) == {changed.pk}
        # A milestone touches the referral, so it shows up in the next sync.
        post_event(api, old.pk, "consult_completed")
        response = api.get("/api/v1/referrals/", {"updated_since": later, "ordering": "updated_at"})
        assert [row["id"] for row in response.json()["results"]] == [changed.pk, old.pk]


def test_list_is_paginated_by_fifty_with_a_capped_page_size(
    api, practice, django_assert_max_num_queries
):
    office = OfficeFactory(practice=practice)
    provider = ProviderFactory(practice=practice, office=office)
    for day in range(55):
        intake(
            practice,
            received_on=dt.date(2025, 1, 1) + dt.timedelta(days=day),
            office=office,
            provider=provider,
        )
    # One page: the key, the count and the rows; no query per referral; +1 the audit entry.
    with django_assert_max_num_queries(5):
        first = api.get("/api/v1/referrals/")
    body = first.json()
    assert body["count"] == 55
    assert len(body["results"]) == 50
    assert body["results"][0]["received_on"] == "2025-02-24"  # newest first
    assert body["next"].endswith("/api/v1/referrals/?page=2")
    second = api.get(body["next"]).json()
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert len(api.get("/api/v1/referrals/", {"page_size": 20}).json()["results"]) == 20
    assert len(api.get("/api/v1/referrals/", {"page_size": 5000}).json()["results"]) == 55
    assert api.get("/api/v1/referrals/", {"page": 9}).status_code == 404


def test_updated_since_takes_any_iso_offset_and_the_calendars_ends(api, practice):
    intake(practice, received_on=dt.date(2025, 3, 3))
    url = "/api/v1/referrals/"
    # PostgreSQL alone refuses an offset beyond 15:59 (this was a 500).
    assert api.get(url, {"updated_since": "2025-03-01T10:00:00-20:40"}).json()["count"] == 1
    assert api.get(url, {"updated_since": "0001-01-01T00:00:00+05:00"}).json()["count"] == 1
    assert api.get(url, {"updated_since": "9999-12-31T23:00:00-05:00"}).json()["count"] == 0


def test_out_of_range_ids_in_filters_are_a_400(api):
    response = api.get("/api/v1/referrals/", {"patient": "99999999999999999999999", "office": -5})
    assert response.status_code == 400
    assert set(response.json()) == {"patient", "office"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/offices/0.5/",
        "/api/v1/patients/99999999999999999999999/",
        "/api/v1/referrals/1.0/events/",
        "/api/v1/no-such-thing/",
    ],
)
def test_malformed_ids_and_unknown_paths_are_a_json_404(api, path):
    api.enforce_csrf_checks = True  # as a real client: no CSRF cookie, and none needed
    for method in (api.get, api.patch):
        response = method(path, {}, format="json")
        assert response.status_code == 404, (method, response.content)
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()


def test_a_post_to_an_unknown_path_is_a_json_404_not_a_csrf_page(api):
    api.enforce_csrf_checks = True
    response = api.post("/api/v1/referals/", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert api.post("/api/v1/referrals/1.0/events/", {}, format="json").status_code == 404
