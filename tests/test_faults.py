"""Faults survived (issue 10, item 6; docs/reliability.md): Redis down and the database
unreachable, with real services — a private redis-server started and stopped here, and
the test PostgreSQL reached on a port where nothing listens.

bench/faults.py plays the same faults (and SMTP refusing, and a PostgreSQL restart)
against a running gunicorn + Celery stack."""

import base64
import datetime as dt
import io
import json
import logging
import shutil
import socket
import subprocess
import time

import pytest
import redis
from django.core.cache import caches
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.choices import RecomputeStatus
from analytics.models import RecomputeRequest, ReferrerSnapshot
from analytics.tasks import run_recompute_request
from communications import delivery, letters
from communications.models import EmailKind, EmailStatus, LetterStatus
from communications.outbox import queue_email
from communications.tasks import send_letter
from config.celery import app as celery_app
from portability.models import ExportJob, ExportStatus
from portability.tasks import build_practice_export
from practices import dispatch
from practices.scoping import practice_scope
from referrals import tasks as referral_tasks
from referrals.choices import ImportMode, ImportStatus
from referrals.models import ImportJob, OnlineReferral

from .communications.letter_cases import letters_of, make_case
from .online_referral_helpers import form_data
from .smtp import serve_smtp
from .test_import_csv import GOOD_ROWS, csv_bytes, stored
from .test_import_wizard import DENTRIX_ROWS, dentrix_csv

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test alone, which it may stop and start on the same port."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def forget_result_store():
    celery_app._backend_cache = None
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def private_redis(tmp_path, settings, monkeypatch):
    """Cache and Celery broker on a private Redis (the suite's own Redis stays up)."""
    server = PrivateRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.TolerantRedisCache",
            "LOCATION": server.url(0),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", server.url(1))
    monkeypatch.setenv("CELERY_RESULT_BACKEND", server.url(2))
    # The app keeps its connection pools and result store: new ones for the private Redis,
    # and back after.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    forget_result_store()
    try:
        yield server
    finally:
        server.stop()
        monkeypatch.undo()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        forget_result_store()


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


