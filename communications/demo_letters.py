"""The demo practice's letter history: the GP letters its past milestones called for, as
they would stand had the practice used the product all along (``manage.py seed_demo``).

The same letters the live trigger writes (letters.letters_due_for: consult scheduled and
completed, surgery scheduled, post-op updates on their mornings, post-op concluded), to
the same recipient (letters.recipient_for) by the office's channel, already delivered:

- email letters went out a minute or two after their milestone (``sent``);
- fax and mail letters were printed by the front desk the same or the next business day
  (``printed``); at a few offices the print queue piled up and many went out late, and
  their letters of the last days still wait in the print queue (overdue ones included);
- one office's mail server started refusing its letters a few weeks ago: those letters
  ``failed`` with the server's answer, each with the alert a failed letter raises.

Nothing is left for a worker to send: no letter is queued, sending or scheduled (post-op
updates due after "today" are not written), so no synthetic address (all under the reserved
``.example`` domain) is ever mailed. The demo's referrals are history (``is_historical``), so
the live trigger never writes letters for them; this module does, once, at seeding. Its own
random stream: the referrals of a seed stay the same with or without it.
"""

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from practices.bulk import RowWriter
from practices.models import Practice, settings_for
from referrals.choices import OFFICE_SOURCES, LetterChannel, MilestoneKind, Status
from referrals.models import MilestoneEvent, ReferringOffice, ReferringProvider

from .delivery import CANCELLED_REASON, open_failure_alert
from .letters import IMMEDIATE_LETTERS, LETTER_MORNING, Recipient, recipient_for
from .models import Letter, LetterKind, LetterStatus

# Letters per round trip (memory stays flat for a benchmark-sized tenant).
CHUNK = 5000
# The failing office's letters fail from this many days before "today".
FAILING_FOR = dt.timedelta(days=42)
# About how many failed letters the demo shows (the office is chosen to come close).
FAILED_WANTED = 6
# How many fax/mail offices fall behind on their print queue, and how often.
LATE_OFFICES = 3
LATE_SHARE = 0.15
# ... and are behind right now: their letters of these last days still wait in the queue.
BACKLOG = dt.timedelta(days=14)
# The front desk prints during office hours.
OFFICE_OPENS, OFFICE_CLOSES = dt.time(8, 30), dt.time(17, 0)
REFUSED = (
    "The mail server refused the recipient: 550 5.1.1 <{email}>: Recipient address "
    "rejected: User unknown in virtual mailbox table"
)
SUBJECTS = {
    LetterKind.CONSULT_SCHEDULED: "Consultation scheduled for your patient {initials}",
    LetterKind.CONSULT_COMPLETED: "Consultation report for your patient {initials}",
    LetterKind.SURGERY_SCHEDULED: "Surgery scheduled for your patient {initials}",
    LetterKind.POSTOP_CONCLUDED: "Post-operative care completed for your patient {initials}",
    LetterKind.POSTOP_UPDATE: "Post-operative update for your patient {initials}",
}
COLUMNS = (
    "referral_id",
    "event_id",
    "office_id",
    "kind",
    "interval_days",
    "recipient_key",
    "recipient_name",
    "recipient_email",
    "channel",
    "status",
    "due_at",
    "reason",
    "attempts",
    "claimed_at",
    "sent_at",
    "subject",
    "created_at",
    "updated_at",
)


@dataclass
class HistoricLetter:
    referral_id: int
    event_id: int
    office_id: int
    kind: str
    interval_days: int
    recipient: Recipient
    due_at: dt.datetime
    written_at: dt.datetime  # when the milestone was recorded
    initials: str
    skipped: bool = False  # a post-op update of a case cancelled before its day


