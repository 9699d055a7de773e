"""The nightly fan-out (analytics.tasks.schedule_nightly_recomputes): each practice's
recompute is queued once per local day when its local hour reaches its nightly hour — not
before, never twice, across time zones and daylight-saving changes. What the scheduler
sends is read back from the real broker. One slow test runs a real worker process that
recomputes a practice and delivers the digest to an SMTP server on loopback."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django_scopes import scopes_disabled

from alerts.models import Alert
from analytics.models import ReferrerSnapshot
from analytics.tasks import recompute_practice, recompute_practices, schedule_nightly_recomputes
from communications.models import EmailStatus, OutgoingEmail
from config.celery import app
from practices.models import PracticeSettings
from tests.factories import OfficeFactory, PracticeFactory
from tests.smtp import SmtpServer

from .history import add_monthly, add_referrals, month_list

UTC = dt.UTC
RECOMPUTE = BATCH = "analytics.tasks.recompute_practices"


@pytest.fixture
def broker():
    """The real broker's default queue, emptied first; ``sent()`` takes what was queued."""
    queue_name = app.conf.task_default_queue

    def drain() -> list[tuple[str, list]]:
        found = []
        with app.connection_for_read() as conn:
            queue = conn.SimpleQueue(queue_name)
            try:
                while True:
                    try:
                        message = queue.get(block=False)
                    except queue.Empty:
                        break
                    found.append((message.headers["task"], message.payload[0]))
                    message.ack()
            finally:
                queue.close()
        return found

    drain()  # whatever earlier tests left behind

    class Broker:
        @staticmethod
        def sent() -> list[tuple[str, list]]:
            return drain()

    yield Broker
    drain()


def practice_in(zone: str, slug: str, *, hour: int = 2, last_night: dt.date | None = None):
    practice = PracticeFactory(name=slug.title(), slug=slug, time_zone=zone)
    with scopes_disabled():
        PracticeSettings.objects.create(
            practice=practice, nightly_hour=hour, last_nightly_on=last_night
        )
    return practice


def run_schedule(now: dt.datetime) -> int:
    return schedule_nightly_recomputes.apply(kwargs={"now_iso": now.isoformat()}).get()


def claimed_day(practice) -> dt.date | None:
    with scopes_disabled():
        return PracticeSettings.objects.get(practice=practice).last_nightly_on


@pytest.fixture
def two_zones(db):
    """New York at 02:00 and Tokyo at 03:00, each having run its last local night before
    Nov 26, 00:00 UTC (Nov 25 evening in New York, Nov 26 morning in Tokyo)."""
    new_york = practice_in("America/New_York", "lakeside", hour=2, last_night=dt.date(2026, 11, 25))
    tokyo = practice_in("Asia/Tokyo", "sakura", hour=3, last_night=dt.date(2026, 11, 26))
    return new_york, tokyo


def test_each_practice_is_queued_once_a_local_day_at_its_own_hour(two_zones, broker):
    new_york, tokyo = two_zones
    queued_at = []
    at = dt.datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    while at < dt.datetime(2026, 11, 28, 0, 0, tzinfo=UTC):
        # The beat checks every 15 minutes.
        queued_at += [at] * run_schedule(at)
        at += dt.timedelta(minutes=15)
    assert list(zip(queued_at, broker.sent(), strict=True)) == [
        # 02:00 in New York (EST, UTC-5) is 07:00 UTC, for New York's date.
        (dt.datetime(2026, 11, 26, 7, 0, tzinfo=UTC), (RECOMPUTE, [[new_york.pk], "2026-11-26"])),
        # 03:00 in Tokyo (UTC+9) is 18:00 UTC the day before: Tokyo's date is a day ahead.
        (dt.datetime(2026, 11, 26, 18, 0, tzinfo=UTC), (RECOMPUTE, [[tokyo.pk], "2026-11-27"])),
        (dt.datetime(2026, 11, 27, 7, 0, tzinfo=UTC), (RECOMPUTE, [[new_york.pk], "2026-11-27"])),
        (dt.datetime(2026, 11, 27, 18, 0, tzinfo=UTC), (RECOMPUTE, [[tokyo.pk], "2026-11-28"])),
    ]
    assert claimed_day(new_york) == dt.date(2026, 11, 27)
    assert claimed_day(tokyo) == dt.date(2026, 11, 28)


