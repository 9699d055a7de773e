"""The offices, doctors and patients endpoints: a PMS keeps its lists in sync."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from practices.scoping import practice_scope
from referrals.models import Patient, ReferringOffice, ReferringProvider

from .api_support import client_with, key_for
from .factories import OfficeFactory, PatientFactory, ProviderFactory

NOW = dt.datetime(2025, 3, 12, 15, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(practice):
    return client_with(key_for(practice))


def names(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["name"] for row in response.json()["results"]]


def test_office_create_retrieve_update(api, practice):
    created = api.post(
        "/api/v1/offices/",
        {"name": "Birch Dental", "zip_code": "02139", "external_id": "PMS-7", "fax": "555-0100"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    office_id = created.json()["id"]
    assert api.get(f"/api/v1/offices/{office_id}/").json()["external_id"] == "PMS-7"
    patched = api.patch(
        f"/api/v1/offices/{office_id}/", {"preferred_channel": "fax"}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    replaced = api.put(
        f"/api/v1/offices/{office_id}/", {"name": "Birch Family Dental"}, format="json"
    )
    assert replaced.status_code == 200, replaced.json()
    with practice_scope(practice):
        office = ReferringOffice.objects.get(pk=office_id)
    assert office.name == "Birch Family Dental"
    assert office.preferred_channel == "fax"
    assert office.practice == practice


def test_offices_are_not_deleted_through_the_api(api, practice):
    office = OfficeFactory(practice=practice)
    assert api.delete(f"/api/v1/offices/{office.pk}/").status_code == 405


def test_office_errors_name_the_fields(api, practice):
    OfficeFactory(practice=practice, external_id="PMS-7")
    response = api.post(
        "/api/v1/offices/",
        {"name": "", "email": "not-an-email", "external_id": "PMS-7"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"name", "email", "external_id"}
    assert errors["external_id"] == ["Another office already has this PMS id."]


def test_a_taken_external_id_alone_is_a_409_naming_the_field(api, practice):
    OfficeFactory(practice=practice, external_id="PMS-7")
    response = api.post("/api/v1/offices/", {"name": "A", "external_id": "PMS-7"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Another office already has this PMS id.",
        "code": "conflict",
        "external_id": ["Another office already has this PMS id."],
    }


def test_external_id_may_repeat_across_practices(api, other_practice):
    OfficeFactory(practice=other_practice, external_id="PMS-7")
    response = api.post("/api/v1/offices/", {"name": "A", "external_id": "PMS-7"}, format="json")
    assert response.status_code == 201


def test_office_filters(api, practice):
    OfficeFactory(practice=practice, name="Maple Dental", zip_code="02139", external_id="M1")
    OfficeFactory(practice=practice, name="Birch Dental", zip_code="02140", is_archived=True)
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        OfficeFactory(practice=practice, name="Cedar Smiles", zip_code="02139")
    url = "/api/v1/offices/"
    assert names(api.get(url)) == ["Birch Dental", "Cedar Smiles", "Maple Dental"]
    assert names(api.get(url, {"name": "dental"})) == ["Birch Dental", "Maple Dental"]
    assert names(api.get(url, {"zip": "02139"})) == ["Cedar Smiles", "Maple Dental"]
    assert names(api.get(url, {"external_id": "M1"})) == ["Maple Dental"]
    assert names(api.get(url, {"archived": "true"})) == ["Birch Dental"]
    assert names(api.get(url, {"archived": "false"})) == ["Cedar Smiles", "Maple Dental"]
    since = (NOW + dt.timedelta(hours=12)).isoformat()
    assert names(api.get(url, {"updated_since": since})) == ["Cedar Smiles"]
    bad = api.get(url, {"updated_since": "yesterday"})
    assert bad.status_code == 400
    assert "updated_since" in bad.json()


def test_provider_create_update_and_filter_by_office(api, practice):
    maple = OfficeFactory(practice=practice)
    birch = OfficeFactory(practice=practice)
    ProviderFactory(practice=practice, office=birch)
    created = api.post(
        "/api/v1/providers/",
        {"office": maple.pk, "first_name": "Ana", "last_name": "Reyes", "npi": "1234567890"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    provider_id = created.json()["id"]
    listed = api.get("/api/v1/providers/", {"office": maple.pk}).json()["results"]
    assert [row["id"] for row in listed] == [provider_id]
    moved = api.patch(f"/api/v1/providers/{provider_id}/", {"office": birch.pk}, format="json")
    assert moved.status_code == 200
    with practice_scope(practice):
        assert ReferringProvider.objects.get(pk=provider_id).office == birch


def test_provider_errors_name_the_fields(api, practice, other_practice):
    theirs = OfficeFactory(practice=other_practice)
    response = api.post(
        "/api/v1/providers/",
        {"office": theirs.pk, "first_name": "Ana", "last_name": "Reyes", "npi": "12"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert errors["office"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    assert errors["npi"] == ["An NPI is 10 digits."]


def test_patient_create_update_and_filter_by_chart_number(api, practice):
    PatientFactory(practice=practice, chart_number="C-1")
    created = api.post(
        "/api/v1/patients/",
        {
            "first_name": "Pat",
            "last_name": "Synthetic",
            "date_of_birth": "1990-05-17",
            "chart_number": "C-2",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    listed = api.get("/api/v1/patients/", {"chart_number": "C-2"}).json()["results"]
    assert [row["id"] for row in listed] == [created.json()["id"]]
    patched = api.patch(
        f"/api/v1/patients/{created.json()['id']}/", {"phone": "555-0199"}, format="json"
    )
    assert patched.status_code == 200
    with practice_scope(practice):
        assert Patient.objects.get(chart_number="C-2").phone == "555-0199"


def test_patient_errors_name_the_fields(api, practice):
    existing = PatientFactory(practice=practice, chart_number="C-1")
    response = api.post(
        "/api/v1/patients/",
        {"first_name": "Pat", "date_of_birth": "2031-01-01", "chart_number": "C-1"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"last_name", "date_of_birth", "chart_number"}
    assert errors["chart_number"] == ["Another patient already has this chart number."]
    # Keeping its own chart number on update is not a clash.
    same = api.patch(f"/api/v1/patients/{existing.pk}/", {"chart_number": "C-1"}, format="json")
    assert same.status_code == 200


def test_patients_updated_since(api, practice):
    PatientFactory(practice=practice)
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        newer = PatientFactory(practice=practice)
    since = (NOW + dt.timedelta(hours=1)).isoformat()
    listed = api.get("/api/v1/patients/", {"updated_since": since}).json()["results"]
    assert [row["id"] for row in listed] == [newer.pk]
