"""Who can call the API: a practice's key, and only for that practice's rows."""

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from practices.api_keys import hash_key, revoke_api_key
from practices.models import ApiKey
from practices.scoping import practice_scope
from referrals.models import MilestoneEvent, ReferringOffice

from .api_support import client_with, intake, key_for
from .factories import OfficeFactory, PatientFactory, ProviderFactory

LIST_URLS = ["/api/v1/offices/", "/api/v1/providers/", "/api/v1/patients/", "/api/v1/referrals/"]


@pytest.fixture
def our_key(practice):
    return key_for(practice)


@pytest.fixture
def their_api(other_practice):
    return client_with(key_for(other_practice, "Their PMS"))


@pytest.fixture
def our_rows(practice):
    referral = intake(practice, received_on=dt.date(2025, 3, 3))
    return {
        "offices": referral.referring_office_id,
        "providers": referral.referring_provider_id,
        "patients": referral.patient_id,
        "referrals": referral.pk,
    }


@pytest.mark.parametrize("url", LIST_URLS)
def test_no_key_is_401_with_a_bearer_challenge(db, url):
    response = client_with(None).get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer oms_not-a-real-key",
        "Bearer",
        "Bearer two words",
        "Bearer not-even-our-format",
    ],
)
def test_unknown_or_malformed_key_is_401(db, our_key, header):
    client = client_with(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/referrals/")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_other_schemes_are_not_accepted(db, our_key):
    client = client_with(None)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {our_key}")
    assert client.get("/api/v1/referrals/").status_code == 401


def test_a_logged_in_session_is_not_an_api_key(admin_client):
    # The API is for programs; a browser session must not drive it (no CSRF exposure).
    assert admin_client.get("/api/v1/referrals/").status_code == 401


def test_revoked_key_stops_working_at_once(practice, our_key):
    api = client_with(our_key)
    assert api.get("/api/v1/offices/").status_code == 200
    with practice_scope(practice):
        revoke_api_key(ApiKey.objects.get())
    response = api.get("/api/v1/offices/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown or revoked API key."}


def test_keys_are_stored_hashed(practice, our_key):
    with scopes_disabled():
        row = ApiKey.objects.values().get()
    assert row["hashed_key"] == hash_key(our_key)
    assert our_key.startswith(row["prefix"])
    assert len(row["prefix"]) == 12
    assert all(our_key not in str(value) for value in row.values())


def test_last_used_is_written_at_most_once_a_minute(practice, our_key, django_assert_num_queries):
    api = client_with(our_key)
    start = dt.datetime(2025, 3, 12, 15, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        api.get("/api/v1/offices/")
    with scopes_disabled():
        assert ApiKey.objects.get().last_used_at == start
    # Within the minute: the key lookup and the count (an empty list needs no row
    # query), no write.
    with (
        time_machine.travel(start + dt.timedelta(seconds=40), tick=False),
        django_assert_num_queries(2),
    ):
        api.get("/api/v1/offices/")
    with scopes_disabled():
        assert ApiKey.objects.get().last_used_at == start
    later = start + dt.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        api.get("/api/v1/offices/")
    with scopes_disabled():
        assert ApiKey.objects.get().last_used_at == later


@pytest.mark.parametrize("resource", ["offices", "providers", "patients", "referrals"])
def test_another_practices_key_gets_404_for_our_ids(their_api, our_rows, resource):
    response = their_api.get(f"/api/v1/{resource}/{our_rows[resource]}/")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("resource", ["offices", "providers", "patients"])
def test_another_practices_key_cannot_update_our_rows(practice, their_api, our_rows, resource):
    url = f"/api/v1/{resource}/{our_rows[resource]}/"
    assert their_api.patch(url, {"is_archived": True}, format="json").status_code == 404


def test_another_practices_key_cannot_see_or_advance_our_referral(practice, their_api, our_rows):
    url = f"/api/v1/referrals/{our_rows['referrals']}/events/"
    assert their_api.get(url).status_code == 404
    response = their_api.post(url, {"kind": "consult_completed"}, format="json")
    assert response.status_code == 404
    with practice_scope(practice):
        assert MilestoneEvent.objects.count() == 1  # the 'received' event only


@pytest.mark.parametrize("url", LIST_URLS)
def test_lists_never_include_another_practices_rows(practice, other_practice, our_rows, url):
    theirs = intake(other_practice, received_on=dt.date(2025, 3, 4))
    their_ids = {
        "/api/v1/offices/": theirs.referring_office_id,
        "/api/v1/providers/": theirs.referring_provider_id,
        "/api/v1/patients/": theirs.patient_id,
        "/api/v1/referrals/": theirs.pk,
    }
    api = client_with(key_for(practice))
    rows = api.get(url).json()["results"]
    assert [row["id"] for row in rows] == [our_rows[url.split("/")[3]]]
    assert their_ids[url] not in {row["id"] for row in rows}


def test_rows_created_with_a_key_belong_to_its_practice(practice, other_practice, our_key):
    response = client_with(our_key).post(
        "/api/v1/offices/", {"name": "Birch Dental"}, format="json"
    )
    assert response.status_code == 201
    with scopes_disabled():
        office = ReferringOffice.objects.get(pk=response.json()["id"])
    assert office.practice == practice


def test_filters_cannot_reach_another_practice(practice, other_practice, our_key):
    their_office = OfficeFactory(practice=other_practice)
    ProviderFactory(practice=other_practice, office=their_office)
    PatientFactory(practice=other_practice, chart_number="SHARED-1")
    api = client_with(our_key)
    assert api.get("/api/v1/providers/", {"office": their_office.pk}).json()["count"] == 0
    assert api.get("/api/v1/referrals/", {"office": their_office.pk}).json()["count"] == 0
    assert api.get("/api/v1/patients/", {"chart_number": "SHARED-1"}).json()["count"] == 0