def test_not_before_the_local_hour(two_zones, broker):
    new_york, _ = two_zones
    with time_machine.travel(dt.datetime(2026, 11, 26, 6, 59, tzinfo=UTC), tick=False):
        assert schedule_nightly_recomputes.apply().get() == 0  # 01:59 in New York
    assert broker.sent() == []
    assert claimed_day(new_york) == dt.date(2026, 11, 25)


def test_running_the_schedule_many_times_queues_the_night_once(two_zones, broker):
    new_york, _ = two_zones
    with time_machine.travel(dt.datetime(2026, 11, 26, 7, 5, tzinfo=UTC), tick=False):
        results = [schedule_nightly_recomputes.apply().get() for _ in range(5)]
    assert results == [1, 0, 0, 0, 0]
    assert broker.sent() == [(RECOMPUTE, [[new_york.pk], "2026-11-26"])]


def test_a_late_beat_still_queues_the_night_once(two_zones, broker):
    """Beat was down overnight and comes back mid-morning: the night is not skipped."""
    new_york, _ = two_zones
    late = dt.datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert run_schedule(late) == 1
    assert run_schedule(late + dt.timedelta(hours=1)) == 0
    assert broker.sent() == [(RECOMPUTE, [[new_york.pk], "2026-11-26"])]


