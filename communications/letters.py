"""GP letters: which letters a milestone calls for, writing them to the letter outbox, and
the verbs a person applies to one (resend, mark printed, skip).

A letter is triggered by the milestone itself (receivers.py), never by a person
remembering: the rows are written in the milestone's own transaction, so a milestone and
its letters commit or roll back together, and a worker (delivery.py) sends them after
the commit. See docs/letters.md for what guarantees what.
"""

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from practices.dispatch import on_commit_hook
from practices.dispatch import send as send_task
from practices.models import Practice, settings_for
from referrals.choices import OFFICE_SOURCES, LetterChannel, MilestoneKind
from referrals.models import MilestoneEvent, Referral

from .models import Letter, LetterKind, LetterStatus

log = logging.getLogger(__name__)

# The milestones that write a letter at once, and which.
IMMEDIATE_LETTERS: dict[str, str] = {
    MilestoneKind.CONSULT_SCHEDULED: LetterKind.CONSULT_SCHEDULED,
    MilestoneKind.CONSULT_COMPLETED: LetterKind.CONSULT_COMPLETED,
    MilestoneKind.SURGERY_SCHEDULED: LetterKind.SURGERY_SCHEDULED,
}
# Post-op updates go out in the practice's local morning: a GP reads them with the day's
# mail, not at the minute the surgery was recorded plus N x 24 hours.
LETTER_MORNING = dt.time(8, 0)
# The on-commit dispatch's head start: a queued row whose task has not claimed it by then
# (the broker was down at commit, the message was lost) is dispatched by the sweeper.
DISPATCH_GRACE = dt.timedelta(minutes=2)
# What may not be resent (it is on its way) and what may be skipped (it has not gone).
ON_ITS_WAY = frozenset({LetterStatus.SCHEDULED, LetterStatus.QUEUED, LetterStatus.SENDING})
SKIPPABLE = frozenset(
    {
        LetterStatus.SCHEDULED,
        LetterStatus.QUEUED,
        LetterStatus.PRINT_QUEUED,
        LetterStatus.FAILED,
    }
)


@dataclass(frozen=True)
class Recipient:
    key: str  # "provider:<id>" or "office:<id>"
    name: str
    email: str  # empty when none is on file
    channel: str  # referrals.choices.LetterChannel


@dataclass(frozen=True)
class DueLetter:
    """A letter a milestone calls for, before it is written."""

    kind: str
    interval_days: int
    due_at: dt.datetime
    status: str
    recipient: Recipient
    reason: str = ""


def recipient_for(referral: Referral) -> Recipient | None:
    """Who a case's letters go to: the referring doctor (their email) when known, else the
    office (its email); the channel is the office's preference. None without an office."""
    office = referral.referring_office
    if office is None:
        return None
    provider = referral.referring_provider
    channel = office.preferred_channel
    if provider is not None and (provider.email or channel != LetterChannel.EMAIL):
        return Recipient(f"provider:{provider.pk}", str(provider), provider.email, channel)
    if office.email or provider is None:
        return Recipient(f"office:{office.pk}", office.name, office.email, channel)
    # Email wanted, a doctor named without an address, the office without one either: the
    # letter is for the doctor, and is skipped for want of an address.
    return Recipient(f"provider:{provider.pk}", str(provider), "", channel)


def no_email_reason(referral: Referral) -> str:
    office = referral.referring_office
    if referral.referring_provider is not None:
        return f"No email on file for {referral.referring_provider} or {office.name}."
    return f"No email on file for {office.name}."


def _local_morning(day: dt.date, practice: Practice) -> dt.datetime:
    return dt.datetime.combine(day, LETTER_MORNING, tzinfo=ZoneInfo(practice.time_zone))


def _had_completed_surgery(referral: Referral) -> bool:
    return referral.events.filter(
        kind=MilestoneKind.SURGERY_COMPLETED, voided_at__isnull=True
    ).exists()


def writes_letters(referral: Referral) -> bool:
    """Only live cases from a referring office get letters; imported history never."""
    return (
        not referral.is_historical
        and referral.referring_office_id is not None
        and referral.source_type in OFFICE_SOURCES
    )


