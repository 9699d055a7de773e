"""Every read and change of patient data leaves an audit entry: who (person, API key or GP
status link), what, which patient, from where. A list records one ``listed`` entry with
its count, and the audit costs a page exactly one INSERT."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from communications.models import Letter, LetterStatus
from communications.status_links import create_status_link
from practices.models import ActorKind, AuditAction, AuditEntry
from practices.scoping import practice_scope
from referrals.choices import MilestoneKind as K
from referrals.choices import Status

from ..api_support import client_with, key_for
from ..communications.letter_cases import letters_of, make_case, step
from ..factories import PatientFactory
from ..test_timeline import advance_to, new_case
from ..test_worklist import WORKLIST_MAX_QUERIES

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def entries(**filters) -> list[AuditEntry]:
    """The entries of the looks and changes under test: the login each test starts with
    (``force_login``) is recorded too, and tested in tests/security/test_accounts.py."""
    with scopes_disabled():
        found = AuditEntry.objects.filter(**filters).exclude(action=AuditAction.LOGIN)
        return list(found.order_by("id"))


def only_entry(**filters) -> AuditEntry:
    found = entries(**filters)
    assert len(found) == 1, [(e.action, e.object_type, e.summary) for e in found]
    return found[0]


def audit_inserts(captured) -> list[str]:
    table = AuditEntry._meta.db_table
    return [q["sql"] for q in captured.captured_queries if f'INSERT INTO "{table}"' in q["sql"]]


@pytest.fixture
def case(practice):
    """Robin Quill's case at consult scheduled, with the consult letter sent."""
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
        Letter.objects.filter(pk=letter.pk).update(status=LetterStatus.SENT, sent_at=timezone.now())
        referral.refresh_from_db()
    return referral