def local_input(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# --- Redis down ---------------------------------------------------------------------------


def test_with_redis_down_the_cache_is_a_miss_not_an_error(private_redis, caplog, monkeypatch):
    from config.cache import TolerantRedisCache

    # The warning is written once a minute per process; another test may have had it.
    monkeypatch.setattr(TolerantRedisCache, "_last_warning", 0.0)
    cache = caches["default"]
    cache.set("k", "v")
    assert cache.get("k") == "v"
    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        assert cache.get("k", "missing") == "missing"
        cache.set("k", "w")  # skipped, no error
        assert cache.add("n", 1) is True  # a lock is taken, a counter starts
        with pytest.raises(ValueError):
            cache.incr("n")
    assert "cache unreachable" in caplog.text


def test_with_redis_down_pages_serve_and_the_online_form_stores_the_referral(
    client, practice, coordinator_user, private_redis, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    private_redis.stop()

    page = client.get("/refer/lakeside/")
    assert page.status_code == 200
    sent = client.post("/refer/lakeside/", form_data())
    assert sent.status_code == 302
    assert sent["Location"] == "/refer/lakeside/thanks/"
    with practice_scope(practice):
        (stored,) = OnlineReferral.objects.all()
        assert stored.patient_last_name == "Doe"

    client.force_login(coordinator_user)
    assert client.get("/cases/").status_code == 200
    inbox = client.get("/inbox/")
    assert inbox.status_code == 200
    assert "Doe" in inbox.content.decode()


def test_with_redis_down_a_step_is_saved_its_letter_waits_and_goes_out_once_redis_is_back(
    client,
    practice,
    coordinator_user,
    private_redis,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    with practice_scope(practice):
        case = make_case(practice)
    client.force_login(coordinator_user)
    private_redis.stop()

    consult = timezone.now() + dt.timedelta(days=3)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/cases/{case.pk}/steps/consult_scheduled/",
            {"scheduled_for": local_input(consult)},
        )
    # The step is recorded and the person sees the case, not an error page, at once: the
    # broker's publish gives up after ~1 s (it waited 20 s for Celery's result store while
    # the letter task kept results nobody reads).
    assert time.monotonic() - started < 6
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/"
    with practice_scope(practice):
        case.refresh_from_db()
        assert case.status == "consult_scheduled"
        (letter,) = letters_of(case)
    # The dispatch could not reach the broker: the letter waits in the outbox.
    assert letter.status == LetterStatus.QUEUED
    assert smtp_server.messages == []

    # Redis is back; the sweeper (every minute) dispatches what waited past the grace.
    private_redis.start()
    later = timezone.now() + letters.DISPATCH_GRACE + dt.timedelta(seconds=1)
    with scopes_disabled():
        _, due = delivery.sweep(now=later)
    assert due == [(practice.pk, letter.pk)]
    for practice_id, letter_id in due:
        send_letter.delay(practice_id, letter_id)
    broker = redis.Redis.from_url(private_redis.url(1))
    assert broker.llen("celery") == 1  # the message is on the broker, for a worker

    # What the worker runs for it; the message delivered twice still sends once.
    send_letter(practice.pk, letter.pk)
    send_letter(practice.pk, letter.pk)
    assert smtp_server.count_by_header() == {str(letter.correlation_id): 1}
    with practice_scope(practice):
        letter.refresh_from_db()
    assert letter.status == LetterStatus.SENT


def test_with_redis_down_an_email_queued_in_a_transaction_waits_in_the_outbox(
    practice, private_redis, django_capture_on_commit_callbacks
):
    private_redis.stop()
    with practice_scope(practice), django_capture_on_commit_callbacks(execute=True):
        email, created = queue_email(
            practice,
            kind=EmailKind.ALERT_DIGEST,
            dedupe_key="digest:redis-down",
            to=["admin@lakeside.example"],
            subject="Nightly digest",
            body_text="2 alerts",
        )
    # No error escaped the commit; the row waits for the outbox sweeper.
    assert created
    with practice_scope(practice):
        email.refresh_from_db()
    assert email.status == EmailStatus.QUEUED


def test_with_redis_down_the_board_serves_with_the_recompute_still_in_progress(
    admin_client, practice, private_redis, settings
):
    # A big practice computes in a Celery task; the board reads its state from the result
    # store (Redis) to show the progress card.
    settings.REFERRER_RECOMPUTE_SYNC_MAX_REFERRALS = 0
    with practice_scope(practice):
        make_case(practice)
    started = admin_client.post("/referrers/health/recompute/", follow=True)
    assert "Computing referrer health" in started.content.decode()
    private_redis.stop()

    board = admin_client.get("/referrers/health/")
    assert board.status_code == 200
    assert "Computing referrer health" in board.content.decode()
    progress = admin_client.get("/referrers/health/recompute/", headers={"HX-Request": "true"})
    assert progress.status_code == 200
    assert "Computing referrer health" in progress.content.decode()


# --- jobs asked for while the broker is down (practices/dispatch.py) --------------------------


def run_the_broker_queue(server) -> list[str]:
    """What a worker does with the messages on the private broker: each one taken off the
    queue in order and its task run. Returns the task names run."""
    broker = redis.Redis.from_url(server.url(1))
    ran = []
    while (raw := broker.rpop("celery")) is not None:
        message = json.loads(raw)
        args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        name = message["headers"]["task"]
        celery_app.tasks[name](*args, **kwargs)
        ran.append(name)
    return ran


def sweep_after_grace() -> dict[str, int]:
    """The beat's sweeper, run once the grace of a lost message has passed; non-zero kinds."""
    later = timezone.now() + dispatch.REDISPATCH_AFTER + dt.timedelta(seconds=1)
    return {kind: n for kind, n in dispatch.redispatch_waiting(now=later).items() if n}


def upload_csv(client, data: bytes):
    file = io.BytesIO(data)
    file.name = "history.csv"
    return client.post(reverse("import_upload"), {"file": file})


def test_with_redis_down_an_import_is_stored_waits_and_runs_once_redis_is_back(
    admin_client, practice, private_redis, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_SYNC_MAX_ROWS = 2  # five rows: checked and imported by workers
    private_redis.stop()

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_csv(admin_client, csv_bytes(*GOOD_ROWS))
    # The upload is stored and the person sees their import, at once: no 500, no hang.
    assert time.monotonic() - started < 6
    with practice_scope(practice):
        job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[job.pk])
    assert job.status == ImportStatus.UPLOADED
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert "waiting for a worker" in page.content.decode()

    # Redis is back: the sweeper hands the check to a worker once; a second sweep (another
    # beat, or the next minute within the lease) sends nothing more.
    private_redis.start()
    assert sweep_after_grace() == {"imports": 1}
    assert sweep_after_grace() == {}
    assert run_the_broker_queue(private_redis) == ["referrals.tasks.check_import"]
    with practice_scope(practice):
        job.refresh_from_db()
    assert (job.status, job.counts["valid_rows"]) == (ImportStatus.READY, 5)

    # Started while Redis is down again: the start is recorded, the run waits.
    private_redis.stop()
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("import_start", args=[job.pk]), {"mode": ImportMode.ALL_OR_NOTHING}
        )
    assert time.monotonic() - started < 6
    assert response.status_code == 302
    with practice_scope(practice):
        job.refresh_from_db()
    assert job.status == ImportStatus.IMPORTING
    assert stored(practice)["Referral"] == 0
    assert "waiting for a worker" in admin_client.get(response["Location"]).content.decode()

    private_redis.start()
    assert sweep_after_grace() == {"imports": 1}
    assert run_the_broker_queue(private_redis) == ["referrals.tasks.run_import"]
    # The message delivered once more (the request's own, had it got through): nothing more.
    referral_tasks.run_import(practice.pk, job.pk)
    with practice_scope(practice):
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.counts["referrals_created"] == 5
    assert stored(practice)["Referral"] == 5
    assert sweep_after_grace() == {}  # done: never sent again


def test_with_redis_down_the_wizards_import_waits_and_runs_with_its_mode_once_redis_is_back(
    admin_client, practice, private_redis, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload_csv(admin_client, dentrix_csv(*DENTRIX_ROWS))  # a mapping step: nothing queued
    with practice_scope(practice):
        job = ImportJob.objects.get()
    private_redis.stop()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("import_wizard_import", args=[job.pk]), {"mode": ImportMode.VALID_ONLY}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[job.pk])
    with practice_scope(practice):
        job.refresh_from_db()
    assert (job.status, job.mode) == (ImportStatus.UPLOADED, ImportMode.VALID_ONLY)

    private_redis.start()
    assert sweep_after_grace() == {"imports": 1}
    assert run_the_broker_queue(private_redis) == ["referrals.tasks.check_and_import"]
    referral_tasks.check_and_import(practice.pk, job.pk, ImportMode.VALID_ONLY)  # again: no-op
    with practice_scope(practice):
        job.refresh_from_db()
    assert (job.status, job.counts["referrals_created"]) == (ImportStatus.DONE, 4)
    assert stored(practice)["Referral"] == 4
    assert sweep_after_grace() == {}


def test_with_redis_down_a_practice_export_is_stored_and_built_once_redis_is_back(
    admin_client, practice, private_redis, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    with practice_scope(practice):
        make_case(practice)
    private_redis.stop()

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/settings/export/")
    assert time.monotonic() - started < 6
    assert response.status_code == 302
    with practice_scope(practice):
        job = ExportJob.objects.get()
    assert job.status == ExportStatus.QUEUED
    assert "waiting for a worker" in admin_client.get("/settings/export/").content.decode()

    private_redis.start()
    assert sweep_after_grace() == {"exports": 1}
    assert sweep_after_grace() == {}
    assert run_the_broker_queue(private_redis) == ["portability.tasks.build_practice_export"]
    build_practice_export(practice.pk, job.pk)  # delivered twice: built once
    with practice_scope(practice):
        job.refresh_from_db()
        assert ExportJob.objects.count() == 1
    assert job.status == ExportStatus.DONE and job.size > 0
    assert len(list((tmp_path / "media").rglob("*.zip"))) == 1
    assert "Your export is ready" in admin_client.get("/settings/export/").content.decode()
    assert sweep_after_grace() == {}


def test_with_redis_down_compute_now_is_stored_and_computed_once_redis_is_back(
    admin_client, practice, private_redis, settings, django_capture_on_commit_callbacks
):
    settings.REFERRER_RECOMPUTE_SYNC_MAX_REFERRALS = 0  # a large practice: a worker computes
    with practice_scope(practice):
        make_case(practice)
    private_redis.stop()

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        board = admin_client.post("/referrers/health/recompute/", follow=True)
        # "Recompute now" on the settings page meanwhile finds the same request.
        again = admin_client.post("/settings/referrer-health/recompute/", follow=True)
    # Before, the board's button waited ~20 s for Celery's result store, then errored.
    assert time.monotonic() - started < 10
    assert board.status_code == 200
    assert "Computing referrer health" in board.content.decode()
    assert again.status_code == 200 and "Recompute queued" in again.content.decode()
    with practice_scope(practice):
        (asked,) = RecomputeRequest.objects.all()
        assert not ReferrerSnapshot.objects.exists()
    assert asked.status == RecomputeStatus.QUEUED

    private_redis.start()
    assert sweep_after_grace() == {"recomputes": 1}
    assert sweep_after_grace() == {}
    assert run_the_broker_queue(private_redis) == ["analytics.tasks.run_recompute_request"]
    run_recompute_request(practice.pk, asked.pk)  # delivered twice: computed once
    with practice_scope(practice):
        asked.refresh_from_db()
        assert ReferrerSnapshot.objects.filter(as_of=asked.as_of).count() == 1
    assert (asked.status, asked.offices) == (RecomputeStatus.DONE, 1)
    html = admin_client.get("/referrers/health/").content.decode()
    assert "Maple Street Dental" in html and "Computing referrer health" not in html
    assert sweep_after_grace() == {}


# --- the database unreachable ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_is_a_503_page_and_the_next_request_works(
    client, practice, coordinator_user
):
    client.force_login(coordinator_user)
    client.raise_request_exception = False
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        staff_page = client.get("/cases/")
        public_page = client.get("/refer/lakeside/")
        api = client.get("/api/v1/referrals/", HTTP_AUTHORIZATION="Bearer oms_whatever")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved

    for response in (staff_page, public_page):
        html = response.content.decode()
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert "Back in a moment" in html
        assert "was <strong>not</strong> saved" in html
        assert "Traceback" not in html and "OperationalError" not in html
    assert api.status_code == 503
    assert api["Content-Type"] == "application/json"
    assert api.json() == {"detail": "The service is unavailable for a moment; try again."}

    # The database is back: the same process serves the next request, no restart.
    assert client.get("/cases/").status_code == 200
    assert client.get("/refer/lakeside/").status_code == 200


def test_other_server_errors_keep_the_plain_500_page(rf):
    from config.errors import server_error

    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(rf.get("/cases/"))
    assert response.status_code == 500
    assert "Back in a moment" not in response.content.decode()
