"""Delivering the letter outbox: claim a row, render and store its PDF, send it by email,
classify failures, and the sweeper that makes sure nothing waits forever.

The order of one delivery is chosen so that the one window no SMTP outbox can close
(the server accepted the message, we crash before the row says so) is as short as it
can be: everything slow or fallible (rendering, storing the PDF, building the MIME
message) happens *before* the SMTP conversation; after the server's "250 OK" there is a
single UPDATE by primary key, retried a few times if the database hiccups. A message sent
again after such a crash carries the same Message-ID and X-Correlation-ID, so the
receiving side can recognise it. See docs/letters.md.
"""

import datetime as dt
import logging
import time
from email.utils import formataddr, parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from alerts.choices import AlertKind
from alerts.models import Alert
from alerts.services import UNRESOLVED, raise_alert, resolve
from practices.models import settings_for
from referrals.choices import Status

from . import sending
from .letters import letter_pdf, pdf_filename
from .models import Letter, LetterKind, LetterStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # 1+2+4+...+60 minutes: a mail server down for about seven hours
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_CAP = dt.timedelta(hours=1)
STUCK_AFTER = dt.timedelta(minutes=10)
REDISPATCH_AFTER = dt.timedelta(minutes=5)
SWEEP_LIMIT = 1000
MARK_SENT_TRIES = 5


# --- one delivery -------------------------------------------------------------------------


def deliver_letter(letter_id: int) -> str:
    """Claim and send one email letter, inside its practice's scope. Returns what
    happened ("sent", "retry", "failed", "skipped", "not-claimed"); raises nothing a
    retry could fix — the row records every outcome."""
    token = sending.claim(Letter, letter_id)
    if token is None:
        return "not-claimed"  # sent, being sent, or not queued: someone else's business
    letter = Letter.objects.select_related(
        "practice", "office", "event", "referral__patient", "referral__referring_provider"
    ).get(pk=letter_id)
    if letter.event.voided_at is not None:
        _finish(letter, token, LetterStatus.SKIPPED, reason=VOIDED_REASON)
        return "skipped"
    connection = get_connection(fail_silently=False)
    try:
        message = build_message(letter)
        connection.open()
        token = sending.renew_claim(Letter, letter_id, token)
        if token is None:
            log.warning("letter %s: claim lost before sending; not sent by this worker", letter_id)
            _close_quietly(connection)
            return "not-claimed"
        connection.send_messages([message])
    except Exception as exc:  # noqa: BLE001 - classified and recorded, never lost
        _close_quietly(connection)
        return _record_failure(letter, token, exc)
    try:
        # Marked sent before the polite QUIT: the window between the server's acceptance
        # and this UPDATE holds nothing else.
        _mark_sent(letter_id, token)
    finally:
        _close_quietly(connection)
    _resolve_failure_alert(letter)
    return "sent"


def _resolve_failure_alert(letter: Letter) -> None:
    """A letter that failed and was then resent successfully closes its own alert. Best
    effort, after the letter is marked sent: it must never put the send in doubt."""
    try:
        for alert in Alert.objects.filter(
            kind=AlertKind.LETTER_FAILED, subject_key=f"letter:{letter.pk}", state__in=UNRESOLVED
        ):
            resolve(alert, by=None, note="The letter was resent and delivered.")
    except DatabaseError:
        log.exception("letter %s sent; its failure alert could not be resolved", letter.pk)


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - the message is sent or recorded; QUIT is courtesy
        log.debug("closing the mail connection failed", exc_info=True)


