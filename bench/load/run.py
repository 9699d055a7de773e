"""Load run (issue 10, item 5): 50 people and an integration against the whole stack.

Run it through ``bench/load/run.sh`` (a private PostgreSQL + Redis, then this). It:

1. migrates, seeds the demo practice (``seed_demo``) and computes referrer health;
2. prepares what the simulated people need, server-side: logged-in sessions (made the way
   a login makes them, ``Client.force_login``: the session, its login-time index row and the
   idle clock; the practice chosen), so 50 users do not type passwords and TOTP codes into
   the login form (lockout and login rate limits would rightly stop that); an API key;
   fresh cases for the coordinators to walk; every office on email letters;
3. starts an SMTP sink (aiosmtpd) on loopback, a Celery worker with beat and gunicorn
   (``--web-workers``, 4) sending through it;
4. runs ``locust --headless -u USERS -r 10 -t DURATION`` (bench/load/locustfile.py);
5. waits for the letter outbox to drain, then counts letters queued vs sent in the database
   and messages received by the sink (by X-Correlation-ID): lost and doubled;
6. prints p50/p95/p99 per request type, requests/s, errors, the letters, the load average.

Options: --users 50, --duration 3m, --web-workers 4, --worker-concurrency 2, --cases 400,
--conn-max-age N (DB_CONN_MAX_AGE), --json FILE (the whole report), --keep DIR (logs and
locust CSVs there).
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from stack import Stack, require_services  # noqa: E402

DRAIN_TIMEOUT = 10 * 60  # seconds to wait for the last letters after the run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--duration", default="3m")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        help="DB_CONN_MAX_AGE for gunicorn and the worker (default: the app's, 0)",
    )
    parser.add_argument("--cases", type=int, default=400, help="fresh cases for the coordinators")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--keep", help="keep logs and locust CSVs in this folder")
    return parser.parse_args()


def prepare(cases: int) -> dict:
    """Everything the simulated people need, made server-side; returns the locust data."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.test import Client
    from django_scopes import scopes_disabled

    from practices.api_keys import create_api_key
    from practices.middleware import SESSION_KEY as PRACTICE_KEY
    from practices.models import Membership, Practice, Role
    from practices.scoping import practice_scope
    from referrals import services
    from referrals.choices import CaseType, LetterChannel, SourceType
    from referrals.demo import demo_today
    from referrals.models import Patient, ReferringOffice, ReferringProvider

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    call_command("seed_demo", verbosity=0)
    call_command("compute_referrer_scores", verbosity=0)
    print(f"==> demo practice seeded in {time.monotonic() - started:.0f} s", flush=True)

    practice = Practice.objects.get(slug="demo")
    today = demo_today()
    with practice_scope(practice):
        # Every letter goes by email, so each one must reach the sink exactly once.
        for office in ReferringOffice.objects.all():
            office.preferred_channel = LetterChannel.EMAIL
            office.email = office.email or f"office{office.pk}@load.example"
            office.save(update_fields=["preferred_channel", "email"])
        pairs = [
            [p.office_id, p.pk]
            for p in ReferringProvider.objects.filter(office__is_archived=False, is_archived=False)
        ]
        patients = list(Patient.objects.order_by("pk")[: cases * 2])
        fresh = []
        providers = {p.pk: p for p in ReferringProvider.objects.select_related("office")}
        for i in range(cases):
            provider = providers[pairs[i % len(pairs)][1]]
            referral = services.create_referral(
                practice,
                services.ReferralInput(
                    patient=patients[i],
                    source_type=SourceType.DOCTOR,
                    case_type=CaseType.THIRD_MOLARS,
                    received_on=today,
                    referring_office=provider.office,
                    referring_provider=provider,
                ),
            )
            fresh.append(referral.pk)
        api_key = create_api_key(practice, "Load bench").raw_key

    sessions: dict[str, list[str]] = {}
    with scopes_disabled():
        members = list(
            Membership.objects.filter(practice=practice).select_related("user").order_by("pk")
        )
    by_role = {
        "front_desk": [m.user for m in members if m.role == Role.FRONT_DESK],
        "coordinator": [m.user for m in members if m.role == Role.COORDINATOR],
        "admin": [m.user for m in members if m.role == Role.ADMIN],
    }
    for role, users in by_role.items():
        sessions[role] = []
        for i in range(30):  # more than one user class can ever have at 50 users
            client = Client()
            client.force_login(users[i % len(users)])
            key = client.cookies[settings.SESSION_COOKIE_NAME].value
            store = SessionStore(key)
            store[PRACTICE_KEY] = practice.pk
            store.save()
            sessions[role].append(key)
    return {
        "practice_slug": practice.slug,
        "today": today.isoformat(),
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "sessions": sessions,
        "api_key": api_key,
        "pairs": pairs,
        "cases": fresh,
    }


