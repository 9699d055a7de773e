"""Nightly fan-out: one task per practice, so more workers finish the night sooner."""

import datetime as dt
from zoneinfo import ZoneInfo

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from practices.models import Practice, PracticeSettings, settings_for
from practices.scoping import practice_scope

from .nightly import recompute


@shared_task
def schedule_nightly_recomputes(now_iso: str | None = None) -> int:
    """Hourly: queue the recompute of every practice whose local night has come.

    Each practice is claimed for its local date with a conditional UPDATE, so a second beat,
    a retry or a restart cannot queue the same night twice.
    """
    now = dt.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    queued = 0
    for practice in Practice.objects.only("pk", "time_zone").iterator():
        local = now.astimezone(ZoneInfo(practice.time_zone))
        settings = settings_for(practice)
        if local.hour < settings.nightly_hour:
            continue
        today = local.date()
        claimed = (
            PracticeSettings.objects.with_scopes_disabled()
            .filter(practice=practice)
            .filter(Q(last_nightly_on__isnull=True) | Q(last_nightly_on__lt=today))
            .update(last_nightly_on=today)
        )
        if claimed:
            recompute_practice.delay(practice.pk, today.isoformat())
            queued += 1
    return queued


@shared_task(acks_late=True)
def recompute_practice(practice_id: int, as_of: str) -> dict:
    practice = Practice.objects.get(pk=practice_id)
    with practice_scope(practice):
        result = recompute(practice, dt.date.fromisoformat(as_of))
    return {"offices": len(result.snapshots), "new_alerts": len(result.new_alerts)}
