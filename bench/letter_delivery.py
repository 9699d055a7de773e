"""Benchmark: 1,000 GP letters through the outbox with a worker killed half-way.

What it does, end to end, with real parts only:
1. a real SMTP server (aiosmtpd) on 127.0.0.1 that records every message it accepts;
2. a real Celery worker subprocess (prefork) on the Redis broker and PostgreSQL database
   of the environment, sending through that SMTP server;
3. 1,000 referrals, then 1,000 "consult scheduled" milestones recorded through
   ``referrals.services.record_milestone``, each in its own transaction as the front desk
   would: each writes its letter in the milestone's transaction and dispatches it on commit;
4. the worker is killed with SIGKILL (its whole process group) once about half of the
   letters were delivered — rows it had claimed are left in 'sending', messages it had
   reserved are lost with it;
5. a new worker is started, and the letter sweeper runs until every letter is sent.

The sweeper only requeues a row left in 'sending' after 10 minutes (delivery.STUCK_AFTER).
The bench does not sleep those 10 minutes: once the new worker is idle, it runs the
sweeper with its clock set to (kill time + STUCK_AFTER) — exactly what the beat would do
10 minutes after the kill, and safe because only rows claimed before the kill are that
old. Time spent is the time of work, not of that wait; in production the last few letters
of a killed worker go out ~10 minutes later.

Prints: letters delivered, lost (rows not sent, or never received, of those expected),
duplicated (messages received beyond one per X-Correlation-ID), total time, letters/s.

    # PostgreSQL and Redis started for the run, as scripts/test.sh does:
    bench/run_with_services.sh .venv/bin/python bench/letter_delivery.py
    # or your own services (an empty or scratch database; migrated first):
    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... \
        .venv/bin/python bench/letter_delivery.py

Options: --letters N (1000), --concurrency N (worker processes, 2), --kill-at F (0.5: the
share delivered when the worker is killed; then a random 0-400 ms more, to land anywhere in
a letter's cycle), --seed N, --json.
"""

import argparse
import datetime as dt
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEFAULT_FROM_EMAIL", "Referrals <referrals@bench.example>")

TIMEOUT = 20 * 60  # seconds: the bench gives up (and says so) rather than hang


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=None, help="for the moment of the kill")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def require_services():
    db = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not db.startswith("postgres") or not broker.startswith("redis"):
        sys.exit(
            "This benchmark needs PostgreSQL and Redis: run it as\n"
            "  bench/run_with_services.sh .venv/bin/python bench/letter_delivery.py\n"
            "or set DATABASE_URL (postgres://...) and CELERY_BROKER_URL (redis://...)."
        )
    if "VAR_DIR" not in os.environ:
        # Letter PDFs are stored under VAR_DIR/media: keep them out of the checkout.
        os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="letter-bench-")