@pytest.mark.parametrize(
    "day, first_run_utc",
    [
        # Spring forward: 02:00-03:00 does not exist; the first check after 03:00 EDT.
        (dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        # Fall back: 01:00-02:00 happens twice; 02:00 EST comes once.
        (dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_daylight_saving_days_get_one_night(db, broker, day, first_run_utc):
    new_york = practice_in("America/New_York", "lakeside", last_night=day - dt.timedelta(days=1))
    queued = []
    at = dt.datetime.combine(day, dt.time(0), tzinfo=UTC)
    for _ in range(24 * 4):
        if run_schedule(at):
            queued.append(at)
        at += dt.timedelta(minutes=15)
    assert queued == [first_run_utc]
    assert broker.sent() == [(RECOMPUTE, [[new_york.pk], day.isoformat()])]


def test_the_nightly_hour_is_the_practices_setting(db, broker):
    late = practice_in("America/Chicago", "prairie", hour=23, last_night=dt.date(2026, 11, 25))
    assert run_schedule(dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) == 0  # 03:00 in Chicago
    assert run_schedule(dt.datetime(2026, 11, 27, 5, 0, tzinfo=UTC)) == 1  # 23:00 in Chicago
    assert broker.sent() == [(RECOMPUTE, [[late.pk], "2026-11-26"])]


def test_practices_whose_night_came_together_share_batches(db, broker, settings):
    settings.NIGHTLY_BATCH_SIZE = 2
    ny = [
        practice_in("America/New_York", f"ny{i}", last_night=dt.date(2026, 11, 25))
        for i in range(3)
    ]
    toronto = practice_in("America/Toronto", "toronto", last_night=dt.date(2026, 11, 25))
    assert run_schedule(dt.datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == 4
    ids = sorted([p.pk for p in ny] + [toronto.pk])
    assert broker.sent() == [
        (BATCH, [ids[:2], "2026-11-26"]),
        (BATCH, [ids[2:], "2026-11-26"]),
    ]


def test_a_batch_task_writes_each_practices_snapshots(db):
    practices = [practice_in("America/New_York", f"ny{i}") for i in range(2)]
    with scopes_disabled():
        for practice in practices:
            add_referrals(
                OfficeFactory(practice=practice, name="Birch Dental"), [dt.date(2026, 11, 2)]
            )
    result = recompute_practices.apply(args=([p.pk for p in practices], "2026-11-26")).get()
    assert result == {"practices": 2, "offices": 2, "rollups_rebuilt": 2, "new_alerts": 2}
    with scopes_disabled():
        assert sorted(
            ReferrerSnapshot.objects.values_list("practice__slug", "as_of", "status")
        ) == [("ny0", dt.date(2026, 11, 26), "new"), ("ny1", dt.date(2026, 11, 26), "new")]


def test_recompute_practice_writes_the_snapshots_of_that_day(practice):
    with scopes_disabled():
        office = OfficeFactory(practice=practice, name="Birch Dental")
        add_referrals(office, [dt.date(2026, 11, 2)])
    result = recompute_practice.apply(args=(practice.pk, "2026-11-26")).get()
    assert result == {"offices": 1, "new_alerts": 1}
    with scopes_disabled():
        snapshot = ReferrerSnapshot.objects.get(office=office)
    assert snapshot.as_of == dt.date(2026, 11, 26) and snapshot.status == "new"


# --- A real worker --------------------------------------------------------------------------


def wait_for(condition, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def worker_database_url() -> str:
    s = connection.settings_dict
    user = s["USER"] or "postgres"
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    return f"postgres://{user}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def worker(smtp_server):
    """``celery -A config worker`` on the test database and the real broker, sending mail
    to the loopback SMTP server."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs a database it can share (PostgreSQL)")
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "EMAIL_URL": smtp_server.url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    log_path = root / "test-artifacts" / "nightly-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed after the worker stops
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool=solo", "--concurrency=1", "--purge", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=nightly-test-{os.getpid()}@%h",
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # "ready." is logged once the worker consumes (after --purge emptied the queue).
        wait_for(
            lambda: process.poll() is not None or " ready." in log_path.read_text(),
            "the worker to start",
        )
        assert process.poll() is None, f"the worker exited; see {log_path}"
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def smtp_server():
    """The worker's mail server (the worker reads EMAIL_URL, not this process's settings)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_night_and_delivers_one_digest(smtp_server, worker):
    practice = practice_in("America/New_York", "lakeside", last_night=dt.date(2026, 11, 25))
    with scopes_disabled():
        PracticeSettings.objects.filter(practice=practice).update(
            alert_recipients="manager@lakeside.test"
        )
        declining = OfficeFactory(practice=practice, name="Birch Dental")
        add_monthly(declining, month_list(dt.date(2024, 11, 1), 24), [6] * 18 + [1] * 6)
        add_referrals(declining, [dt.date(2026, 11, 2)])
        new = OfficeFactory(practice=practice, name="Cedar Smiles")
        add_referrals(new, [dt.date(2026, 11, 12)])

    # The beat's check at 02:00 New York time sends the task to the broker ...
    assert run_schedule(dt.datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == 1
    # ... the worker recomputes, commits, and its on-commit dispatch sends the digest.
    wait_for(lambda: len(smtp_server.messages) >= 1, "the digest")
    with scopes_disabled():
        snapshots = dict(
            ReferrerSnapshot.objects.filter(as_of=dt.date(2026, 11, 26)).values_list(
                "office__name", "status"
            )
        )
        assert snapshots == {"Birch Dental": "declining", "Cedar Smiles": "new"}
        assert Alert.objects.count() == 2
        wait_for(
            lambda: OutgoingEmail.objects.filter(status=EmailStatus.SENT).exists(),
            "the outbox row marked sent",
        )
        digest = OutgoingEmail.objects.get()
    (message,) = smtp_server.messages
    assert message["X-Correlation-ID"] == str(digest.correlation_id)
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Birch Dental is declining" in body and "New referrer: Cedar Smiles" in body
    # The same night checked again: nothing more is queued.
    assert run_schedule(dt.datetime(2026, 11, 26, 7, 15, tzinfo=UTC)) == 0
