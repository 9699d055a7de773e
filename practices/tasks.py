"""Celery tasks of the ground layer: the sweeper of jobs handed to Celery from a request
(practices/dispatch.py)."""

from celery import shared_task

from . import dispatch


@shared_task(ignore_result=True)
def redispatch_waiting_jobs() -> dict[str, int]:
    """Every minute: send again the imports, exports and recomputes whose message never
    reached a worker (the broker was down when they were asked for)."""
    return dispatch.redispatch_waiting()
