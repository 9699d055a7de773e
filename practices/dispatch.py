"""Handing a job to Celery from a request without making the broker a point of failure.

The job's row is the truth (an import, an export, a recompute request); the Celery message
is only a nudge. So:

- :func:`send_after_commit` sends the task by name after the commit, and a broker that is
  down (Redis stopped) is logged, never raised: the request that saved the row answers
  normally (issue 10, docs/reliability.md). It keeps no result in Celery's result store:
  publishing a task that keeps one subscribes to the store first, which with Redis down
  waited 20 s. Whoever wants the job's state reads its row.
- Each job model that is handed over this way has a ``dispatched_at`` column (when it was
  last handed to Celery) and registers a *finder* here (:func:`register`) in its app's
  ``ready()``: which of its rows still wait, and the task that does them. The beat task
  ``practices.tasks.redispatch_waiting_jobs`` runs every minute and sends again what waited
  longer than :data:`REDISPATCH_AFTER` (:func:`lease_waiting`).
- The tasks claim their job by its status with a conditional UPDATE, so a message sent twice
  (the request's and the sweeper's, or the broker's redelivery) does the work once.

The letters and the email outbox (communications/) do the same with their own sweepers,
which also retry failed sends; they use :func:`on_commit_hook` from here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from functools import partial

from celery import signature
from django.db import models, transaction
from django.utils import timezone
from django_scopes import scopes_disabled
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# A job not picked up this long after it was handed to Celery is handed over again (and
# again each time this long has passed while it still waits: a worker busy for long gets
# one more message per period, which its claim makes harmless).
REDISPATCH_AFTER = dt.timedelta(minutes=2)

# (task name, args) for a job that waits.
Send = tuple[str, tuple]
Finder = Callable[[dt.datetime], Iterable[Send]]
_finders: dict[str, Finder] = {}


def on_commit_hook(func, *args) -> partial:
    """``partial(func, *args)`` with the ``__qualname__`` a partial lacks: Django logs a
    failing robust on-commit hook by it, and without it the AttributeError escaped after the
    commit after all — a 500 page for a step that was recorded (issue 10, Redis down)."""
    hook = partial(func, *args)
    hook.__qualname__ = getattr(func, "__qualname__", repr(func))
    return hook


def send(task_name: str, *args) -> bool:
    """Put the task on the broker now. False (logged) when the broker cannot be reached:
    kombu gives up after about a second; the job's row still waits for the sweeper."""
    try:
        signature(task_name, args=args).apply_async(ignore_result=True)
    except OperationalError as exc:
        log.warning("broker unreachable, %s waits for the sweeper: %s", task_name, exc)
        return False
    return True


def send_after_commit(task_name: str, *args) -> None:
    """Send the task by name once the current transaction commits (at once outside one).
    robust: nothing the send raises can turn the saved job into an error page."""
    transaction.on_commit(on_commit_hook(send, task_name, *args), robust=True)


def register(key: str, finder: Finder) -> None:
    """Let the sweeper ask ``finder(now)`` for the jobs of one kind that still wait.
    The finder runs outside any practice scope and must lease what it returns
    (:func:`lease_waiting`). Registering the same key again replaces it."""
    _finders[key] = finder


def lease_waiting(
    queryset: models.QuerySet, *, now: dt.datetime, limit: int = 200
) -> list[models.Model]:
    """The rows of ``queryset`` (jobs in a waiting state) handed to Celery more than
    REDISPATCH_AFTER ago, oldest first, with their ``dispatched_at`` moved to ``now``: the
    lease that keeps a second sweeper (or the next minute's) from sending them again at once.
    SKIP LOCKED passes over a row a worker holds (an import runs in one transaction that
    locks its job row until it commits)."""
    with transaction.atomic():
        rows = list(
            queryset.select_for_update(skip_locked=True)
            .filter(dispatched_at__lt=now - REDISPATCH_AFTER)
            .order_by("dispatched_at", "pk")[:limit]
        )
        if rows:
            queryset.model.objects.filter(pk__in=[row.pk for row in rows]).update(dispatched_at=now)
    return rows


def lease_sends(queryset: models.QuerySet, task_name: str, *, now: dt.datetime) -> list[Send]:
    """The usual finder's answer: each row :func:`lease_waiting` leases, sent again to
    ``task_name`` with its (practice id, id)."""
    return [(task_name, (row.practice_id, row.pk)) for row in lease_waiting(queryset, now=now)]


def redispatch_waiting(now: dt.datetime | None = None) -> dict[str, int]:
    """The sweeper's work: every registered kind's waiting jobs sent again. Returns how
    many of each kind were sent (whether or not the broker took them)."""
    now = now or timezone.now()
    sent: dict[str, int] = {}
    for key, finder in sorted(_finders.items()):
        # Which jobs wait crosses tenants (ids only); each task re-enters its practice.
        with scopes_disabled():
            due = list(finder(now))
        for task_name, args in due:
            send(task_name, *args)
        sent[key] = len(due)
    return sent