def write_letter_history(
    practice: Practice, *, today: dt.date, seed: int, number: int
) -> dict[str, int]:
    """Write the practice's letter history (inside its scope and the seeding transaction).
    Returns what was written, for the command's summary."""
    rng = random.Random(f"omsreferrals-demo-letters:{seed}:{number}")
    tz = ZoneInfo(practice.time_zone)
    cutoff = dt.datetime.combine(today, dt.time(), tzinfo=tz)  # "now" of the history
    options = settings_for(practice)
    grace = dt.timedelta(days=options.loop_closure_days)
    letters = list(_owed_letters(tz, cutoff, options.postop_intervals))
    if not letters:
        return {}
    offices = {o.pk: o for o in ReferringOffice.objects.all()}
    late = _late_offices(rng, letters, offices, cutoff)
    failing = _failing_office(letters, offices, cutoff, late)

    writer = RowWriter(Letter, COLUMNS, {"practice_id": practice.pk})
    counts = {"letters": 0, "failed letters": 0, "letters in the print queue": 0}
    for start in range(0, len(letters), CHUNK):
        rows = []
        for letter in letters[start : start + CHUNK]:
            status, sent_at, reason, attempts = _fate(
                rng, letter, tz, cutoff, grace, late=letter.office_id in late, failing=failing
            )
            if status == LetterStatus.FAILED:
                counts["failed letters"] += 1
            elif status == LetterStatus.PRINT_QUEUED:
                counts["letters in the print queue"] += 1
            recipient = letter.recipient
            emailed = recipient.channel == LetterChannel.EMAIL and not letter.skipped
            rows.append(
                writer.row(
                    (
                        letter.referral_id,
                        letter.event_id,
                        letter.office_id,
                        letter.kind,
                        letter.interval_days,
                        recipient.key,
                        recipient.name[:200],
                        recipient.email,
                        recipient.channel,
                        status,
                        letter.due_at,
                        reason,
                        attempts,
                        sent_at - dt.timedelta(seconds=2) if emailed and sent_at else None,
                        sent_at,
                        SUBJECTS[letter.kind].format(initials=letter.initials) if emailed else "",
                        letter.written_at,
                        sent_at or letter.due_at,
                    )
                )
            )
        writer.insert(rows)
        counts["letters"] += len(rows)
    if failing is not None:
        # The alert the product raises for each letter that will not go by itself.
        for failed in Letter.objects.filter(
            office_id=failing, status=LetterStatus.FAILED
        ).select_related("practice", "office"):
            open_failure_alert(failed, failed.reason)
    return {what: n for what, n in counts.items() if n}


def _owed_letters(tz: ZoneInfo, cutoff: dt.datetime, intervals: list[int]):
    """The letters the practice's milestones called for, due before ``cutoff``, oldest case
    first; a case's milestones are replayed in order (post-op concluded needs a completed
    surgery before the closing; post-op updates after a cancellation were never owed)."""
    kinds = [*IMMEDIATE_LETTERS, MilestoneKind.SURGERY_COMPLETED, MilestoneKind.CLOSED]
    events = (
        MilestoneEvent.objects.filter(
            voided_at__isnull=True,
            kind__in=[*kinds, MilestoneKind.CANCELLED],
            referral__referring_office__isnull=False,
            referral__source_type__in=OFFICE_SOURCES,
        )
        .order_by("referral_id", "occurred_at", "id")
        .values_list(
            "referral_id",
            "id",
            "kind",
            "occurred_at",
            "referral__referring_office_id",
            "referral__referring_provider_id",
            "referral__status",
            "referral__patient__first_name",
            "referral__patient__last_name",
        )
        .iterator(chunk_size=CHUNK)
    )
    recipients = _recipients()
    for referral_id, rows in itertools.groupby(events, key=lambda row: row[0]):
        rows = list(rows)
        _, _, _, _, office_id, provider_id, status, first, last = rows[0]
        recipient = recipients[(office_id, provider_id)]
        initials = f"{first[:1]}{last[:1]}".upper() or "XX"
        cancelled_at = next(
            (at for _, _, kind, at, *_ in rows if kind == MilestoneKind.CANCELLED), None
        )
        operated = False
        for _, event_id, kind, occurred_at, *_ in rows:
            due = []
            if kind in IMMEDIATE_LETTERS:
                due.append((IMMEDIATE_LETTERS[kind], 0, occurred_at))
            elif kind == MilestoneKind.CLOSED and operated:
                due.append((LetterKind.POSTOP_CONCLUDED, 0, occurred_at))
            elif kind == MilestoneKind.SURGERY_COMPLETED:
                operated = True
                surgery_day = occurred_at.astimezone(tz).date()
                for days in intervals:
                    morning = dt.datetime.combine(
                        surgery_day + dt.timedelta(days=days), LETTER_MORNING, tzinfo=tz
                    )
                    due.append((LetterKind.POSTOP_UPDATE, days, morning))
            for letter_kind, interval, due_at in due:
                if due_at >= cutoff:
                    continue  # not due yet: a live worker would send it, so not written
                yield HistoricLetter(
                    referral_id,
                    event_id,
                    office_id,
                    letter_kind,
                    interval,
                    recipient,
                    due_at,
                    occurred_at,
                    initials,
                    skipped=(
                        letter_kind == LetterKind.POSTOP_UPDATE
                        and status == Status.CANCELLED
                        and cancelled_at is not None
                        and cancelled_at < due_at
                    ),
                )


