"""Queue, claim and deliver outbox emails.

Nothing lost: the row is written in the caller's transaction and dispatched on commit; a
sweeper re-queues rows whose worker died. Nothing doubled: a worker sends only after it
has claimed the row with a conditional UPDATE (``status=queued → sending``), so a task
delivered twice, or two workers, cannot both send it. The claim, the failure
classification, the backoff and the sweeper's pieces are shared with the letter outbox
(sending.py).
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone

from practices.dispatch import send_after_commit
from practices.models import Practice

from . import sending
from .models import EmailStatus, OutgoingEmail
from .sending import PermanentFailure  # noqa: F401  (re-exported: callers raise it)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STUCK_AFTER = dt.timedelta(minutes=10)
RETRY_BASE = dt.timedelta(seconds=30)
RETRY_CAP = dt.timedelta(hours=1)
# The sweeper's lease on a row it dispatched: not dispatched again before this.
REDISPATCH_AFTER = dt.timedelta(minutes=5)


# Sent by name, as letters.dispatch: communications/tasks.py imports this module.
SEND_EMAIL_TASK = "communications.tasks.send_outgoing_email"
SEND_EMAILS_TASK = "communications.tasks.send_outgoing_emails"


def queue_email(
    practice: Practice,
    *,
    kind: str,
    dedupe_key: str,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    attachment_name: str = "",
    attachment_content: bytes | None = None,
) -> tuple[OutgoingEmail, bool]:
    """Write the email to the outbox in the current transaction; send after commit.

    Returns (email, created). A second call with the same dedupe_key returns the first row.
    """
    existing = OutgoingEmail.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    email = OutgoingEmail(
        practice=practice,
        kind=kind,
        dedupe_key=dedupe_key,
        to=to,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachment_name=attachment_name,
    )
    if attachment_content is not None:
        email.attachment.save(
            attachment_name or "attachment.pdf", ContentFile(attachment_content), save=False
        )
    email.save()

    # A broker that is down at commit must not turn what was saved into an error page; the
    # outbox sweeper dispatches the queued row (docs/reliability.md).
    send_after_commit(SEND_EMAIL_TASK, email.practice_id, email.pk)
    return email, True


@dataclass(frozen=True)
class Draft:
    """An email for :func:`queue_emails` (no attachment)."""

    practice_id: int
    kind: str
    dedupe_key: str
    to: list[str]
    subject: str
    body_text: str
    body_html: str = ""


def queue_emails(drafts: list[Draft]) -> list[OutgoingEmail]:
    """Many emails of many practices at once (the nightly digests of a batch): one lookup,
    one insert, and after the commit one Celery message for all of them instead of one each.
    Same guarantees as :func:`queue_email`: written in the caller's transaction, a draft
    whose (practice, dedupe_key) is already in the outbox is not queued again. Returns the
    rows, existing ones included, in the drafts' order."""
    if not drafts:
        return []
    existing = {
        (e.practice_id, e.dedupe_key): e
        for e in OutgoingEmail.objects.filter(
            practice_id__in={d.practice_id for d in drafts},
            dedupe_key__in=[d.dedupe_key for d in drafts],
        )
    }
    new = [
        OutgoingEmail(
            practice_id=d.practice_id,
            kind=d.kind,
            dedupe_key=d.dedupe_key,
            to=d.to,
            subject=d.subject,
            body_text=d.body_text,
            body_html=d.body_html,
        )
        for d in drafts
        if (d.practice_id, d.dedupe_key) not in existing
    ]
    OutgoingEmail.objects.bulk_create(new)
    if new:
        send_after_commit(SEND_EMAILS_TASK, [(e.practice_id, e.pk) for e in new])
    created = {(e.practice_id, e.dedupe_key): e for e in new}
    return [existing.get(k) or created[k] for k in ((d.practice_id, d.dedupe_key) for d in drafts)]


def claim(email_id: int) -> bool:
    return sending.claim(OutgoingEmail, email_id) is not None


def deliver(email_id: int) -> str:
    """Claim and send one email. Returns the resulting status; raises nothing."""
    if not claim(email_id):
        return "skipped"
    email = OutgoingEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=email.to,
        headers={"X-Correlation-ID": str(email.correlation_id)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    if email.attachment:
        with email.attachment.open("rb") as fh:
            message.attach(email.attachment_name or "attachment.pdf", fh.read(), "application/pdf")
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - classified below, never lost
        failure = sending.classify_failure(exc)
        permanent = failure.permanent or email.attempts >= MAX_ATTEMPTS
        status = EmailStatus.FAILED if permanent else EmailStatus.QUEUED
        delay = sending.backoff(email.attempts, base=RETRY_BASE, cap=RETRY_CAP)
        OutgoingEmail.objects.filter(pk=email_id, status=EmailStatus.SENDING).update(
            status=status,
            last_error=failure.reason[:500],
            next_attempt_at=None if permanent else timezone.now() + delay,
            claimed_at=None,
        )
        log.warning("outbox email %s failed (%s): %s", email_id, status, type(exc).__name__)
        return "failed" if permanent else "retry"
    OutgoingEmail.objects.filter(pk=email_id).update(
        status=EmailStatus.SENT, sent_at=timezone.now()
    )
    return "sent"


def requeue_stuck(now: dt.datetime | None = None) -> int:
    """Give back rows whose worker died after claiming them."""
    return sending.requeue_stuck(OutgoingEmail, now=now or timezone.now(), stuck_after=STUCK_AFTER)


def due_filter(now: dt.datetime) -> Q:
    """Retry time come, or the on-commit dispatch (never leased) apparently lost."""
    return Q(next_attempt_at__lte=now) | Q(
        next_attempt_at__isnull=True, created_at__lt=now - dt.timedelta(minutes=2)
    )


def due_emails(now: dt.datetime | None = None):
    """Queued rows whose retry time has come, or whose on-commit dispatch was lost."""
    now = now or timezone.now()
    return OutgoingEmail.objects.filter(status=EmailStatus.QUEUED).filter(due_filter(now))
