"""Two API creates at the same moment with one chart number or one PMS id.

Both requests pass the serializer's "is it taken?" check before either writes; only the
database's unique constraint sees them both. One row is stored, and the other request gets a
409 naming the field, never a 500. Real threads, each with its own PostgreSQL connection.
"""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.db.models.signals import pre_save

from practices.scoping import practice_scope
from referrals.models import Patient, Referral, ReferringOffice

from .api_support import client_with, key_for
from .factories import OfficeFactory, PatientFactory, ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)


def at_the_same_moment(model, requests: list[Callable]) -> list:
    """Run each request in its own thread and hold every save of ``model`` until all of
    them reach it: each has checked and found nothing, then all write at once."""
    barrier = threading.Barrier(len(requests), timeout=15)

    def hold(sender, instance, **kwargs):
        barrier.wait()

    results: list = [None] * len(requests)

    def run(index: int, request: Callable) -> None:
        try:
            results[index] = request()
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            results[index] = error
        finally:
            connection.close()  # this thread's own connection

    pre_save.connect(hold, sender=model, weak=False)
    try:
        threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        pre_save.disconnect(hold, sender=model)
    return results


def post(key: str, url: str, payload: dict) -> Callable:
    return lambda: client_with(key).post(url, payload, format="json")


def statuses(responses) -> list:
    return sorted(getattr(r, "status_code", r) for r in responses)


def loser(responses):
    return next(r for r in responses if r.status_code >= 400)


def test_two_patients_with_one_chart_number_at_once(practice):
    key = key_for(practice)
    payload = {
        "first_name": "Pat",
        "last_name": "Synthetic",
        "date_of_birth": "1990-05-17",
        "chart_number": "C-77",
    }
    responses = at_the_same_moment(Patient, [post(key, "/api/v1/patients/", payload)] * 2)
    assert statuses(responses) == [201, 409]
    assert loser(responses).json() == {
        "detail": "Another patient already has this chart number.",
        "code": "conflict",
        "chart_number": ["Another patient already has this chart number."],
    }
    with practice_scope(practice):
        assert Patient.objects.filter(chart_number="C-77").count() == 1


def test_two_offices_with_one_pms_id_at_once(practice):
    key = key_for(practice)
    requests = [
        post(key, "/api/v1/offices/", {"name": name, "external_id": "PMS-9"})
        for name in ("Maple Dental", "Birch Dental")
    ]
    responses = at_the_same_moment(ReferringOffice, requests)
    assert statuses(responses) == [201, 409]
    assert loser(responses).json()["external_id"] == ["Another office already has this PMS id."]
    with practice_scope(practice):
        assert ReferringOffice.objects.filter(external_id="PMS-9").count() == 1


def test_two_updates_to_one_chart_number_at_once(practice):
    key = key_for(practice)
    with practice_scope(practice):
        patients = [PatientFactory(practice=practice) for _ in range(2)]
    requests = [
        lambda p=p: client_with(key).patch(
            f"/api/v1/patients/{p.pk}/", {"chart_number": "C-99"}, format="json"
        )
        for p in patients
    ]
    responses = at_the_same_moment(Patient, requests)
    assert statuses(responses) == [200, 409]
    assert "chart_number" in loser(responses).json()
    with practice_scope(practice):
        assert Patient.objects.filter(chart_number="C-99").count() == 1


def intake_payload(practice, last_name: str) -> dict:
    with practice_scope(practice):
        office = OfficeFactory(practice=practice)
        provider = ProviderFactory(practice=practice, office=office)
    return {
        "patient_data": {
            "first_name": "Pat",
            "last_name": last_name,
            "date_of_birth": "1990-05-17",
            "chart_number": "C-88",
        },
        "source_type": "doctor",
        "referring_office": office.pk,
        "referring_provider": provider.pk,
        "case_type": "third_molars",
    }


def test_two_intakes_of_one_new_patient_at_once_share_the_patient(practice):
    # patient_data is "match by chart number, else create": the second intake matches the
    # patient the first one created a moment earlier.
    key = key_for(practice)
    payload = intake_payload(practice, "Synthetic")
    responses = at_the_same_moment(Patient, [post(key, "/api/v1/referrals/", payload)] * 2)
    assert statuses(responses) == [201, 201]
    with practice_scope(practice):
        patient = Patient.objects.get(chart_number="C-88")
        assert Referral.objects.filter(patient=patient).count() == 2
        assert {r.json()["patient"] for r in responses} == {patient.pk}


def test_two_intakes_of_different_people_with_one_chart_number_at_once(practice):
    key = key_for(practice)
    requests = [
        post(key, "/api/v1/referrals/", intake_payload(practice, last_name))
        for last_name in ("Synthetic", "Other")
    ]
    responses = at_the_same_moment(Patient, requests)
    assert statuses(responses) == [201, 409]
    assert "chart_number" in loser(responses).json()["patient_data"]
    with practice_scope(practice):
        assert Patient.objects.filter(chart_number="C-88").count() == 1
        # Nothing half-written: the refused intake left no referral behind.
        assert Referral.objects.count() == 1