def _recipients() -> dict[tuple[int, int | None], Recipient]:
    """Who each (office, doctor) pair's letters go to, by the live rule (recipient_for)."""
    offices = {o.pk: o for o in ReferringOffice.objects.all()}
    found: dict[tuple[int, int | None], Recipient] = {}
    for office in offices.values():
        found[(office.pk, None)] = recipient_for(
            SimpleNamespace(referring_office=office, referring_provider=None)
        )
    for provider in ReferringProvider.objects.all():
        office = offices[provider.office_id]
        found[(office.pk, provider.pk)] = recipient_for(
            SimpleNamespace(referring_office=office, referring_provider=provider)
        )
    return found


def _recent(letters, cutoff: dt.datetime, days: int) -> dict[int, int]:
    since = cutoff - dt.timedelta(days=days)
    counts: dict[int, int] = {}
    for letter in letters:
        if letter.due_at >= since:
            counts[letter.office_id] = counts.get(letter.office_id, 0) + 1
    return counts


def _late_offices(rng, letters, offices, cutoff) -> set[int]:
    """A few fax or mail offices with letters this year and in the last days (the backlog
    is there to see): their print queue fell behind."""
    year = _recent(letters, cutoff, 365)
    backlog = _recent(letters, cutoff, BACKLOG.days)
    candidates = sorted(
        pk
        for pk, n in year.items()
        if n >= 10 and pk in backlog and offices[pk].preferred_channel != LetterChannel.EMAIL
    )
    return set(rng.sample(candidates, min(LATE_OFFICES, len(candidates))))


def _failing_office(letters, offices, cutoff, late: set[int]) -> int | None:
    """The established email office (a year of letters, not a new one whose every letter
    would fail) whose count of letters in the failing weeks is nearest FAILED_WANTED (enough
    to see, not a flood of alerts)."""
    recent = _recent(letters, cutoff, FAILING_FOR.days)
    year = _recent(letters, cutoff, 365)
    candidates = [
        (abs(n - FAILED_WANTED), pk)
        for pk, n in recent.items()
        if pk not in late
        and offices[pk].preferred_channel == LetterChannel.EMAIL
        and year[pk] >= 4 * n
    ]
    return min(candidates)[1] if candidates else None


def _fate(rng, letter, tz, cutoff, grace, *, late: bool, failing: int | None) -> tuple:
    """(status, sent_at, reason, attempts) of a letter as it stands at ``cutoff``."""
    if letter.skipped:
        return LetterStatus.SKIPPED, None, CANCELLED_REASON, 0
    recipient = letter.recipient
    if recipient.channel == LetterChannel.EMAIL:
        if letter.office_id == failing and letter.due_at >= cutoff - FAILING_FOR:
            return LetterStatus.FAILED, None, REFUSED.format(email=recipient.email), 1
        sent_at = min(letter.due_at + dt.timedelta(seconds=rng.uniform(15, 240)), cutoff)
        return LetterStatus.SENT, sent_at, "", 1
    # Fax or mail: a person prints it from the print queue on a business day.
    if late and (rng.random() < LATE_SHARE or letter.due_at >= cutoff - BACKLOG):
        days_later = rng.randrange(grace.days + 1, grace.days + 15)
    else:
        days_later = rng.choices((0, 1, 2), (72, 27, 1))[0]
    printed_at = _office_hours(rng, letter.due_at, days_later, tz)
    if printed_at >= cutoff:
        return LetterStatus.PRINT_QUEUED, None, "", 0
    return LetterStatus.PRINTED, printed_at, "", 0


def _office_hours(rng, due_at: dt.datetime, days_later: int, tz: ZoneInfo) -> dt.datetime:
    """A moment during office hours ``days_later`` business days after ``due_at``'s day
    (the same day only if the office is still open after it)."""
    local = due_at.astimezone(tz)
    day = local.date()
    opens = max(local.time(), OFFICE_OPENS) if days_later == 0 else OFFICE_OPENS
    if days_later == 0 and (opens >= OFFICE_CLOSES or day.weekday() >= 5):
        days_later = 1
        opens = OFFICE_OPENS
    while days_later:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days_later -= 1
    start = dt.datetime.combine(day, opens, tzinfo=tz)
    end = dt.datetime.combine(day, OFFICE_CLOSES, tzinfo=tz)
    return start + (end - start) * rng.random()