def letters_due_for(
    event: MilestoneEvent, *, referral: Referral | None = None, now: dt.datetime | None = None
) -> list[DueLetter]:
    """The letters ``event`` calls for (none for a void event, history or a non-office
    source). Pure apart from reading the case: writing them is queue_letters_for_event."""
    referral = referral or event.referral
    if event.voided_at is not None or not writes_letters(referral):
        return []
    now = now or timezone.now()
    recipient = recipient_for(referral)
    if recipient.channel == LetterChannel.EMAIL:
        ready, reason = (
            (LetterStatus.QUEUED, "")
            if recipient.email
            else (LetterStatus.SKIPPED, no_email_reason(referral))
        )
    else:
        ready, reason = LetterStatus.PRINT_QUEUED, ""

    if event.kind in IMMEDIATE_LETTERS:
        return [DueLetter(IMMEDIATE_LETTERS[event.kind], 0, now, ready, recipient, reason)]
    if event.kind == MilestoneKind.CLOSED and _had_completed_surgery(referral):
        return [DueLetter(LetterKind.POSTOP_CONCLUDED, 0, now, ready, recipient, reason)]
    if event.kind == MilestoneKind.SURGERY_COMPLETED:
        practice = referral.practice
        surgery_day = timezone.localtime(event.occurred_at, ZoneInfo(practice.time_zone)).date()
        # Waiting for its day whatever the channel; the sweeper queues it (email) or puts
        # it in the print queue (fax, mail) when the day comes.
        waiting = LetterStatus.SKIPPED if ready == LetterStatus.SKIPPED else LetterStatus.SCHEDULED
        return [
            DueLetter(
                LetterKind.POSTOP_UPDATE,
                days,
                _local_morning(surgery_day + dt.timedelta(days=days), practice),
                waiting,
                recipient,
                reason,
            )
            for days in settings_for(practice).postop_intervals
        ]
    return []


# The task is sent by name: communications/tasks.py wraps this module's services, so this
# module does not import it back (no import cycle; tests/test_layers.py). CommunicationsConfig
# imports the tasks at start-up, so the name finds the task itself in every process.
SEND_LETTER_TASK = "communications.tasks.send_letter"


def dispatch(practice_id: int, letter_id: int) -> None:
    # A broker that is down is a warning, not an error: the row waits for the sweeper.
    send_task(SEND_LETTER_TASK, practice_id, letter_id)


def dispatch_on_commit(letter: Letter) -> None:
    # robust: a broker that is down at commit must not turn a recorded milestone into an
    # error page; the sweeper dispatches the row after DISPATCH_GRACE.
    transaction.on_commit(on_commit_hook(dispatch, letter.practice_id, letter.pk), robust=True)


def queue_letters_for_event(
    event: MilestoneEvent, *, referral: Referral | None = None
) -> list[Letter]:
    """Write the letters ``event`` calls for, in the caller's transaction; email letters
    are dispatched to a worker after the commit. Calling it again for the same event
    changes nothing (the unique constraint; get_or_create runs in a savepoint)."""
    referral = referral or event.referral
    now = timezone.now()
    written = []
    for due in letters_due_for(event, referral=referral, now=now):
        letter, created = Letter.objects.get_or_create(
            practice_id=referral.practice_id,
            event=event,
            kind=due.kind,
            interval_days=due.interval_days,
            recipient_key=due.recipient.key,
            defaults={
                "referral": referral,
                "office_id": referral.referring_office_id,
                "recipient_name": due.recipient.name[:200],
                "recipient_email": due.recipient.email,
                "channel": due.recipient.channel,
                "status": due.status,
                "due_at": due.due_at,
                "reason": due.reason,
                "next_attempt_at": now + DISPATCH_GRACE
                if due.status == LetterStatus.QUEUED
                else None,
            },
        )
        if created:
            log.info("letter %s queued (%s, %s)", letter.pk, letter.kind, letter.status)
            if letter.status == LetterStatus.QUEUED:
                dispatch_on_commit(letter)
        written.append(letter)
    return written


def _locked(letter: Letter) -> Letter:
    return (
        Letter.objects.select_for_update(of=("self",))
        .select_related("referral__referring_office", "referral__referring_provider")
        .get(pk=letter.pk)
    )


