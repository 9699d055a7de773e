"""Post-op updates go out on their day, in the practice's local morning: a surgery on day
D gives updates due D+7 and D+42 (the practice's intervals); the sweeper sends nothing
before, the first on D+7; a cancelled case gets none."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from communications.models import Letter, LetterKind, LetterStatus
from communications.tasks import sweep_letters
from referrals import services
from referrals.choices import LetterChannel
from referrals.choices import MilestoneKind as K

from ..smtp import serve_smtp
from .letter_cases import TO_SURGERY, journey, letters_of, make_case, step, tasks_run_inline

NY = ZoneInfo("America/New_York")
# Surgery on Monday 26 October 2026 in the afternoon; daylight saving time ends on 1 Nov.
SURGERY_DAY = dt.date(2026, 10, 26)


def at(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
    day = SURGERY_DAY + dt.timedelta(days=day_offset)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


@pytest.fixture(autouse=True)
def eager_tasks():
    with tasks_run_inline():
        yield


def operated_case(practice, **case):
    """A case whose surgery was completed on SURGERY_DAY at 15:00; the earlier letters
    are sent already (the tests watch the post-op updates only)."""
    with time_machine.travel(at(0, 15), tick=False):
        referral = make_case(practice, **case)
        journey(referral, *TO_SURGERY)
    Letter.objects.filter(referral=referral).exclude(kind=LetterKind.POSTOP_UPDATE).update(
        status=LetterStatus.SENT
    )
    return referral


def sweep_at(moment: dt.datetime) -> dict:
    with time_machine.travel(moment, tick=False):
        return sweep_letters()


def updates(referral) -> list[tuple[int, str]]:
    return [
        (letter.interval_days, letter.status)
        for letter in letters_of(referral)
        if letter.kind == LetterKind.POSTOP_UPDATE
    ]


def test_updates_are_sent_on_their_local_morning_and_not_before(in_practice, smtp_server):
    referral = operated_case(in_practice)
    assert updates(referral) == [(7, LetterStatus.SCHEDULED), (42, LetterStatus.SCHEDULED)]

    sweep_at(at(6, 9))  # D+6
    sweep_at(at(7, 7, 59))  # D+7, before the morning
    assert smtp_server.messages == []
    assert updates(referral) == [(7, LetterStatus.SCHEDULED), (42, LetterStatus.SCHEDULED)]

    counts = sweep_at(at(7, 8, 0))  # D+7 at 08:00 New York time (EST by then)
    assert counts["postop_queued"] == 1
    assert updates(referral) == [(7, LetterStatus.SENT), (42, LetterStatus.SCHEDULED)]
    (message,) = smtp_server.messages
    assert message["Subject"] and message["X-Correlation-ID"]

    sweep_at(at(41, 12))
    assert len(smtp_server.messages) == 1
    sweep_at(at(42, 8, 5))
    assert updates(referral) == [(7, LetterStatus.SENT), (42, LetterStatus.SENT)]
    assert len(smtp_server.messages) == 2
    assert len(smtp_server.count_by_header()) == 2  # two letters, once each


def test_a_closed_case_still_gets_its_updates_after_the_concluding_letter(in_practice, smtp_server):
    referral = operated_case(in_practice)
    with time_machine.travel(at(3, 10), tick=False):
        step(referral, K.CLOSED)
    sweep_at(at(3, 10, 5))
    sweep_at(at(7, 8))
    sent = [(x.kind, x.interval_days) for x in letters_of(referral) if x.sent_at is not None]
    assert sent == [(LetterKind.POSTOP_UPDATE, 7), (LetterKind.POSTOP_CONCLUDED, 0)]
    assert len(smtp_server.messages) == 2


def test_a_cancelled_case_gets_no_post_op_update(in_practice, admin_user, smtp_server):
    referral = operated_case(in_practice)
    # The surgery was recorded on the wrong case: undone, and this case cancelled.
    with time_machine.travel(at(1, 9), tick=False):
        services.void_last_milestone(referral, by=admin_user, reason="Wrong case")
        step(referral, K.CANCELLED)
    sweep_at(at(7, 8))
    sweep_at(at(42, 8))
    assert smtp_server.messages == []
    assert updates(referral) == [(7, LetterStatus.SKIPPED), (42, LetterStatus.SKIPPED)]


def test_a_cancelled_case_skips_a_waiting_update_when_its_day_comes(in_practice, smtp_server):
    referral = operated_case(in_practice)
    # (The state machine does not cancel after surgery; a case cancelled by other means —
    # an admin correction — must still not mail the GP.)
    referral.status = "cancelled"
    referral.save(update_fields=["status"])
    counts = sweep_at(at(7, 8))
    assert counts["postop_skipped"] == 1
    letter = next(x for x in letters_of(referral) if x.interval_days == 7)
    assert (letter.status, letter.reason) == (LetterStatus.SKIPPED, "The case was cancelled.")
    assert smtp_server.messages == []


def test_a_fax_office_gets_its_update_in_the_print_queue_on_the_day(in_practice, smtp_server):
    referral = operated_case(in_practice, channel=LetterChannel.FAX)
    sweep_at(at(6, 12))
    assert updates(referral)[0] == (7, LetterStatus.SCHEDULED)
    counts = sweep_at(at(7, 8))
    assert counts["postop_print_queued"] == 1
    assert updates(referral) == [(7, LetterStatus.PRINT_QUEUED), (42, LetterStatus.SCHEDULED)]
    assert smtp_server.messages == []


def test_a_surgery_recorded_late_sends_an_overdue_update_at_once(in_practice, smtp_server):
    # Recorded on D+9 with the surgery dated D: the D+7 update is overdue, so it goes now.
    with time_machine.travel(at(-1, 11), tick=False):
        referral = make_case(in_practice)
        journey(referral, *TO_SURGERY[:-1])
    Letter.objects.filter(referral=referral).update(status=LetterStatus.SENT)
    with time_machine.travel(at(9, 11), tick=False):
        step(referral, K.SURGERY_COMPLETED, occurred_at=at(0, 15))
    due = {u.interval_days: u.due_at for u in letters_of(referral) if u.interval_days}
    assert due == {7: at(7, 8), 42: at(42, 8)}
    sweep_at(at(9, 11, 1))
    assert (7, LetterStatus.SENT) in updates(referral)
