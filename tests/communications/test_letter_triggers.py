"""Which milestone writes which GP letter, to whom, by which channel — written in the
milestone's own transaction, dispatched after the commit, and never for imported history
or a referral without a referring office."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from communications.letters import DISPATCH_GRACE, letters_due_for
from communications.models import Letter, LetterKind, LetterStatus
from communications.receivers import queue_letters_on_milestone
from practices.models import settings_for
from practices.scoping import practice_scope
from referrals import services
from referrals.choices import LetterChannel, SourceType
from referrals.choices import MilestoneKind as K
from referrals.importing.pipeline import import_csv
from referrals.models import Referral

from ..api_support import client_with, key_for
from .letter_cases import (
    TO_SURGERY,
    dispatched_letters,
    journey,
    letters_of,
    make_case,
    step,
    tasks_run_inline,
)

NY = ZoneInfo("America/New_York")


@pytest.fixture
def eager_tasks():
    with tasks_run_inline():
        yield


def kinds(letters) -> list[tuple[str, int, str]]:
    return [(letter.kind, letter.interval_days, letter.status) for letter in letters]


def test_a_booked_consult_queues_a_letter_to_the_referring_doctor(
    in_practice, django_capture_on_commit_callbacks
):
    referral = make_case(in_practice)
    with django_capture_on_commit_callbacks() as dispatched:
        event = step(referral, K.CONSULT_SCHEDULED)

    (letter,) = letters_of(referral)
    provider = referral.referring_provider
    assert letter.kind == LetterKind.CONSULT_SCHEDULED
    assert letter.event == event
    assert letter.office == referral.referring_office
    assert letter.status == LetterStatus.QUEUED
    assert (letter.recipient_key, letter.recipient_name, letter.recipient_email) == (
        f"provider:{provider.pk}",
        "Dr. Jordan Vale",
        "dr.vale@maple.example",
    )
    assert letter.channel == LetterChannel.EMAIL
    assert letter.due_at <= timezone.now()
    # The worker is asked after the commit; the sweeper steps in if it never comes.
    assert letter.next_attempt_at == letter.due_at + DISPATCH_GRACE
    assert dispatched_letters(dispatched) == [letter.pk]


@time_machine.travel(dt.datetime(2026, 10, 20, 9, 30, tzinfo=NY), tick=False)
def test_each_milestone_of_a_journey_writes_its_letters(in_practice):
    referral = make_case(in_practice)

    journey(referral, K.CONSULT_SCHEDULED, K.CONSULT_COMPLETED, K.TREATMENT_ACCEPTED)
    assert kinds(letters_of(referral)) == [
        (LetterKind.CONSULT_SCHEDULED, 0, LetterStatus.QUEUED),
        (LetterKind.CONSULT_COMPLETED, 0, LetterStatus.QUEUED),
    ]

    step(referral, K.SURGERY_SCHEDULED)
    surgery = step(
        referral, K.SURGERY_COMPLETED, occurred_at=dt.datetime(2026, 10, 26, 15, 0, tzinfo=NY)
    )
    updates = [letter for letter in letters_of(referral) if letter.event == surgery]
    assert kinds(updates) == [
        (LetterKind.POSTOP_UPDATE, 7, LetterStatus.SCHEDULED),
        (LetterKind.POSTOP_UPDATE, 42, LetterStatus.SCHEDULED),
    ]
    # On the practice's local morning, across the end of daylight saving time (Nov 1).
    assert [u.due_at.astimezone(NY) for u in updates] == [
        dt.datetime(2026, 11, 2, 8, 0, tzinfo=NY),
        dt.datetime(2026, 12, 7, 8, 0, tzinfo=NY),
    ]
    assert all(u.next_attempt_at is None for u in updates)

    step(referral, K.CLOSED)
    assert kinds(letters_of(referral)) == [
        (LetterKind.CONSULT_SCHEDULED, 0, LetterStatus.QUEUED),
        (LetterKind.CONSULT_COMPLETED, 0, LetterStatus.QUEUED),
        (LetterKind.SURGERY_SCHEDULED, 0, LetterStatus.QUEUED),
        (LetterKind.POSTOP_UPDATE, 7, LetterStatus.SCHEDULED),
        (LetterKind.POSTOP_UPDATE, 42, LetterStatus.SCHEDULED),
        (LetterKind.POSTOP_CONCLUDED, 0, LetterStatus.QUEUED),
    ]


def test_the_practice_sets_the_post_op_intervals(in_practice):
    options = settings_for(in_practice)
    options.postop_update_days = "3, 14, 90"
    options.save()
    referral = make_case(in_practice)
    journey(referral, *TO_SURGERY)
    updates = Letter.objects.filter(referral=referral, kind=LetterKind.POSTOP_UPDATE)
    assert sorted(updates.values_list("interval_days", flat=True)) == [3, 14, 90]


def test_a_case_closed_without_surgery_gets_no_post_op_letter(in_practice):
    referral = make_case(in_practice)
    journey(referral, K.CONSULT_COMPLETED, K.TREATMENT_DECLINED, K.CLOSED)
    assert kinds(letters_of(referral)) == [(LetterKind.CONSULT_COMPLETED, 0, LetterStatus.QUEUED)]


def test_steps_without_a_letter_write_none(in_practice):
    referral = make_case(in_practice)
    journey(referral, K.CONSULT_SCHEDULED, K.NO_SHOW, K.CANCELLED)
    assert kinds(letters_of(referral)) == [(LetterKind.CONSULT_SCHEDULED, 0, LetterStatus.QUEUED)]


def test_the_letter_is_written_in_the_milestone_transaction(
    in_practice, django_capture_on_commit_callbacks
):
    referral = make_case(in_practice)
    with (
        django_capture_on_commit_callbacks() as dispatched,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        step(referral, K.CONSULT_SCHEDULED)
        assert Letter.objects.filter(referral=referral).count() == 1
        raise RuntimeError("the request fails after the step")
    # Rolled back together: no event, no letter, nothing dispatched.
    assert not referral.events.filter(kind=K.CONSULT_SCHEDULED).exists()
    assert letters_of(referral) == []
    assert dispatched_letters(dispatched) == []


def test_a_repeated_trigger_is_harmless(in_practice, django_capture_on_commit_callbacks):
    referral = make_case(in_practice)
    with django_capture_on_commit_callbacks() as dispatched:
        event = step(referral, K.CONSULT_SCHEDULED)
        with transaction.atomic():
            queue_letters_on_milestone(sender=Referral, referral=referral, event=event)
            queue_letters_on_milestone(sender=Referral, referral=referral, event=event)
    (letter,) = letters_of(referral)
    assert dispatched_letters(dispatched) == [letter.pk]


def test_a_repeated_post_op_trigger_is_harmless(in_practice):
    referral = make_case(in_practice)
    surgery = journey(referral, *TO_SURGERY)[-1]
    queue_letters_on_milestone(sender=Referral, referral=referral, event=surgery)
    assert Letter.objects.filter(event=surgery).count() == 2


# --- to whom, by which channel --------------------------------------------------------------


def test_the_office_gets_it_when_the_doctor_has_no_email(in_practice):
    referral = make_case(in_practice, provider_email=None, office_email="front@maple.example")
    step(referral, K.CONSULT_SCHEDULED)
    (letter,) = letters_of(referral)
    office = referral.referring_office
    assert (letter.recipient_key, letter.recipient_name, letter.recipient_email) == (
        f"office:{office.pk}",
        "Maple Street Dental",
        "front@maple.example",
    )
    assert letter.status == LetterStatus.QUEUED


def test_a_referral_naming_only_the_office_writes_to_the_office(in_practice):
    referral = make_case(in_practice, with_provider=False)
    step(referral, K.CONSULT_SCHEDULED)
    (letter,) = letters_of(referral)
    assert letter.recipient_key == f"office:{referral.referring_office_id}"


def test_no_email_on_file_skips_the_letter_and_says_why(
    in_practice, django_capture_on_commit_callbacks
):
    referral = make_case(in_practice, provider_email=None, office_email="")
    with django_capture_on_commit_callbacks() as dispatched:
        step(referral, K.CONSULT_SCHEDULED)
    (letter,) = letters_of(referral)
    assert letter.status == LetterStatus.SKIPPED
    assert letter.reason == "No email on file for Dr. Jordan Vale or Maple Street Dental."
    assert dispatched_letters(dispatched) == []


@pytest.mark.parametrize("channel", [LetterChannel.FAX, LetterChannel.MAIL])
def test_fax_and_mail_offices_get_their_letters_through_the_print_queue(
    in_practice, channel, django_capture_on_commit_callbacks
):
    referral = make_case(in_practice, channel=channel, provider_email=None, office_email="")
    with django_capture_on_commit_callbacks() as dispatched:
        step(referral, K.CONSULT_SCHEDULED)
    (letter,) = letters_of(referral)
    assert letter.status == LetterStatus.PRINT_QUEUED
    assert letter.channel == channel
    assert letter.recipient_name == "Dr. Jordan Vale"
    assert dispatched_letters(dispatched) == []  # a person prints or faxes it, no worker


# --- never for history, never without an office -------------------------------------------


def test_imported_history_writes_no_letters(in_practice):
    referral = make_case(in_practice, historical=True)
    journey(referral, *TO_SURGERY, historical=True)
    step(referral, K.CLOSED, historical=True)
    assert letters_of(referral) == []


def test_a_historical_referral_writes_none_even_when_a_signal_says_live(in_practice):
    # e.g. a PMS pushing the next step of an imported case through the API.
    referral = make_case(in_practice, historical=True)
    step(referral, K.CONSULT_SCHEDULED)
    assert letters_of(referral) == []


def test_a_historical_signal_writes_none_for_a_live_referral(in_practice):
    referral = make_case(in_practice)
    step(referral, K.CONSULT_SCHEDULED, historical=True)
    assert letters_of(referral) == []


def test_the_csv_import_of_history_writes_no_letters(in_practice):
    rows = [
        "chart_number,patient_first_name,patient_last_name,patient_dob,referral_date,"
        "source_type,referring_office,referring_provider,office_zip,case_type,consult_date,"
        "decision,decision_date,surgery_date,production",
        "C1,Ann,Lee,1990-01-02,2025-01-05,doctor,Maple Dental,Dr. Jane Smith,12345,"
        "third_molars,2025-01-10,accepted,2025-01-12,2025-02-01,1200",
        "C2,Bob,Ray,1980-03-04,2025-02-05,doctor,Maple Dental,Dr. Jane Smith,12345,"
        "implants,2025-02-10,,,,",
    ]
    report = import_csv(in_practice, io.BytesIO("\n".join(rows).encode()))
    assert report.errors == []
    assert Referral.objects.count() == 2
    assert not Letter.objects.exists()


@pytest.mark.parametrize("source", [SourceType.SELF, SourceType.WEBSITE, SourceType.INSURANCE])
def test_referrals_without_a_referring_office_get_no_letters(in_practice, source):
    referral = make_case(in_practice, source=source)
    journey(referral, *TO_SURGERY)
    step(referral, K.CLOSED)
    assert letters_of(referral) == []


def test_a_voided_event_calls_for_no_letter(in_practice, admin_user):
    referral = make_case(in_practice)
    event = step(referral, K.CONSULT_SCHEDULED)
    services.void_last_milestone(referral, by=admin_user, reason="Wrong patient")
    event.refresh_from_db()
    assert letters_due_for(event) == []


# --- the other ways in: the API and the case page -----------------------------------------


def test_a_milestone_pushed_through_the_api_queues_and_sends_its_letter(
    practice, eager_tasks, django_capture_on_commit_callbacks, mailoutbox
):
    with practice_scope(practice):
        referral = make_case(practice)
    api = client_with(key_for(practice))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/referrals/{referral.pk}/events/",
            {"kind": "consult_completed", "findings": "Impacted #32"},
            format="json",
        )
    assert response.status_code == 201, response.content
    with practice_scope(practice):
        (letter,) = letters_of(referral)
    assert letter.kind == LetterKind.CONSULT_COMPLETED
    assert letter.event_id == response.json()["id"]
    assert letter.status == LetterStatus.SENT
    assert [m.to for m in mailoutbox] == [["dr.vale@maple.example"]]


def test_a_step_recorded_on_the_case_page_queues_its_letter(client, admin_user, practice):
    client.force_login(admin_user)
    with practice_scope(practice):
        referral = make_case(practice)
    response = client.post(
        reverse("referral_step", args=[referral.pk, K.CONSULT_COMPLETED]),
        {"findings": "Impacted #17", "recommendation": "Extraction"},
    )
    assert response.status_code == 302
    with practice_scope(practice):
        assert kinds(letters_of(referral)) == [
            (LetterKind.CONSULT_COMPLETED, 0, LetterStatus.QUEUED)
        ]
