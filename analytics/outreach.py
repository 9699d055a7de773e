"""The outreach log: a contact with a referring office, written by one service."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from referrals.models import ReferringOffice

from .choices import OutreachKind
from .models import OutreachLog


@transaction.atomic
def log_outreach(
    office: ReferringOffice,
    *,
    kind: str,
    occurred_on: dt.date,
    by,
    outcome: str = "",
    notes: str = "",
    follow_up_on: dt.date | None = None,
    today: dt.date | None = None,
) -> OutreachLog:
    """Record a call, visit, lunch-and-learn, gift or email to ``office``.

    A contact happens today or in the past (it is a log, not a plan: the plan is the
    follow-up date, which may not come before the contact).
    """
    today = today or timezone.localdate()
    errors = {}
    if kind not in OutreachKind.values:
        errors["kind"] = "Choose how you reached the office."
    if occurred_on > today:
        errors["occurred_on"] = "A contact cannot be logged before it happens."
    if follow_up_on is not None and follow_up_on < occurred_on:
        errors["follow_up_on"] = "The follow-up cannot come before the contact."
    if errors:
        raise ValidationError(errors)
    return OutreachLog.objects.create(
        practice_id=office.practice_id,
        office=office,
        kind=kind,
        occurred_on=occurred_on,
        by=by,
        outcome=outcome.strip(),
        notes=notes.strip(),
        follow_up_on=follow_up_on,
    )