def from_address(practice) -> str:
    """DEFAULT_FROM_EMAIL's address with the practice's name shown, e.g.
    ``"Lakeside Oral Surgery" <referrals@example.com>``."""
    return formataddr((practice.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


def message_id(letter: Letter) -> str:
    # Deterministic: the same letter sent twice (the crash window) is the same message to
    # any mail system that deduplicates on Message-ID.
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<letter-{letter.correlation_id}@{domain}>"


def build_message(letter: Letter) -> EmailMultiAlternatives:
    """The email for a letter: a short note with the letter and its PDF attached, or — when
    the practice keeps PHI out of email — only a link to the GP's secure status page."""
    from .rendering import render_letter

    practice = letter.practice
    options = settings_for(practice)
    kind_label = LetterKind(letter.kind).label
    context = {
        "letter": letter,
        "practice": practice,
        "kind_label": kind_label,
        "recipient_name": letter.recipient_name,
    }
    if options.no_phi_in_email:
        from .status_links import status_link_url_for

        context["status_url"] = status_link_url_for(letter.office)
        context["link_days"] = options.status_link_days
        subject = f"{kind_label}: a new letter from {practice.name}"
        text = render_to_string("communications/email/letter_link.txt", context)
        html = render_to_string("communications/email/letter_link.html", context)
        attachment = None
    else:
        rendered = render_letter(letter)
        pdf = letter_pdf(letter, rendered)
        subject = " ".join(rendered.subject.split())
        context.update(rendered=rendered, attachment_name=pdf_filename(letter))
        text = render_to_string("communications/email/letter.txt", context)
        html = render_to_string("communications/email/letter.html", context)
        attachment = (context["attachment_name"], pdf, "application/pdf")
    Letter.objects.filter(pk=letter.pk).update(subject=subject[:250])
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_address(practice),
        to=[letter.recipient_email],
        reply_to=[options.letters_reply_to] if options.letters_reply_to else None,
        headers={
            "X-Correlation-ID": str(letter.correlation_id),
            "Message-ID": message_id(letter),
        },
    )
    message.attach_alternative(html, "text/html")
    if attachment:
        message.attach(*attachment)
    return message


def _mark_sent(letter_id: int, token: dt.datetime) -> None:
    """The only write after the server accepted the message. Retried on a database error
    (a failover, a dropped connection): each retry that succeeds is a duplicate avoided."""
    for attempt in range(1, MARK_SENT_TRIES + 1):
        try:
            Letter.objects.filter(
                pk=letter_id, status=LetterStatus.SENDING, claimed_at=token
            ).update(
                status=LetterStatus.SENT, sent_at=timezone.now(), reason="", next_attempt_at=None
            )
            return
        except DatabaseError:
            if attempt == MARK_SENT_TRIES:
                # Left in 'sending': the sweeper requeues it and it goes once more, with
                # the same Message-ID and X-Correlation-ID (docs/letters.md).
                log.exception("letter %s sent but not marked sent", letter_id)
                raise
            close_old_connections()
            time.sleep(0.2 * attempt)


def _finish(letter: Letter, token: dt.datetime, status: str, *, reason: str) -> int:
    return Letter.objects.filter(
        pk=letter.pk, status=LetterStatus.SENDING, claimed_at=token
    ).update(status=status, reason=reason[:300], next_attempt_at=None, claimed_at=None)


def _record_failure(letter: Letter, token: dt.datetime, exc: Exception) -> str:
    failure = sending.classify_failure(exc)
    log.warning(
        "letter %s attempt %s failed (%s): %s",
        letter.pk,
        letter.attempts,
        "permanent" if failure.permanent else "temporary",
        failure.reason,
    )
    if failure.permanent or letter.attempts >= MAX_ATTEMPTS:
        reason = (
            failure.reason
            if failure.permanent
            else f"Gave up after {letter.attempts} attempts. Last: {failure.reason}"
        )
        with transaction.atomic():
            if _finish(letter, token, LetterStatus.FAILED, reason=reason):
                open_failure_alert(letter, reason)
        return "failed"
    delay = sending.backoff(letter.attempts, base=RETRY_BASE, cap=RETRY_CAP)
    Letter.objects.filter(pk=letter.pk, status=LetterStatus.SENDING, claimed_at=token).update(
        status=LetterStatus.QUEUED,
        reason=f"{failure.reason} (attempt {letter.attempts}; next try in {_minutes(delay)})"[:300],
        next_attempt_at=timezone.now() + delay,
        claimed_at=None,
    )
    return "retry"


def _minutes(delay: dt.timedelta) -> str:
    minutes = round(delay.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def open_failure_alert(letter: Letter, reason: str) -> None:
    """A letter that will not go by itself: someone must fix the address and resend it.
    The alert names the letter by kind, office and id — never the patient."""
    practice = letter.practice
    kind_label = LetterKind(letter.kind).label
    office_name = letter.office.name
    raise_alert(
        practice,
        kind=AlertKind.LETTER_FAILED,
        office_id=letter.office_id,
        subject_key=f"letter:{letter.pk}",
        opened_on=timezone.localdate(timezone=ZoneInfo(practice.time_zone)),
        title=f"{kind_label} letter to {office_name} could not be sent"[:200],
        detail=(
            f"Letter #{letter.pk} ({kind_label}) to {letter.recipient_name} at {office_name} "
            f"failed: {reason} Check the address on file and resend the letter."
        )[:500],
    )


# --- the sweeper ------------------------------------------------------------------------

VOIDED_REASON = "The milestone was undone on the case timeline before the letter went out."
CANCELLED_REASON = "The case was cancelled."


def skip_obsolete() -> int:
    """Letters not yet gone whose milestone was undone: they are not true any more."""
    return Letter.objects.filter(
        status__in=[LetterStatus.SCHEDULED, LetterStatus.QUEUED, LetterStatus.PRINT_QUEUED],
        event__voided_at__isnull=False,
    ).update(status=LetterStatus.SKIPPED, reason=VOIDED_REASON, next_attempt_at=None)


def promote_due_postop_updates(now: dt.datetime) -> dict:
    """Post-op updates whose morning has come: queued for a worker (email) or put in the
    print queue (fax, mail) — unless the case was cancelled. (A case closed before its
    surgery was completed has no live surgery event: skip_obsolete took those.)"""
    due = Letter.objects.filter(status=LetterStatus.SCHEDULED, due_at__lte=now)
    skipped = due.filter(referral__status=Status.CANCELLED).update(
        status=LetterStatus.SKIPPED, reason=CANCELLED_REASON
    )
    queued = due.filter(channel="email").update(status=LetterStatus.QUEUED, next_attempt_at=now)
    printed = due.update(status=LetterStatus.PRINT_QUEUED)
    return {"skipped": skipped, "queued": queued, "print_queued": printed}


def fail_stuck_past_limit(now: dt.datetime) -> int:
    """A letter whose worker died on every one of its attempts (a poison letter) stops
    cycling: it fails, with an alert, instead of being requeued forever."""
    stuck = list(
        Letter.objects.filter(
            status=LetterStatus.SENDING,
            claimed_at__lt=now - STUCK_AFTER,
            attempts__gte=MAX_ATTEMPTS,
        ).select_related("practice", "office")
    )
    failed = 0
    for letter in stuck:
        reason = f"The sending worker stopped during each of {letter.attempts} attempts."
        with transaction.atomic():
            if _finish(letter, letter.claimed_at, LetterStatus.FAILED, reason=reason):
                open_failure_alert(letter, reason)
                failed += 1
    return failed


def sweep(now: dt.datetime | None = None) -> tuple[dict, list[tuple[int, int]]]:
    """Every minute, across practices (call without a practice scope): requeue rows left
    in 'sending' by a dead worker, skip obsolete letters, queue post-op updates whose day
    has come, and lease the queued rows that are due. Returns (counts, rows to dispatch)."""
    now = now or timezone.now()
    counts = {
        "failed_stuck": fail_stuck_past_limit(now),
        "requeued": sending.requeue_stuck(Letter, now=now, stuck_after=STUCK_AFTER),
        "skipped_obsolete": skip_obsolete(),
        **{f"postop_{k}": v for k, v in promote_due_postop_updates(now).items()},
    }
    due = sending.lease_due(
        Letter,
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True),
        now=now,
        lease=REDISPATCH_AFTER,
        limit=SWEEP_LIMIT,
    )
    counts["dispatched"] = len(due)
    return counts, due