class Worker:
    """A Celery worker subprocess in its own process group (so SIGKILL takes its children)."""

    def __init__(self, name: str, concurrency: int, smtp_url: str, log_dir: Path):
        self.log_path = log_dir / f"{name}.log"
        self.log = self.log_path.open("w")
        env = {**os.environ, "EMAIL_URL": smtp_url, "EMAIL_TIMEOUT": "10"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}@%h",
                "-l",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def main():
    args = parse_args()
    require_services()

    import django

    django.setup()
    import logging

    # The SMTP server's per-command log and the letter log lines are noise here.
    for name in ("mail.log", "communications.letters"):
        logging.getLogger(name).setLevel(logging.WARNING)

    import redis
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from communications import delivery
    from communications.models import Letter, LetterStatus
    from communications.tasks import send_letter
    from practices.models import Practice
    from practices.scoping import practice_scope
    from referrals import services
    from referrals.choices import CaseType, MilestoneKind, SourceType
    from tests.factories import OfficeFactory, PatientFactory, ProviderFactory
    from tests.smtp import SmtpServer

    call_command("migrate", verbosity=0)
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    log_dir = Path(tempfile.mkdtemp(prefix="letter-bench-logs-"))
    smtp = SmtpServer().start()
    n = args.letters

    # --- the practice and its referrals (set-up, not timed) -----------------------------
    stamp = int(time.time())
    practice = Practice.objects.create(name="Bench Oral Surgery", slug=f"bench-letters-{stamp}")
    referrals = []
    with practice_scope(practice):
        offices = [OfficeFactory(practice=practice) for _ in range(40)]
        providers = [ProviderFactory(practice=practice, office=office) for office in offices]
        for i in range(n):
            provider = providers[i % len(providers)]
            referrals.append(
                services.create_referral(
                    practice,
                    services.ReferralInput(
                        patient=PatientFactory(practice=practice),
                        source_type=SourceType.DOCTOR,
                        case_type=CaseType.THIRD_MOLARS,
                        received_on=timezone.localdate(),
                        referring_office=provider.office,
                        referring_provider=provider,
                    ),
                )
            )

    def counts() -> dict:
        with practice_scope(practice):
            rows = Letter.objects.values_list("status", flat=True)
            out: dict = {}
            for status in rows:
                out[status] = out.get(status, 0) + 1
            return out

    def sent() -> int:
        with practice_scope(practice):
            return Letter.objects.filter(status=LetterStatus.SENT).count()

    rng = random.Random(args.seed)

    def kill(worker):
        # Anywhere in a letter's cycle (rendering, sending, marking), not just after one.
        time.sleep(rng.uniform(0, 0.4))
        worker.kill()  # waits for the group to die: every claim it made is older than:
        return timezone.now(), time.monotonic()

    worker = Worker("bench1", args.concurrency, smtp.url, log_dir)
    second = None
    report: dict = {"letters": n, "worker_concurrency": args.concurrency}
    try:
        # --- 1,000 milestones, each its own transaction ------------------------------------
        started = time.monotonic()
        kill_at = max(1, int(n * args.kill_at))
        killed_at = None
        appointment = timezone.now() + dt.timedelta(days=7)
        with practice_scope(practice):
            for i, referral in enumerate(referrals):
                services.record_milestone(
                    referral, MilestoneKind.CONSULT_SCHEDULED, scheduled_for=appointment
                )
                if killed_at is None and i % 25 == 0 and len(smtp.messages) >= kill_at:
                    kill_moment, killed_at = kill(worker)
        recorded = time.monotonic() - started
        report["milestones_recorded_s"] = round(recorded, 2)
        report["milestones_per_s"] = round(n / recorded, 1)

        # --- kill the worker half-way --------------------------------------------------------
        while killed_at is None:
            if len(smtp.messages) >= kill_at:
                kill_moment, killed_at = kill(worker)
                break
            if time.monotonic() - started > TIMEOUT:
                raise SystemExit(f"no progress; worker log: {worker.log_path}")
            time.sleep(0.05)
        worker.stop()
        at_kill = counts()
        report["at_kill"] = {
            "received_at_smtp": len(smtp.messages),
            "rows": at_kill,
        }

        # --- a new worker; the sweeper until every letter is sent --------------------------
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        second = Worker("bench2", args.concurrency, smtp.url, log_dir)
        sweeps = []
        while sent() < n:
            if time.monotonic() - started > TIMEOUT:
                break
            # Idle: the broker's queue is empty and no row is being sent by the new worker.
            with practice_scope(practice):
                busy = Letter.objects.filter(
                    status=LetterStatus.SENDING, claimed_at__gt=kill_moment
                ).exists()
            if broker.llen("celery") or busy:
                time.sleep(0.2)
                continue
            time.sleep(0.5)
            if broker.llen("celery") or sent() >= n:
                continue
            # The beat's sweep 10 minutes after the kill (see the module docstring).
            clock = max(timezone.now(), kill_moment + delivery.STUCK_AFTER)
            with scopes_disabled():
                swept, due = delivery.sweep(now=clock)
            for practice_id, letter_id in due:
                send_letter.delay(practice_id, letter_id)
            sweeps.append(swept)
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        report["sweeps"] = [{k: v for k, v in s.items() if v} for s in sweeps if any(s.values())]
        time.sleep(1)  # let a message in flight (there should be none) arrive
    finally:
        worker.stop()
        if second is not None:
            second.stop()
        smtp.stop()
    if second is not None:
        # The new worker's processes' CPU time (reaped by its graceful stop), per letter it
        # sent: what a letter costs whatever else the machine is doing.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        by_second = len(smtp.messages) - report["at_kill"]["received_at_smtp"]
        if by_second:
            report["worker_cpu_ms_per_letter"] = round(1000 * cpu / by_second)

    with practice_scope(practice):
        expected = {str(c) for c in Letter.objects.values_list("correlation_id", flat=True)}
        not_sent = Letter.objects.exclude(status=LetterStatus.SENT).count()
    received = smtp.count_by_header("X-Correlation-ID")
    delivered = len(expected & set(received))
    report.update(
        {
            "letters_expected": len(expected),
            "delivered": delivered,
            "lost": max(not_sent, len(expected) - delivered),
            "duplicated": sum(c - 1 for c in received.values() if c > 1),
            "unknown_messages": sum(c for cid, c in received.items() if cid not in expected),
            "final_rows": counts(),
            "total_s": round(elapsed, 1),
            "letters_per_s": round(delivered / elapsed, 1),
            "database": connection.vendor,
            "load_average_1m": round(os.getloadavg()[0], 1),
            "worker_logs": str(log_dir),
        }
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"letters expected     {report['letters_expected']}")
        print(f"milestones recorded  {n} in {recorded:.1f} s ({report['milestones_per_s']}/s)")
        print(
            f"worker killed after  {report['at_kill']['received_at_smtp']} delivered; "
            f"rows then: {report['at_kill']['rows']}"
        )
        for sweep in report["sweeps"]:
            print(f"sweep                {sweep}")
        print(f"delivered            {delivered}")
        print(f"lost                 {report['lost']}")
        print(f"duplicated           {report['duplicated']}")
        print(f"total time           {report['total_s']} s")
        print(f"letters/second       {report['letters_per_s']}")
        if "worker_cpu_ms_per_letter" in report:
            cpu_ms = report["worker_cpu_ms_per_letter"]
            print(
                f"worker CPU           {cpu_ms} ms per letter "
                f"(the new worker, boot included: {1000 / cpu_ms:.1f} letters/s per core)"
            )
        print(
            f"machine load         {report['load_average_1m']} "
            f"(1-minute average, {os.cpu_count()} cores)"
        )
    if report["lost"] or report["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
