"""Nightly fan-out: the practices whose night has come, in batches of
``settings.NIGHTLY_BATCH_SIZE`` per task (analytics/nightly_batch.py), so more workers
finish the night sooner and each does a few set-based statements per batch."""

import datetime as dt
import logging
from collections import defaultdict
from zoneinfo import ZoneInfo

from celery import shared_task
from django.conf import settings as django_settings
from django.db.models import Min, Q
from django.utils import timezone

from practices.models import Practice, PracticeSettings, settings_for
from practices.scoping import practice_scope

from . import recompute_now
from .nightly import recompute

logger = logging.getLogger(__name__)


@shared_task
def schedule_nightly_recomputes(now_iso: str | None = None) -> int:
    """Hourly: queue the recompute of every practice whose local night has come.

    Each practice is claimed for its local date with a conditional UPDATE, so a second beat,
    a retry or a restart cannot queue the same night twice.
    """
    now = dt.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    queued = 0
    due: dict[dt.date, list[int]] = defaultdict(list)
    for practice in Practice.objects.only("pk", "time_zone").iterator():
        local = now.astimezone(ZoneInfo(practice.time_zone))
        settings = settings_for(practice)
        if local.hour < settings.nightly_hour:
            continue
        today = local.date()
        # The loop is over the tenant registry (not a tenant table); each claim is made in
        # its own practice's scope, so the scheduler never needs to see every tenant's rows.
        with practice_scope(practice):
            claimed = (
                PracticeSettings.objects.filter(practice=practice)
                .filter(Q(last_nightly_on__isnull=True) | Q(last_nightly_on__lt=today))
                .update(last_nightly_on=today)
            )
        if claimed:
            due[today].append(practice.pk)
            queued += 1
    size = max(1, django_settings.NIGHTLY_BATCH_SIZE)
    for day, ids in sorted(due.items()):
        for start in range(0, len(ids), size):
            recompute_practices.delay(ids[start : start + size], day.isoformat())
    return queued


@shared_task(acks_late=True)
def recompute_practices(practice_ids: list[int], as_of: str) -> dict:
    """One batch of the night. Should the batch fail as a whole (one practice's data
    tripping a statement), each practice is queued on its own so the others' boards still
    get their night, and the failing one's error is its own."""
    from .nightly_batch import recompute_batch

    day = dt.date.fromisoformat(as_of)
    try:
        result = recompute_batch(practice_ids, day)
    except Exception:
        if len(practice_ids) == 1:
            raise
        logger.exception(
            "nightly batch of %s practices failed; queued one by one", len(practice_ids)
        )
        for pk in practice_ids:
            recompute_practices.delay([pk], as_of)
        return {"practices": 0, "requeued": len(practice_ids)}
    return {
        "practices": len(result.practices),
        "offices": result.snapshots,
        "rollups_rebuilt": result.rollups_rebuilt,
        "new_alerts": sum(len(p.new_alerts) for p in result.practices.values()),
    }


@shared_task(acks_late=True)
def recompute_practice(practice_id: int, as_of: str) -> dict:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        result = recompute(practice, dt.date.fromisoformat(as_of))
    return {"offices": len(result.snapshots), "new_alerts": len(result.new_alerts)}


@shared_task(name=recompute_now.RECOMPUTE_TASK, acks_late=True, ignore_result=True)
def run_recompute_request(practice_id: int, request_id: int) -> None:
    """An administrator's "compute now" (analytics/recompute_now.py). The request's row
    holds its state; it is claimed by its status, so a second delivery does nothing."""
    practice = Practice.objects.filter(pk=practice_id).first()
    if practice is None:
        return
    with practice_scope(practice):
        recompute_now.run_request(request_id)


# --- monthly review and quarterly report emails ----------------------------------------


@shared_task
def schedule_report_emails(now_iso: str | None = None) -> int:
    """Hourly: queue the monthly review (and, when a quarter begins, the quarterly report)
    of every practice whose local first-of-the-month morning has come.

    Only periods without an outbox row are queued; the send task checks again, and the
    outbox's unique key settles two runs at once, so nothing is sent twice.
    """
    # Imported here: this section is appended to the module, whose imports stay as they are.
    from communications.models import EmailKind, OutgoingEmail

    from . import report_emails

    now = dt.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    queued = 0
    for practice in Practice.objects.only("pk", "time_zone").iterator():
        local = now.astimezone(ZoneInfo(practice.time_zone))
        if not report_emails.in_report_days(local):
            continue  # most hours of most days: no query at all
        due = report_emails.due_reports(local, report_emails.report_hour(settings_for(practice)))
        if not due:
            continue
        keys = {report_emails.dedupe_key(kind, period): (kind, period) for kind, period in due}
        with practice_scope(practice):
            written = set(
                OutgoingEmail.objects.filter(dedupe_key__in=list(keys)).values_list(
                    "dedupe_key", flat=True
                )
            )
        for key, (kind, period) in keys.items():
            if key in written:
                continue
            if kind == EmailKind.MONTHLY_REVIEW:
                send_monthly_review.delay(practice.pk, period.isoformat(), local.date().isoformat())
            else:
                send_quarterly_report.delay(practice.pk, period.isoformat())
            queued += 1
    return queued


@shared_task(acks_late=True)
def send_monthly_review(practice_id: int, month: str, today: str) -> int | None:
    """Write the monthly review of ``month`` (an ISO date, its first day) to the outbox."""
    from .report_emails import queue_monthly_review

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice), timezone.override(practice.time_zone):
        email = queue_monthly_review(
            practice, dt.date.fromisoformat(month), today=dt.date.fromisoformat(today)
        )
    return email.pk if email else None


@shared_task(acks_late=True)
def send_quarterly_report(practice_id: int, quarter: str) -> int | None:
    """Write the quarterly report of the quarter starting ``quarter`` to the outbox."""
    from .report_emails import queue_quarterly_report

    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice), timezone.override(practice.time_zone):
        email = queue_quarterly_report(practice, dt.date.fromisoformat(quarter))
    return email.pk if email else None


# --- snoozed alerts wake on their date (issue 11 item 5) ---------------------------------

# The earliest local date anywhere is at most this far ahead of UTC (UTC+14, Kiribati).
_MAX_UTC_OFFSET = dt.timedelta(hours=14)


@shared_task
def wake_snoozed_alerts(now_iso: str | None = None) -> int:
    """Every 15 minutes: snoozed alerts whose date has come in their practice's own time zone
    are open again, instead of waiting for the practice's nightly run.

    Which practices have a snoozed alert that may be due crosses tenants, so it is one query
    of ids and dates on a partial index (no alert's content); each practice's alerts are then
    woken in its own scope with its own local date, so the update sees only its rows.
    """
    from django_scopes import scopes_disabled

    from alerts import services as alerts
    from alerts.choices import AlertState
    from alerts.models import Alert

    now = dt.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    horizon = (now.astimezone(dt.UTC) + _MAX_UTC_OFFSET).date()
    with scopes_disabled():
        due_from = dict(
            Alert.objects.filter(state=AlertState.SNOOZED, snoozed_until__lte=horizon)
            .values_list("practice_id")
            .annotate(first=Min("snoozed_until"))
            .order_by()
        )
    woken = 0
    for practice in Practice.objects.filter(pk__in=list(due_from)).only("pk", "time_zone"):
        today = now.astimezone(ZoneInfo(practice.time_zone)).date()
        if due_from[practice.pk] > today:
            continue  # its date has come east of here, not yet in this practice
        with practice_scope(practice):
            woken += alerts.wake_snoozed(today)
    return woken
