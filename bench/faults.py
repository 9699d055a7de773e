"""Faults (issue 10, item 6): what the running app does when PostgreSQL restarts, Redis is
down and the mail server refuses for a while. Results go to docs/reliability.md.

Against the same stack as the load run (bench/stack.py: gunicorn with several workers, a
Celery worker with beat, an SMTP sink; the demo practice seeded), while a prober thread
asks for a staff page (/cases/, logged in) and the public referral form every 0.25 s:

a. database: PostgreSQL stopped (fast shutdown: open connections are cut) for --db-down
   seconds, then started. Expected: 503 "back in a moment" pages (never a 500 or a
   traceback) while it is down; 200 again right after, without restarting the app; a
   milestone booked afterwards gets its letter out (the worker recovered too).
b. Redis (cache and broker) shut down for --redis-down seconds. Expected: pages still 200;
   the public form stores a referral; a milestone booked through the API is recorded and
   its letter waits in the outbox ('queued'); once Redis is back the letter sweeper
   dispatches it and it is delivered exactly once.
c. SMTP refusing (451 try later) for --smtp-refuse seconds while three letters are sent.
   Expected: each letter retries with backoff and is delivered exactly once when the
   server accepts again; no "letter failed" alert (that comes only after the retry budget,
   delivery.MAX_ATTEMPTS, see tests/communications/test_letter_delivery.py).

    bench/run_with_services.sh .venv/bin/python bench/faults.py [--only db,redis,smtp]

Prints what each fault did; exits 1 if an expectation failed.
"""

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "load"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import requests  # noqa: E402  (locust's dependency: a dev dependency)
from stack import Stack, require_services  # noqa: E402

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LETTER_TIMEOUT = 6 * 60


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="db,redis,smtp")
    parser.add_argument("--db-down", type=float, default=6)
    parser.add_argument("--redis-down", type=float, default=20)
    parser.add_argument("--smtp-refuse", type=float, default=75)
    parser.add_argument("--json", help="write the report here")
    return parser.parse_args()


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Services:
    """The private PostgreSQL and Redis of bench/run_with_services.sh (scripts/services.sh)."""

    def __init__(self):
        self.folder = Path(os.environ["SERVICES_DIR"])
        self.pg_ctl = str(Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")) / "pg_ctl")
        self.pg_port = urlparse(os.environ["DATABASE_URL"]).port
        self.redis_port = urlparse(os.environ["REDIS_URL"]).port

    def stop_postgres(self):
        subprocess.run(
            as_postgres([self.pg_ctl, "-D", str(self.folder / "pg"), "-m", "fast", "-w", "stop"]),
            check=True,
            capture_output=True,
        )

    def start_postgres(self):
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.folder} "
            "-c max_connections=200"
        )
        subprocess.run(
            as_postgres(
                [self.pg_ctl, "-D", str(self.folder / "pg"), "-l", str(self.folder / "pg.log")]
                + ["-w", "-o", options, "start"]
            ),
            check=True,
            capture_output=True,
        )

    def stop_redis(self):
        subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"], capture_output=True
        )

    def start_redis(self):
        subprocess.run(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port)]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder), "--daemonize"]
            + ["yes", "--pidfile", str(self.folder / "redis.pid")]
            + ["--logfile", str(self.folder / "redis.log")],
            check=True,
        )


class Prober(threading.Thread):
    """Asks for a staff page and the public form every 0.25 s; remembers every answer."""

    def __init__(self, base: str, cookie_name: str, session: str, slug: str):
        super().__init__(daemon=True)
        self.base = base
        self.http = requests.Session()
        self.http.cookies.set(cookie_name, session)
        self.urls = ["/cases/", f"/refer/{slug}/"]
        self.answers: list[tuple[float, str, int, str]] = []
        self.running = True

    def run(self):
        while self.running:
            for url in self.urls:
                try:
                    r = self.http.get(self.base + url, timeout=10, allow_redirects=False)
                    kind = "back-in-a-moment" if "Back in a moment" in r.text else ""
                    if "Traceback" in r.text:
                        kind = "traceback"
                    self.answers.append((time.monotonic(), url, r.status_code, kind))
                except requests.RequestException as exc:
                    self.answers.append((time.monotonic(), url, 0, type(exc).__name__))
            time.sleep(0.25)

    def between(self, start: float, end: float) -> Counter:
        return Counter(
            f"{code}{' ' + kind if kind else ''}"
            for t, _url, code, kind in self.answers
            if start <= t < end
        )

    def first_ok_after(self, moment: float) -> float | None:
        for t, _url, code, _kind in self.answers:
            if t >= moment and code == 200:
                return round(t - moment, 2)
        return None