@transaction.atomic
def resend(letter: Letter, *, by=None) -> Letter:
    """Send a letter again (after a failure, a skip, or because the GP asks): to whom the
    case's data names now, by the office's channel now. A new correlation id, because it
    is a new message the GP should see, not a retry to be deduplicated."""
    letter = _locked(letter)
    if letter.status in ON_ITS_WAY:
        raise ValidationError("This letter is already on its way.")
    referral = letter.referral
    recipient = recipient_for(referral)
    if recipient is None:
        raise ValidationError("This case has no referring office to write to.")
    if recipient.channel == LetterChannel.EMAIL and not recipient.email:
        raise ValidationError(no_email_reason(referral) + " Add one on the office page first.")
    email = recipient.channel == LetterChannel.EMAIL
    old_pdf = letter.pdf.name
    letter.recipient_key = recipient.key
    letter.recipient_name = recipient.name[:200]
    letter.recipient_email = recipient.email
    letter.channel = recipient.channel
    letter.status = LetterStatus.QUEUED if email else LetterStatus.PRINT_QUEUED
    letter.attempts = 0
    letter.reason = ""
    letter.claimed_at = None
    letter.sent_at = None
    letter.next_attempt_at = timezone.now() + DISPATCH_GRACE if email else None
    letter.correlation_id = uuid.uuid4()
    letter.pdf = ""  # rendered again: the wording or the addressee may have changed
    letter.save()
    if old_pdf:
        transaction.on_commit(on_commit_hook(letter.pdf.storage.delete, old_pdf), robust=True)
    if email:
        dispatch_on_commit(letter)
    log.info("letter %s resent by user %s", letter.pk, getattr(by, "pk", None))
    return letter


@transaction.atomic
def mark_printed(letter: Letter, *, by=None) -> Letter:
    """A person printed (and posted) or faxed a letter from the print queue."""
    letter = _locked(letter)
    if letter.status != LetterStatus.PRINT_QUEUED:
        raise ValidationError(
            f"This letter is not in the print queue (it is {letter.get_status_display()})."
        )
    letter.status = LetterStatus.PRINTED
    letter.sent_at = timezone.now()
    letter.reason = ""
    letter.save(update_fields=["status", "sent_at", "reason", "updated_at"])
    log.info("letter %s marked printed by user %s", letter.pk, getattr(by, "pk", None))
    return letter


@transaction.atomic
def skip(letter: Letter, *, reason: str, by=None) -> Letter:
    """Decide a letter will not go out (say why); it can still be resent later."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why this letter will not be sent."})
    letter = _locked(letter)
    if letter.status not in SKIPPABLE:
        raise ValidationError(
            f"This letter cannot be skipped (it is {letter.get_status_display()})."
        )
    letter.status = LetterStatus.SKIPPED
    letter.reason = reason[:300]
    letter.next_attempt_at = None
    letter.save(update_fields=["status", "reason", "next_attempt_at", "updated_at"])
    log.info("letter %s skipped by user %s", letter.pk, getattr(by, "pk", None))
    return letter


def letter_date(letter: Letter) -> dt.date:
    """The date a letter is about: its milestone's day, or a post-op update's own day."""
    tz = ZoneInfo(letter.practice.time_zone)
    moment = letter.due_at if letter.kind == LetterKind.POSTOP_UPDATE else letter.event.occurred_at
    return timezone.localtime(moment, tz).date()


def pdf_filename(letter: Letter) -> str:
    """e.g. ``Consult-completed-JD-2026-11-26.pdf``: initials, never a name, because file
    names travel (mail clients, download folders, fax logs)."""
    label = LetterKind(letter.kind).label.replace(" ", "-")
    initials = letter.referral.patient.initials or "XX"
    return f"{label}-{initials}-{letter_date(letter):%Y-%m-%d}.pdf"


def letter_pdf(letter: Letter, rendered=None) -> bytes:
    """The letter's PDF: the stored one, or rendered now and stored (the print queue's
    'Open PDF' and the sender both use it, so a letter reads the same each time; a send
    repeated after a crash attaches the very same file). ``rendered``: the caller's
    RenderedLetter, to not render the template twice."""
    if letter.pdf:
        with letter.pdf.open("rb") as fh:
            return fh.read()
    from .rendering import pdf_from_html, render_letter_pdf

    content = pdf_from_html(rendered.html) if rendered else render_letter_pdf(letter)
    store_pdf(letter, content)
    return content


def store_pdf(letter: Letter, content: bytes) -> None:
    """Save the PDF through the storage API and point the row at it, unless another
    process stored one first (then ours is removed: one file per letter)."""
    name = letter.pdf.storage.save(
        letter.pdf.field.generate_filename(letter, "letter.pdf"), ContentFile(content)
    )
    if Letter.objects.filter(pk=letter.pk, pdf="").update(pdf=name):
        letter.pdf.name = name
    else:
        letter.pdf.storage.delete(name)
        letter.refresh_from_db(fields=["pdf"])
