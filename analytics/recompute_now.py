""" "Compute now" in a worker: an administrator asks for the practice's referrer health as
of its local today (the board of a large practice, the settings page), a worker computes it.

The request is a row (RecomputeRequest) written before Celery is asked, and the worker's
claim is a conditional UPDATE on its status: a broker that is down loses nothing (the row
waits, the sweeper of practices/dispatch.py hands it over again), and a message delivered
twice computes once. The board reads the state from the row, not from Celery's result store.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from practices import dispatch
from practices.models import Practice, User

from .choices import RecomputeStatus
from .models import RecomputeRequest
from .nightly import recompute

logger = logging.getLogger(__name__)

# Sent by name: analytics/tasks.py wraps this module, so this module does not import it.
RECOMPUTE_TASK = "analytics.tasks.run_recompute_request"
IN_PROGRESS = (RecomputeStatus.QUEUED, RecomputeStatus.RUNNING)
# A computation running this long lost its worker (a large practice computes in under a
# minute, docs/performance.md): it no longer holds back a new request.
STALE_AFTER = dt.timedelta(hours=1)


def request_recompute(practice: Practice, as_of: dt.date, user: User | None) -> RecomputeRequest:
    """Queue the practice's recompute as of ``as_of``; a second click while one waits or
    runs finds that one. Call in the practice's scope."""
    with transaction.atomic():
        # Two clicks at once: the second waits here, then finds the first request.
        Practice.objects.select_for_update().get(pk=practice.pk)
        RecomputeRequest.objects.filter(
            status=RecomputeStatus.RUNNING, started_at__lt=timezone.now() - STALE_AFTER
        ).update(
            status=RecomputeStatus.FAILED,
            failure="The computation stopped before it was finished.",
            finished_at=timezone.now(),
        )
        pending = RecomputeRequest.objects.filter(status__in=IN_PROGRESS, as_of=as_of).first()
        if pending is not None:
            return pending
        pending = RecomputeRequest.objects.create(
            practice=practice, as_of=as_of, requested_by=user, dispatched_at=timezone.now()
        )
        dispatch.send_after_commit(RECOMPUTE_TASK, practice.pk, pending.pk)
    return pending


def run_request(request_id: int) -> RecomputeRequest | None:
    """The worker's side, in the practice's scope: claim the queued request, compute, store
    the outcome (a failure too: the board shows it). None when it was not queued (done,
    running, or failed already)."""
    claimed = RecomputeRequest.objects.filter(pk=request_id, status=RecomputeStatus.QUEUED).update(
        status=RecomputeStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    pending = RecomputeRequest.objects.select_related("practice").get(pk=request_id)
    try:
        result = recompute(pending.practice, pending.as_of)
    except Exception as exc:
        logger.exception("recompute request %s failed", request_id)
        RecomputeRequest.objects.filter(pk=request_id).update(
            status=RecomputeStatus.FAILED,
            failure=f"The computation stopped ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )
        return RecomputeRequest.objects.get(pk=request_id)
    RecomputeRequest.objects.filter(pk=request_id).update(
        status=RecomputeStatus.DONE,
        offices=len(result.snapshots),
        new_alerts=len(result.new_alerts),
        finished_at=timezone.now(),
    )
    pending.refresh_from_db()
    return pending


def waiting_requests(now: dt.datetime) -> list[tuple[str, tuple]]:
    """For the sweeper (practices/dispatch.py), all practices: requests still queued long
    after they were handed to a worker."""
    waiting = RecomputeRequest.objects.filter(
        status=RecomputeStatus.QUEUED, dispatched_at__isnull=False
    )
    return dispatch.lease_sends(waiting, RECOMPUTE_TASK, now=now)
