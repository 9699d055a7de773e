"""Loop closure: letters due so far vs sent per case (a letter skipped for want of an
address is not sent), the office's on-time rate over 12 months, and the overdue-letter
worklist; another practice sees none of it."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from communications import loop_closure
from communications.delivery import CANCELLED_REASON
from communications.models import Letter, LetterStatus
from practices.models import settings_for
from practices.scoping import practice_scope
from referrals import services
from referrals.choices import MilestoneKind as K

from ..factories import OfficeFactory
from .letter_cases import letters_of, make_case, step

NOW = dt.datetime(2026, 6, 15, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def set_letter(letter, status, *, sent_after=None, due_ago=None):
    due_at = NOW - due_ago if due_ago is not None else letter.due_at
    sent_at = due_at + sent_after if sent_after is not None else None
    Letter.objects.filter(pk=letter.pk).update(status=status, due_at=due_at, sent_at=sent_at)


def test_a_case_loop_counts_due_letters_and_the_sent_ones(in_practice):
    referral = make_case(in_practice)
    step(referral, K.CONSULT_SCHEDULED)
    step(referral, K.CONSULT_COMPLETED)
    first, second = letters_of(referral)
    set_letter(first, LetterStatus.SENT, sent_after=dt.timedelta(hours=1))
    loop = loop_closure.loop_for(referral)
    assert (loop.due, loop.sent, loop.closed) == (2, 1, False)
    assert [letter.pk for letter in loop.open_letters] == [second.pk]
    set_letter(second, LetterStatus.PRINTED, sent_after=dt.timedelta(hours=2))
    assert loop_closure.loop_for(referral).closed


def test_a_letter_skipped_for_no_email_keeps_the_loop_open(in_practice):
    office = OfficeFactory(practice=in_practice, email="")
    referral = make_case(in_practice, office=office, provider_email="")
    step(referral, K.CONSULT_SCHEDULED)
    (letter,) = letters_of(referral)
    assert letter.status == LetterStatus.SKIPPED
    loop = loop_closure.loop_for(referral)
    assert (loop.due, loop.sent) == (1, 0)
    assert "No email on file" in loop.open_letters[0].reason


def test_letters_not_yet_due_voided_or_cancelled_are_not_counted(in_practice):
    referral = make_case(in_practice)
    step(referral, K.CONSULT_SCHEDULED)
    (booked,) = letters_of(referral)
    # A post-op update whose morning has not come is not due yet.
    Letter.objects.filter(pk=booked.pk).update(due_at=NOW + dt.timedelta(days=2))
    assert loop_closure.loop_for(referral).due == 0
    Letter.objects.filter(pk=booked.pk).update(
        due_at=NOW, status=LetterStatus.SKIPPED, reason=CANCELLED_REASON
    )
    assert loop_closure.loop_for(referral).due == 0
    Letter.objects.filter(pk=booked.pk).update(status=LetterStatus.QUEUED, reason="")
    services.void_last_milestone(referral, by=None, reason="Booked by mistake")
    assert loop_closure.loop_for(referral).due == 0


def test_office_rate_is_the_share_of_referrals_with_every_letter_on_time(in_practice):
    office = OfficeFactory(practice=in_practice, email="front@oak.example")
    on_time, late, unsent, old = (
        make_case(in_practice, office=office, first_name=name) for name in "ABCD"
    )
    for referral in (on_time, late, unsent, old):
        step(referral, K.CONSULT_SCHEDULED)
    days = settings_for(in_practice).loop_closure_days
    (a,) = letters_of(on_time)
    set_letter(a, LetterStatus.SENT, due_ago=dt.timedelta(days=30), sent_after=dt.timedelta(1))
    (b,) = letters_of(late)
    set_letter(
        b,
        LetterStatus.SENT,
        due_ago=dt.timedelta(days=30),
        sent_after=dt.timedelta(days=days, hours=1),
    )
    (c,) = letters_of(unsent)
    set_letter(c, LetterStatus.FAILED, due_ago=dt.timedelta(days=10))
    (d,) = letters_of(old)  # outside the 12 months
    set_letter(d, LetterStatus.FAILED, due_ago=dt.timedelta(days=400))
    rate = loop_closure.office_loop_rates(in_practice, [office.pk])[office.pk]
    assert (rate.closed, rate.total, rate.percent) == (1, 3, 33)


def test_overdue_means_due_more_than_the_grace_days_ago_and_not_sent(in_practice):
    referral = make_case(in_practice)
    step(referral, K.CONSULT_SCHEDULED)
    step(referral, K.CONSULT_COMPLETED)
    recent, old = letters_of(referral)
    set_letter(recent, LetterStatus.FAILED, due_ago=dt.timedelta(days=2))
    set_letter(old, LetterStatus.QUEUED, due_ago=dt.timedelta(days=4))
    assert list(loop_closure.overdue_letters(in_practice)) == [old]
    set_letter(old, LetterStatus.SENT, due_ago=dt.timedelta(days=4), sent_after=dt.timedelta(5))
    assert list(loop_closure.overdue_letters(in_practice)) == []


@pytest.fixture
def overdue_case(practice):
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
        set_letter(letter, LetterStatus.FAILED, due_ago=dt.timedelta(days=6))
        Letter.objects.filter(pk=letter.pk).update(reason="550 mailbox unavailable")
    return referral


def test_overdue_worklist_lists_cases_with_an_overdue_letter_and_why(admin_client, overdue_case):
    html = admin_client.get(reverse("letters_overdue")).content.decode()
    assert html.count('data-testid="overdue-case"') == 1
    assert "Robin Quill" in html and "550 mailbox unavailable" in html
    assert "Maple Street Dental" in html


def test_overdue_worklist_is_empty_for_another_practice(client, outsider, overdue_case):
    client.force_login(outsider)
    html = client.get(reverse("letters_overdue")).content.decode()
    assert "Robin Quill" not in html and 'data-testid="overdue-none"' in html


def test_case_and_office_pages_show_the_loop(admin_client, overdue_case):
    html = admin_client.get(reverse("referral_detail", args=[overdue_case.pk])).content.decode()
    assert "Loop: 0 of 1 letter sent" in html
    url = reverse("office_detail", args=[overdue_case.referring_office_id])
    html = admin_client.get(url).content.decode()
    assert "0 of 1" in html and "1 overdue letter" in html


def test_overdue_worklist_queries_do_not_grow(admin_client, practice, overdue_case):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("letters_overdue")).status_code == 200
        return len(captured)

    admin_client.get(reverse("letters_overdue"))
    one = queries()
    with practice_scope(practice):
        for i in range(8):
            referral = make_case(practice, first_name=f"Pat{i}", last_name="Lee")
            step(referral, K.CONSULT_SCHEDULED)
            (letter,) = letters_of(referral)
            set_letter(letter, LetterStatus.FAILED, due_ago=dt.timedelta(days=9))
    assert queries() == one
    assert timezone.now() == NOW


def test_the_referrer_board_shows_each_office_loop_rate(admin_client, practice):
    from analytics.nightly import recompute

    with practice_scope(practice):
        referral = make_case(practice)
        step(referral, K.CONSULT_SCHEDULED)
        (letter,) = letters_of(referral)
        set_letter(
            letter, LetterStatus.SENT, due_ago=dt.timedelta(days=5), sent_after=dt.timedelta(0)
        )
        recompute(practice, timezone.localdate())
    html = admin_client.get(reverse("referrer_board")).content.decode()
    assert "Loop closed" in html
    assert 'data-testid="loop-rate"><span title="1 of 1 referrals">100%</span>' in html


def test_the_nightly_job_opens_one_overdue_letter_alert_per_office(practice, overdue_case):
    from alerts.choices import AlertKind
    from alerts.models import Alert
    from analytics.nightly import recompute

    with practice_scope(practice):
        recompute(practice, NOW.date())
        recompute(practice, NOW.date() + dt.timedelta(days=1))
        alert = Alert.objects.get(kind=AlertKind.LETTER_OVERDUE)
        assert alert.office_id == overdue_case.referring_office_id
        assert alert.detail == "1 letter due more than 3 days ago not sent yet."
        assert "Robin" not in alert.title + alert.detail  # no PHI in alerts
