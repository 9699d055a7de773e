"""The "not duplicates" marker (referrals.patients.mark_not_duplicates): a patient's page
warns of the patients who look like them; "Not the same person" (or confirming a new patient
at intake) marks the pair, and that pair is never warned of again, others still are."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.models import AuditAction, AuditEntry
from practices.scoping import practice_scope
from referrals.choices import CaseType, SourceType
from referrals.models import DistinctPatientPair, Patient
from referrals.patients import mark_not_duplicates

from .factories import OfficeFactory, PatientFactory, ProviderFactory

BORN = dt.date(1988, 3, 9)


@pytest.fixture
def desk(client, front_desk_user):
    client.force_login(front_desk_user)
    return client


@pytest.fixture
def lookalikes(practice):
    """Jordan Lee, another Jordan Lee born the same day, and a Sam sharing Jordan's phone."""
    jordan = PatientFactory(
        practice=practice,
        first_name="Jordan",
        last_name="Lee",
        date_of_birth=BORN,
        phone="555-010-2030",
    )
    namesake = PatientFactory(
        practice=practice, first_name="Jordan", last_name="Lee", date_of_birth=BORN, phone=""
    )
    housemate = PatientFactory(
        practice=practice, first_name="Sam", last_name="Okafor", phone="(555) 010-2030"
    )
    return jordan, namesake, housemate


WARNED = re.compile(r'data-testid="patient-duplicate" data-patient-id="(\d+)"')


def warned(client, patient) -> list[int]:
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    return [int(pk) for pk in WARNED.findall(html)]


def not_duplicate(client, one, other):
    return client.post(reverse("patient_not_duplicate", args=[one.pk, other.pk]))


def test_the_patient_page_warns_of_lookalikes_with_the_reason(desk, lookalikes):
    jordan, namesake, housemate = lookalikes
    html = desk.get(reverse("patient_detail", args=[jordan.pk])).content.decode()
    assert "2 other patients may be the same person" in html
    assert "same name and date of birth" in html and "same phone" in html
    assert sorted(warned(desk, jordan)) == sorted([namesake.pk, housemate.pk])


def test_marking_a_pair_silences_that_pair_only_on_both_pages(desk, lookalikes, practice):
    jordan, namesake, housemate = lookalikes
    response = not_duplicate(desk, jordan, namesake)
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_detail", args=[jordan.pk])
    assert warned(desk, jordan) == [housemate.pk]
    assert warned(desk, namesake) == []  # the pair, seen from the other side
    assert warned(desk, housemate) == [jordan.pk]
    with scopes_disabled():
        pair = DistinctPatientPair.objects.get()
        entries = AuditEntry.objects.filter(action=AuditAction.CHANGED).order_by("patient_id")
        trail = [(e.patient_id, e.summary) for e in entries]
    assert (pair.practice_id, pair.first_id, pair.second_id) == (
        practice.pk,
        jordan.pk,
        namesake.pk,
    )
    assert trail == [
        (jordan.pk, f"Marked not a duplicate of patient #{namesake.pk}"),
        (namesake.pk, f"Marked not a duplicate of patient #{jordan.pk}"),
    ]


def test_marking_twice_or_from_the_other_side_stores_one_pair(desk, lookalikes):
    jordan, namesake, _ = lookalikes
    not_duplicate(desk, jordan, namesake)
    not_duplicate(desk, namesake, jordan)
    with scopes_disabled():
        assert DistinctPatientPair.objects.count() == 1
        assert AuditEntry.objects.filter(action=AuditAction.CHANGED).count() == 2


def test_another_practices_patient_is_404_and_nothing_is_stored(
    client, outsider, desk, lookalikes, other_practice
):
    jordan, namesake, _ = lookalikes
    with practice_scope(other_practice):
        theirs = PatientFactory(practice=other_practice, first_name="Jordan", last_name="Lee")
    assert not_duplicate(desk, jordan, theirs).status_code == 404
    assert not_duplicate(desk, theirs, jordan).status_code == 404
    assert not_duplicate(desk, jordan, jordan).status_code == 404
    client.force_login(outsider)
    assert not_duplicate(client, jordan, namesake).status_code == 404
    with scopes_disabled():
        assert not DistinctPatientPair.objects.exists()


def test_marking_needs_a_post(desk, lookalikes):
    jordan, namesake, _ = lookalikes
    url = reverse("patient_not_duplicate", args=[jordan.pk, namesake.pk])
    assert desk.get(url).status_code == 405


def test_confirming_a_new_patient_at_intake_marks_them_apart_from_the_warned_ones(
    desk, lookalikes, practice, front_desk_user
):
    jordan, namesake, housemate = lookalikes
    office = OfficeFactory(practice=practice)
    doctor = ProviderFactory(office=office)
    data = {
        "first_name": "Jordan",
        "last_name": "Lee",
        "date_of_birth": "03/09/1988",
        "phone": "",
        "source_type": SourceType.DOCTOR,
        "referring_office": office.pk,
        "referring_provider": doctor.pk,
        "case_type": CaseType.THIRD_MOLARS,
        "urgency": "routine",
        "received_on": dt.date.today().strftime("%Y-%m-%d"),
        "reason": "#17 impacted",
        "then": "case",
    }
    warning = desk.post(reverse("intake"), data).content.decode()
    assert 'data-testid="duplicate-warning"' in warning
    desk.post(reverse("intake"), {**data, "confirm_new_patient": "on"})
    with scopes_disabled():
        new = Patient.objects.exclude(pk__in=[jordan.pk, namesake.pk, housemate.pk]).get()
    # The third Jordan Lee was told apart from both at intake: no warning on their page.
    assert warned(desk, new) == []
    # Jordan and the namesake were not told apart from each other: still warned of.
    assert sorted(warned(desk, jordan)) == sorted([namesake.pk, housemate.pk])
    with scopes_disabled():
        summaries = set(
            AuditEntry.objects.filter(action=AuditAction.CHANGED, patient_id=new.pk).values_list(
                "summary", flat=True
            )
        )
    assert summaries == {
        f"Marked not a duplicate of patient #{jordan.pk} (intake)",
        f"Marked not a duplicate of patient #{namesake.pk} (intake)",
    }


def test_the_service_refuses_a_patient_paired_with_themselves(in_practice, lookalikes):
    jordan, _, _ = lookalikes
    with pytest.raises(ValueError):
        mark_not_duplicates(jordan, jordan, by=None)
