"""What the two outboxes share: the email outbox (``OutgoingEmail``, outbox.py) and the
letter outbox (``Letter``, delivery.py).

- **claim**: a worker sends a row only after it has moved it ``queued → sending`` with a
  conditional UPDATE and seen one row change, so a task delivered twice, or two workers,
  cannot both send it. The claim time is the worker's token: every later write of that
  worker is conditioned on it, so a worker that lost its claim (the sweeper gave the row
  to another) cannot overwrite the other's result.
- **classify_failure**: temporary (try again later) or permanent (a person must act).
- **backoff**: exponential, capped.
- **requeue_stuck**: rows left in ``sending`` by a worker that died go back to ``queued``.
- **lease_due**: the sweeper's dispatch of due rows, with a lease so that a row waiting in
  the broker is not dispatched again every minute, and two sweepers do not both take it.

Both models use the same status words ("queued", "sending") and the same bookkeeping
fields (attempts, claimed_at, next_attempt_at), which is what lets this module serve both.
"""

import datetime as dt
import smtplib
import socket
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

QUEUED = "queued"
SENDING = "sending"


class PermanentFailure(Exception):
    """Retrying cannot help (bad address, message refused)."""


@dataclass(frozen=True)
class Failure:
    permanent: bool
    reason: str  # for the delivery log: what happened, in words, never PHI


def claim(model: type[models.Model], pk: int, *, now: dt.datetime | None = None):
    """Move row ``pk`` from queued to sending. Returns the claim token (the claim time)
    when this caller won the row, else None."""
    now = now or timezone.now()
    won = model.objects.filter(pk=pk, status=QUEUED).update(
        status=SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return now if won == 1 else None


def renew_claim(model: type[models.Model], pk: int, token: dt.datetime) -> dt.datetime | None:
    """Right before the SMTP conversation: confirm the row is still ours and restart its
    stuck-clock, so the sweeper cannot give it to another worker while we send (a send is
    bounded by EMAIL_TIMEOUT; rendering before it is not). None when the claim was lost."""
    now = timezone.now()
    kept = model.objects.filter(pk=pk, status=SENDING, claimed_at=token).update(claimed_at=now)
    return now if kept == 1 else None


def _smtp_text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def classify_failure(exc: BaseException) -> Failure:
    """Temporary: the server could not be reached, timed out, or answered 4xx.
    Permanent: the server answered 5xx (recipient refused, message rejected), or the
    message itself is invalid (e.g. a malformed address)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
        permanent = bool(answers) and all(code >= 500 for code, _ in answers)
        detail = "; ".join(f"{code} {_smtp_text(msg)}" for code, msg in answers)
        return Failure(permanent, f"The mail server refused the recipient: {detail}")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return Failure(
            500 <= code < 600, f"The mail server answered {code} {_smtp_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Failure(False, "The mail server closed the connection")
    if isinstance(exc, ConnectionRefusedError):
        return Failure(False, "Could not reach the mail server (connection refused)")
    if isinstance(exc, socket.timeout | TimeoutError):
        return Failure(False, "The mail server did not answer in time")
    if isinstance(exc, ConnectionError | OSError):
        return Failure(False, f"Could not reach the mail server ({type(exc).__name__})")
    if isinstance(exc, PermanentFailure):
        return Failure(True, str(exc))
    if isinstance(exc, ValueError) and "address" in str(exc).lower():
        # Django's sanitize_address: a malformed address will not get better by waiting.
        return Failure(True, f"Invalid email address ({exc})")
    # Anything else (a rendering or storage error): retry with backoff; the attempt limit
    # turns a persistent one into a failure a person sees.
    return Failure(False, f"{type(exc).__name__}: {exc}")


def backoff(attempts: int, *, base: dt.timedelta, cap: dt.timedelta) -> dt.timedelta:
    """base, 2 x base, 4 x base, ... after the 1st, 2nd, 3rd ... failed attempt; capped."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def requeue_stuck(model: type[models.Model], *, now: dt.datetime, stuck_after: dt.timedelta) -> int:
    """Give back rows whose worker died after claiming them (due at once)."""
    return model.objects.filter(status=SENDING, claimed_at__lt=now - stuck_after).update(
        status=QUEUED, claimed_at=None, next_attempt_at=now
    )


def lease_due(
    model: type[models.Model],
    due: Q,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
) -> list[tuple[int, int]]:
    """(practice_id, pk) of queued rows matching ``due``, oldest first, each leased: its
    next_attempt_at moves ``lease`` ahead, so a row still waiting in the broker is not
    dispatched again before then (and is, if that dispatch was lost). SKIP LOCKED lets two
    sweepers run at once without taking the same rows. Call without a practice scope."""
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True)
            .filter(Q(status=QUEUED) & due)
            .order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
            .values_list("practice_id", "pk")[:limit]
        )
        if rows:
            model.objects.filter(pk__in=[pk for _, pk in rows]).update(next_attempt_at=now + lease)
    return rows