def letter_counts(practice_slug: str) -> dict:
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from communications.models import Letter, OutgoingEmail

    with scopes_disabled():
        letters = dict(
            Letter.objects.filter(practice__slug=practice_slug)
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        outbox = dict(
            OutgoingEmail.objects.filter(practice__slug=practice_slug)
            .values_list("status")
            .annotate(n=Count("pk"))
        )
    return {"letters": letters, "outbox": outbox}


def wait_for_drain(practice_slug: str, since) -> None:
    from django_scopes import scopes_disabled

    from communications.models import Letter, LetterStatus, OutgoingEmail

    deadline = time.monotonic() + DRAIN_TIMEOUT
    pending_states = [LetterStatus.QUEUED, LetterStatus.SENDING]
    while time.monotonic() < deadline:
        with scopes_disabled():
            pending = (
                Letter.objects.filter(
                    practice__slug=practice_slug, status__in=pending_states
                ).count()
                + OutgoingEmail.objects.filter(
                    practice__slug=practice_slug,
                    created_at__gte=since,
                    status__in=["queued", "sending"],
                ).count()
            )
        if not pending:
            return
        time.sleep(2)
    print("!! the outbox did not drain in time", flush=True)


def read_locust_stats(path: Path) -> list[dict]:
    rows = []
    with path.open() as f:
        for row in csv.DictReader(f):
            rows.append(
                {
                    "type": row["Type"],
                    "name": row["Name"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "p50_ms": row["50%"],
                    "p95_ms": row["95%"],
                    "p99_ms": row["99%"],
                    "rps": round(float(row["Requests/s"]), 2),
                }
            )
    return rows


ACCESS_LINE = re.compile(r'"(GET|POST) ([^ ?"]+)[^"]*" (\d{3}) \S+ (\d+)ms')


def server_times(log: Path) -> dict:
    """Time inside a gunicorn worker per request type, from its access log (the redacted
    format of config/gunicorn.conf.py): what a request costs without the wait in the
    listen queue, which is what locust's figures add when every worker is busy."""
    times: dict[str, list[int]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = ACCESS_LINE.search(line)
        if not match:
            continue
        method, path, _status, ms = match.groups()
        path = re.sub(r"/\d+/", "/[id]/", path)
        path = re.sub(r"/reports/[a-z-]+\.csv", "/reports/[report].csv", path)
        times.setdefault(f"{method} {path}", []).append(int(ms))
    out = {}
    for name, values in sorted(times.items()):
        values.sort()
        out[name] = {
            "n": len(values),
            "p50_ms": values[len(values) // 2],
            "p95_ms": values[min(len(values) - 1, int(len(values) * 0.95))],
        }
    return out


def main():
    args = parse_args()
    require_services("bench/load/run.py")
    import django

    django.setup()
    import logging

    from django.utils import timezone

    from tests.smtp import SmtpServer

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("axes").setLevel(logging.WARNING)
    out = Path(args.keep or tempfile.mkdtemp(prefix="load-bench-"))
    out.mkdir(parents=True, exist_ok=True)

    data = prepare(args.cases)
    data_file = out / "locust-data.json"
    data_file.write_text(json.dumps(data))
    # Everything before this moment is the seed's history.
    run_started = timezone.now()
    before = letter_counts(data["practice_slug"])

    smtp = SmtpServer().start()
    stack = Stack(
        out,
        smtp.url,
        web_workers=args.web_workers,
        worker_concurrency=args.worker_concurrency,
        extra_env=(
            {"DB_CONN_MAX_AGE": str(args.conn_max_age)} if args.conn_max_age is not None else {}
        ),
    )
    report: dict = {
        "users": args.users,
        "duration": args.duration,
        "web_workers": args.web_workers,
        "conn_max_age": args.conn_max_age or 0,
    }
    try:
        stack.start()
        print(f"==> gunicorn ({args.web_workers} workers) on {stack.url}; locust", flush=True)
        load_before = os.getloadavg()
        started = time.monotonic()
        subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"),
                "-f",
                str(ROOT / "bench/load/locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                args.duration,
                "--host",
                stack.url,
                "--csv",
                str(out / "locust"),
                "--only-summary",
                "--stop-timeout",
                "10",
                "--loglevel",
                "WARNING",
            ],
            env={**os.environ, "LOAD_DATA": str(data_file)},
            cwd=ROOT,
            check=False,
        )
        load_after = os.getloadavg()
        report["load_average_during"] = {
            "1m_at_start": round(load_before[0], 2),
            "1m_at_end": round(load_after[0], 2),
            "5m_at_end": round(load_after[1], 2),
        }
        report["wall_s"] = round(time.monotonic() - started, 1)
        drain_started = time.monotonic()
        wait_for_drain(data["practice_slug"], run_started)
        report["drain_s"] = round(time.monotonic() - drain_started, 1)
        time.sleep(2)  # a message in flight (there should be none) arrives
    finally:
        stack.stop()
        smtp.stop()

    from django_scopes import scopes_disabled

    from communications.models import Letter

    with scopes_disabled():
        run_letters = Letter.objects.filter(
            practice__slug=data["practice_slug"], created_at__gte=run_started
        )
        expected = {str(c) for c in run_letters.values_list("correlation_id", flat=True)}
        by_status = Counter(run_letters.values_list("status", flat=True))
    received = Counter(smtp.count_by_header("X-Correlation-ID"))
    delivered = len(expected & set(received))
    report["stats"] = read_locust_stats(out / "locust_stats.csv")
    report["letters"] = {
        "written_during_run": len(expected),
        "by_status": dict(by_status),
        "delivered_to_sink": delivered,
        "lost": len(expected) - delivered,
        "doubled": sum(c - 1 for cid, c in received.items() if c > 1 and cid in expected),
        "messages_received": sum(received.values()),
        "other_messages": sum(c for cid, c in received.items() if cid not in expected),
    }
    report["outbox_before"] = before
    report["outbox_after"] = letter_counts(data["practice_slug"])
    report["errors_log"] = sorted(
        {
            line.strip()[:200]
            for line in (out / "gunicorn.log").read_text(errors="replace").splitlines()
            if "Error" in line or "Traceback" in line
        }
    )[:20]
    report["server_ms"] = server_times(out / "gunicorn.log")
    report["logs"] = str(out)
    report["cores"] = os.cpu_count()

    print()
    heads = ("n", "fail", "p50", "p95", "p99", "req/s")
    print(f"{'request (ms)':<52} " + " ".join(f"{h:>6}" for h in heads))
    for row in report["stats"]:
        print(
            f"{(row['type'] + ' ' + row['name'])[:52]:<52} {row['requests']:>6} "
            f"{row['failures']:>5} {row['p50_ms']:>6} {row['p95_ms']:>6} {row['p99_ms']:>6} "
            f"{row['rps']:>6}"
        )
    print("\ntime inside a gunicorn worker (access log; no queueing), ms:")
    for name, row in report["server_ms"].items():
        print(f"{name[:52]:<52} {row['n']:>6} p50 {row['p50_ms']:>6} p95 {row['p95_ms']:>6}")
    print(f"letters: {report['letters']}")
    print(f"load average: {report['load_average_during']} ({os.cpu_count()} cores, shared)")
    print(f"drain after the run: {report['drain_s']} s; logs in {out}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    total = next((r for r in report["stats"] if r["name"] == "Aggregated"), None)
    if (total and total["failures"]) or report["letters"]["lost"] or report["letters"]["doubled"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