def test_viewing_a_patient_records_who_which_patient_and_from_where(admin_client, admin_user, case):
    response = admin_client.get(
        reverse("patient_detail", args=[case.patient_id]),
        HTTP_USER_AGENT=UA,
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    entry = only_entry(action=AuditAction.VIEWED, object_type="patient")
    assert (entry.practice_id, entry.patient_id, entry.object_id) == (
        case.practice_id,
        case.patient_id,
        str(case.patient_id),
    )
    assert (entry.actor_kind, entry.actor_user_id, entry.actor_label) == (
        ActorKind.USER,
        admin_user.pk,
        "admin@lakeside.test",
    )
    assert (entry.ip_address, entry.user_agent) == ("203.0.113.9", UA)
    assert entry.path == f"/patients/{case.patient_id}/"
    # Ids and labels only: the patient's name never reaches the log.
    assert "Quill" not in f"{entry.summary}{entry.actor_label}{entry.path}"


def test_viewing_a_case_records_one_viewed_entry(admin_client, case):
    response = admin_client.get(reverse("referral_detail", args=[case.pk]))
    assert response.status_code == 200
    entry = only_entry(action=AuditAction.VIEWED)
    assert (entry.object_type, entry.object_id, entry.patient_id) == (
        "referral",
        str(case.pk),
        case.patient_id,
    )


def test_another_practices_patient_is_a_404_and_records_nothing(client, outsider, case):
    client.force_login(outsider)
    assert client.get(reverse("patient_detail", args=[case.patient_id])).status_code == 404
    assert entries() == []


def test_recording_a_step_is_a_change_and_undoing_it_a_delete(coordinator_user, client, practice):
    client.force_login(coordinator_user)
    with practice_scope(practice):
        referral = advance_to(new_case(practice), Status.CONSULT_SCHEDULED)
    response = client.post(
        reverse("referral_step", args=[referral.pk, K.CONSULT_COMPLETED]), {"findings": "x"}
    )
    assert response.status_code == 302
    change = only_entry(action=AuditAction.CHANGED)
    assert (change.object_type, change.patient_id) == ("referral", referral.patient_id)
    assert change.summary == "Step: Consult completed"

    response = client.post(
        reverse("referral_undo", args=[referral.pk]), {"void_reason": "Wrong patient"}
    )
    assert response.status_code == 302
    undo = only_entry(action=AuditAction.DELETED)
    assert (undo.object_type, undo.patient_id) == ("milestoneevent", referral.patient_id)
    assert undo.summary.startswith("Undid step: Consult completed")


def test_downloading_a_letter_pdf_records_a_download(admin_client, case):
    with scopes_disabled():
        letter = Letter.objects.get(referral=case)
    response = admin_client.get(reverse("letter_download", args=[letter.pk]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    entry = only_entry(action=AuditAction.DOWNLOADED)
    assert (entry.object_type, entry.object_id, entry.patient_id) == (
        "letter",
        str(letter.pk),
        case.patient_id,
    )


@pytest.mark.parametrize(("route", "file_type"), [("report_csv", "CSV"), ("report_pdf", "PDF")])
def test_exporting_a_report_records_its_name_and_filters(admin_client, case, route, file_type):
    url = reverse(route, args=["referral-volume"])
    response = admin_client.get(url, {"period": "month"})
    assert response.status_code == 200
    entry = only_entry(action=AuditAction.EXPORTED)
    assert (entry.object_type, entry.object_id, entry.patient_id) == (
        "report",
        "referral-volume",
        None,
    )
    assert entry.summary.startswith(f"Report: Referral volume, {file_type}; ")
    assert "Quill" not in entry.summary


def test_a_list_records_one_listed_entry_with_its_count(admin_client, practice):
    with practice_scope(practice):
        for _ in range(3):
            new_case(practice)
    response = admin_client.get(reverse("worklist"))
    assert response.status_code == 200
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.count) == (AuditAction.LISTED, "referral", 3)


def test_the_audit_costs_the_worklist_exactly_one_insert(
    admin_client, practice, django_assert_max_num_queries
):
    with practice_scope(practice):
        for _ in range(5):
            new_case(practice)
    admin_client.get(reverse("worklist"))  # the first request of a session saves it
    # The worklist's own budget (tests/test_worklist.py) counts the audit's one INSERT.
    with django_assert_max_num_queries(WORKLIST_MAX_QUERIES) as captured:
        response = admin_client.get(reverse("worklist"))
    assert response.status_code == 200
    assert len(audit_inserts(captured)) == 1


def test_the_api_key_is_the_actor_of_an_api_read(practice, case):
    raw_key = key_for(practice, name="Dentrix bridge")
    response = client_with(raw_key).get(f"/api/v1/patients/{case.patient_id}/")
    assert response.status_code == 200
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.patient_id) == (
        AuditAction.VIEWED,
        "patient",
        case.patient_id,
    )
    assert entry.actor_kind == ActorKind.API_KEY
    assert entry.actor_user_id is None
    assert entry.actor_label.startswith("API key Dentrix bridge (")
    assert raw_key not in entry.actor_label  # the prefix only, never the key


def test_api_lists_and_writes_are_recorded_and_refusals_are_not(practice, case):
    api = client_with(key_for(practice))
    assert api.get("/api/v1/referrals/").status_code == 200
    listed = only_entry(action=AuditAction.LISTED)
    assert (listed.object_type, listed.count) == ("referral", 1)

    assert api.get(f"/api/v1/referrals/{case.pk}/events/").status_code == 200
    assert only_entry(action=AuditAction.VIEWED).object_id == str(case.pk)

    response = api.post(
        f"/api/v1/referrals/{case.pk}/events/",
        {"kind": "consult_completed", "findings": "x", "recommendation": "y"},
        format="json",
    )
    assert response.status_code == 201, response.content
    change = only_entry(action=AuditAction.CHANGED)
    assert (change.object_type, change.patient_id) == ("milestoneevent", case.patient_id)

    # A refused step (409) and a call without a key (401) read and wrote nothing.
    refused = api.post(f"/api/v1/referrals/{case.pk}/events/", {"kind": "closed"}, format="json")
    assert refused.status_code == 409
    assert client_with(None).get("/api/v1/patients/").status_code == 401
    assert len(entries()) == 3


def test_creating_a_patient_through_the_api_is_recorded(practice):
    api = client_with(key_for(practice))
    response = api.post(
        "/api/v1/patients/",
        {"first_name": "Ana", "last_name": "Ruiz", "date_of_birth": "1980-02-03"},
        format="json",
    )
    assert response.status_code == 201, response.content
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.patient_id) == (
        AuditAction.CREATED,
        "patient",
        response.json()["id"],
    )