class Api:
    def __init__(self, base: str, key: str, pairs: list, today: str):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.pairs = pairs
        self.today = today
        self.n = 0

    def book_consult(self) -> tuple[int, int, float]:
        """A new referral and its consult booked: (referral id, status of the booking, s)."""
        self.n += 1
        office, provider = self.pairs[self.n % len(self.pairs)]
        created = self.http.post(
            f"{self.base}/api/v1/referrals/",
            json={
                "patient_data": {
                    "first_name": "Fault",
                    "last_name": f"Probe{self.n}",
                    "date_of_birth": "1980-01-0" + str(1 + self.n % 9),
                    "chart_number": f"F-{time.time_ns()}",
                },
                "source_type": "doctor",
                "referring_office": office,
                "referring_provider": provider,
                "case_type": "third_molars",
                "received_on": self.today,
            },
            timeout=30,
        )
        created.raise_for_status()
        rid = created.json()["id"]
        when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=4)).replace(microsecond=0)
        started = time.monotonic()
        booked = self.http.post(
            f"{self.base}/api/v1/referrals/{rid}/events/",
            json={"kind": "consult_scheduled", "scheduled_for": when.isoformat()},
            timeout=30,
        )
        return rid, booked.status_code, round(time.monotonic() - started, 2)


def letters_of(referral_ids: list[int]) -> list:
    from django_scopes import scopes_disabled

    from communications.models import Letter

    with scopes_disabled():
        return list(Letter.objects.filter(event__referral_id__in=referral_ids).order_by("pk"))


def wait_until_sent(referral_ids: list[int], timeout: float = LETTER_TIMEOUT) -> float | None:
    from communications.models import LetterStatus

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        found = letters_of(referral_ids)
        if found and all(letter.status == LetterStatus.SENT for letter in found):
            return round(time.monotonic() - started, 1)
        time.sleep(2)
    return None


def delivered(smtp, referral_ids: list[int]) -> dict:
    counts = smtp.count_by_header("X-Correlation-ID")
    return {
        str(letter.pk): {
            "status": letter.status,
            "attempts": letter.attempts,
            "messages": counts.get(str(letter.correlation_id), 0),
        }
        for letter in letters_of(referral_ids)
    }


def submit_online_form(base: str, slug: str) -> int:
    from tests.online_referral_helpers import form_data

    http = requests.Session()
    page = http.get(f"{base}/refer/{slug}/", timeout=10)
    token = TOKEN.search(page.text)
    data = form_data(patient_last_name="Faultprobe")
    data["csrfmiddlewaretoken"] = token.group(1) if token else ""
    r = http.post(
        f"{base}/refer/{slug}/",
        data=data,
        headers={"Referer": f"{base}/refer/{slug}/"},
        timeout=30,
        allow_redirects=False,
    )
    return r.status_code


def online_stored(last_name: str) -> int:
    from django_scopes import scopes_disabled

    from referrals.models import OnlineReferral

    with scopes_disabled():
        return OnlineReferral.objects.filter(patient_last_name=last_name).count()


def fault_database(services, prober, api, smtp, seconds: float) -> dict:
    from django.db import connection

    time.sleep(2)
    stop_at = time.monotonic()
    services.stop_postgres()
    time.sleep(seconds)
    connection.close()  # this process's own connection died with the server
    services.start_postgres()
    back_at = time.monotonic()
    time.sleep(5)
    answers_down = prober.between(stop_at, back_at)
    answers_after = prober.between(back_at + 1, time.monotonic())
    rid, booked, _ = api.book_consult()
    sent_in = wait_until_sent([rid])
    result = {
        "down_s": round(back_at - stop_at, 1),
        "answers_while_down": dict(answers_down),
        "answers_after": dict(answers_after),
        "first_200_after_start_s": prober.first_ok_after(back_at),
        "letter_after_restart": {"booked": booked, "sent_in_s": sent_in},
        "letters": delivered(smtp, [rid]),
    }
    bad = [k for k in answers_down if k.startswith("500") or "traceback" in k]
    result["ok"] = (
        not bad
        and any(k.startswith("503") for k in answers_down)
        and set(answers_after) == {"200"}
        and sent_in is not None
        and all(v["messages"] == 1 for v in result["letters"].values())
    )
    return result


