"""practices/dispatch.py: jobs handed to Celery from a request, and the sweeper that hands
over again what waited (the broker down: tests/test_faults.py plays that with a real Redis)."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from analytics import recompute_now
from analytics.choices import RecomputeStatus
from analytics.models import RecomputeRequest
from portability.models import ExportJob, ExportStatus
from practices import dispatch
from practices.scoping import practice_scope
from referrals.choices import ImportStatus
from referrals.models import ImportJob


def sweep(at: dt.datetime) -> dict[str, int]:
    return {kind: n for kind, n in dispatch.redispatch_waiting(now=at).items() if n}


def test_a_job_is_sent_again_only_after_the_grace_and_then_once_per_grace(practice):
    handed = timezone.now()
    with practice_scope(practice):
        ExportJob.objects.create(practice=practice, dispatched_at=handed)
    # Within the grace its own message may still be on its way.
    assert sweep(handed + dt.timedelta(minutes=1)) == {}
    after = handed + dispatch.REDISPATCH_AFTER + dt.timedelta(seconds=1)
    assert sweep(after) == {"exports": 1}
    assert sweep(after) == {}  # leased: a second sweeper sends nothing
    assert sweep(after + dispatch.REDISPATCH_AFTER + dt.timedelta(seconds=1)) == {"exports": 1}


def test_only_jobs_that_wait_are_sent_again(practice, other_practice):
    long_ago = timezone.now() - dt.timedelta(hours=1)
    for p in (practice, other_practice):
        with practice_scope(p):
            ExportJob.objects.create(practice=p, dispatched_at=long_ago)
            for status in (ExportStatus.RUNNING, ExportStatus.DONE, ExportStatus.FAILED):
                ExportJob.objects.create(practice=p, status=status, dispatched_at=long_ago)
            # Done in the request (a small file, checked at once): never handed to Celery.
            ImportJob.objects.create(practice=p, file="imports/x.csv", original_name="x.csv")
            ImportJob.objects.create(
                practice=p,
                file="imports/y.csv",
                original_name="y.csv",
                status=ImportStatus.READY,
                dispatched_at=long_ago,
            )
            for status in (RecomputeStatus.RUNNING, RecomputeStatus.DONE):
                RecomputeRequest.objects.create(
                    practice=p, as_of=long_ago.date(), status=status, dispatched_at=long_ago
                )
    # One queued export of each practice: the sweeper works across practices.
    assert sweep(timezone.now()) == {"exports": 2}


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_passes_over_an_import_a_worker_is_running(practice):
    long_ago = timezone.now() - dt.timedelta(hours=1)
    with practice_scope(practice):
        job = ImportJob.objects.create(
            practice=practice,
            file="imports/x.csv",
            original_name="x.csv",
            status=ImportStatus.IMPORTING,
            dispatched_at=long_ago,
        )
        found = {}

        def sweeper_in_another_process():
            try:
                found.update(sweep(timezone.now()))
            finally:
                connection.close()

        # The import's claim, as run_job makes it: inside its one long transaction, so
        # from outside the job still reads IMPORTING, not started, but its row is locked.
        with transaction.atomic():
            ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now())
            other = threading.Thread(target=sweeper_in_another_process)
            other.start()
            other.join(timeout=10)
            assert not other.is_alive()  # it passed over the locked row, it did not wait
            transaction.set_rollback(True)  # the worker died: its import rolls back
        assert found == {}
        # The job is left to the sweeper.
        assert sweep(timezone.now()) == {"imports": 1}


def test_a_failed_compute_now_shows_on_the_board(admin_client, practice, settings, monkeypatch):
    settings.REFERRER_RECOMPUTE_SYNC_MAX_REFERRALS = -1  # even an empty practice: a worker
    admin_client.post("/referrers/health/recompute/")
    with practice_scope(practice):
        asked = RecomputeRequest.objects.get()

    def broken(practice, as_of):
        raise ZeroDivisionError

    monkeypatch.setattr(recompute_now, "recompute", broken)
    with practice_scope(practice):
        recompute_now.run_request(asked.pk)
        asked.refresh_from_db()
    assert (asked.status, asked.failure) == (
        RecomputeStatus.FAILED,
        "The computation stopped (ZeroDivisionError).",
    )
    card = admin_client.get("/referrers/health/recompute/", headers={"HX-Request": "true"})
    assert "The computation failed." in card.content.decode()


def test_a_compute_now_that_lost_its_worker_does_not_hold_back_a_new_one(practice, admin_user):
    today = timezone.localdate()
    with practice_scope(practice):
        lost = RecomputeRequest.objects.create(
            practice=practice,
            as_of=today,
            status=RecomputeStatus.RUNNING,
            started_at=timezone.now() - recompute_now.STALE_AFTER - dt.timedelta(minutes=1),
        )
        first = recompute_now.request_recompute(practice, today, admin_user)
        second = recompute_now.request_recompute(practice, today, admin_user)
        lost.refresh_from_db()
    assert lost.status == RecomputeStatus.FAILED
    assert first != lost and second == first and first.status == RecomputeStatus.QUEUED