def test_the_status_token_is_the_actor_on_the_gp_status_page(client, practice, case):
    with practice_scope(practice):
        link, token = create_status_link(case.referring_office)
    response = client.get(reverse("status_page", args=[token]))
    assert response.status_code == 200
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.count) == (AuditAction.LISTED, "referral", 1)
    assert entry.practice_id == practice.pk
    assert entry.actor_kind == ActorKind.STATUS_TOKEN
    assert entry.actor_label == (
        f"GP status link #{link.pk} of referring office #{case.referring_office_id}"
    )
    assert token not in entry.actor_label

    with scopes_disabled():
        letter = Letter.objects.get(referral=case)
    pdf = client.get(reverse("status_letter_pdf", args=[token, letter.pk]))
    assert pdf.status_code == 200
    download = only_entry(action=AuditAction.DOWNLOADED)
    assert (download.actor_kind, download.patient_id) == (ActorKind.STATUS_TOKEN, case.patient_id)


def test_a_patient_search_records_one_listed_entry_not_the_words(admin_client, practice):
    with practice_scope(practice):
        PatientFactory(practice=practice, first_name="Robin", last_name="Quillfeather")
        PatientFactory(practice=practice, first_name="Rae", last_name="Quillon")
    response = admin_client.get(reverse("intake_patient_search"), {"q": "Quill"})
    assert response.status_code == 200
    entry = only_entry()
    assert (entry.action, entry.object_type, entry.count) == (AuditAction.LISTED, "patient", 2)
    assert "Quill" not in entry.summary and "Quill" not in entry.path


def test_printing_letters_together_writes_one_entry_per_letter_in_one_insert(
    admin_client, practice
):
    from referrals.choices import LetterChannel

    with practice_scope(practice):
        cases = [make_case(practice, channel=LetterChannel.MAIL) for _ in range(2)]
        for referral in cases:
            step(referral, K.CONSULT_SCHEDULED)
        queued = list(Letter.objects.filter(status=LetterStatus.PRINT_QUEUED))
    assert len(queued) == 2
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.post(
            reverse("print_queue_mark_many"), {"letter": [str(q.pk) for q in queued]}
        )
    assert response.status_code == 302
    assert len(audit_inserts(captured)) == 1
    printed = entries(action=AuditAction.PRINTED)
    assert sorted(e.patient_id for e in printed) == sorted(c.patient_id for c in cases)


def test_support_staff_in_the_django_admin_are_audited_too(client, practice, case):
    from ..test_admin import _staff

    client.force_login(_staff(practice, "operator@platform.test", superuser=True))
    response = client.get(f"/admin/referrals/patient/{case.patient_id}/change/")
    assert response.status_code == 200
    viewed = only_entry(action=AuditAction.VIEWED)
    assert (viewed.actor_label, viewed.patient_id, viewed.summary) == (
        "operator@platform.test",
        case.patient_id,
        "Django admin",
    )
    assert client.get("/admin/referrals/patient/").status_code == 200
    listed = only_entry(action=AuditAction.LISTED)
    assert (listed.object_type, listed.count) == ("patient", 1)


def test_intake_records_the_look_at_a_chosen_patient_and_the_new_referral(
    client, front_desk_user, practice
):
    from ..factories import OfficeFactory, ProviderFactory
    from ..test_intake import intake_data

    client.force_login(front_desk_user)
    with practice_scope(practice):
        patient = PatientFactory(practice=practice)
        office = OfficeFactory(practice=practice)
        doctor = ProviderFactory(practice=practice, office=office)
    assert client.get(reverse("intake"), {"patient": patient.pk}).status_code == 200
    assert only_entry().patient_id == patient.pk
    response = client.post(
        reverse("intake"),
        intake_data(patient=patient.pk, referring_office=office.pk, referring_provider=doctor.pk),
    )
    assert response.status_code == 302
    created = only_entry(action=AuditAction.CREATED)
    assert (created.object_type, created.patient_id, created.actor_user_id) == (
        "referral",
        patient.pk,
        front_desk_user.pk,
    )