def fault_redis(services, prober, api, smtp, base, slug, seconds: float) -> dict:
    from communications.models import LetterStatus

    stop_at = time.monotonic()
    services.stop_redis()
    time.sleep(1)
    form_status = submit_online_form(base, slug)
    rid, booked, booking_s = api.book_consult()
    waiting = [letter.status for letter in letters_of([rid])]
    time.sleep(max(0.0, seconds - (time.monotonic() - stop_at)))
    services.start_redis()
    back_at = time.monotonic()
    answers_down = prober.between(stop_at, back_at)
    sent_in = wait_until_sent([rid])
    result = {
        "down_s": round(back_at - stop_at, 1),
        "answers_while_down": dict(answers_down),
        "online_form_post": form_status,
        "online_referral_stored": online_stored("Faultprobe"),
        "api_booking": booked,
        "api_booking_s": booking_s,
        "letter_while_down": waiting,
        "letter_sent_s_after_redis_back": sent_in,
        "letters": delivered(smtp, [rid]),
    }
    result["ok"] = (
        set(answers_down) == {"200"}
        and form_status == 302
        and result["online_referral_stored"] == 1
        and booked == 201
        and waiting == [LetterStatus.QUEUED]
        and sent_in is not None
        and all(v["messages"] == 1 for v in result["letters"].values())
    )
    return result


def fault_smtp(api, smtp, seconds: float) -> dict:
    from django_scopes import scopes_disabled

    from alerts.choices import AlertKind
    from alerts.models import Alert

    smtp.refuse_data("451 4.3.0 Try again later")
    started = time.monotonic()
    rids = [api.book_consult()[0] for _ in range(3)]
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    during = delivered(smtp, rids)
    smtp.accept()
    sent_in = wait_until_sent(rids)
    after = delivered(smtp, rids)
    with scopes_disabled():
        alerts = Alert.objects.filter(
            kind=AlertKind.LETTER_FAILED,
            subject_key__in=[f"letter:{pk}" for pk in after],
        ).count()
    result = {
        "refused_s": seconds,
        "while_refusing": during,
        "after": after,
        "all_sent_s_after_accepting": sent_in,
        "letter_failed_alerts": alerts,
    }
    result["ok"] = (
        sent_in is not None
        and all(v["messages"] == 1 for v in after.values())
        and any(v["attempts"] > 1 for v in after.values())
        and alerts == 0
    )
    return result


def main():
    args = parse_args()
    require_services("bench/faults.py")
    if "SERVICES_DIR" not in os.environ:
        sys.exit("Run it through bench/run_with_services.sh: it stops and starts those servers.")
    import django

    django.setup()
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("axes").setLevel(logging.WARNING)
    import run as load_run  # bench/load/run.py: the same seeded practice and sessions

    from tests.smtp import SmtpServer

    out = Path(tempfile.mkdtemp(prefix="faults-bench-"))
    data = load_run.prepare(cases=10)
    smtp = SmtpServer().start()
    services = Services()
    stack = Stack(out, smtp.url, web_workers=3, worker_concurrency=2)
    report: dict = {"logs": str(out), "load_average_at_start": os.getloadavg()[0]}
    try:
        stack.start()
        master = stack.web.process.pid
        prober = Prober(
            stack.url, data["session_cookie"], data["sessions"]["coordinator"][0], "demo"
        )
        prober.start()
        api = Api(stack.url, data["api_key"], data["pairs"], data["today"])
        wanted = args.only.split(",")
        if "db" in wanted:
            print("==> a. PostgreSQL stopped and started", flush=True)
            report["database"] = fault_database(services, prober, api, smtp, args.db_down)
            print(json.dumps(report["database"], indent=1), flush=True)
        if "redis" in wanted:
            print("==> b. Redis shut down and started", flush=True)
            report["redis"] = fault_redis(
                services, prober, api, smtp, stack.url, "demo", args.redis_down
            )
            print(json.dumps(report["redis"], indent=1), flush=True)
        if "smtp" in wanted:
            print("==> c. the mail server refusing", flush=True)
            report["smtp"] = fault_smtp(api, smtp, args.smtp_refuse)
            print(json.dumps(report["smtp"], indent=1), flush=True)
        prober.running = False
        report["gunicorn_master_restarted"] = not stack.web.alive() or (
            stack.web.process.pid != master
        )
        report["worker_alive"] = stack.worker.alive()
    finally:
        stack.stop()
        smtp.stop()
    report["load_average_at_end"] = os.getloadavg()[0]
    report["cores"] = os.cpu_count()
    print(
        f"load average {report['load_average_at_start']:.1f} -> "
        f"{report['load_average_at_end']:.1f} ({os.cpu_count()} cores, shared); logs {out}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    results = [v for k, v in report.items() if isinstance(v, dict) and "ok" in v]
    for name in ("database", "redis", "smtp"):
        if name in report:
            print(f"{name:<9} {'as expected' if report[name]['ok'] else 'NOT as expected'}")
    if not all(r["ok"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
