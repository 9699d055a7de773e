"""Benchmarks of referrer health (issue 4).

1. Board and detail pages: server time and query count for a practice with 60 offices and
   1 year of history vs one with 10 years, measured in the same run (the 10-year figure
   should stay within 1.5x of the 1-year one).
2. The nightly recompute over many synthetic practices, next to the time of one plain SQL
   ``GROUP BY office, month`` over the same referrals table, measured in the same run.

Needs PostgreSQL for meaningful numbers:

    bench/run_with_services.sh .venv/bin/python bench/referrer_health.py
    bench/run_with_services.sh .venv/bin/python bench/referrer_health.py --practices 1000

Options: --practices N (nightly part, default 200), --offices N and --years N (their size,
default 20 and 2), --repeat N (page timings, default 30), --skip-pages, --skip-nightly.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics.nightly import recompute  # noqa: E402
from practices.models import Practice, User  # noqa: E402
from practices.scoping import practice_scope  # noqa: E402
from referrals.demo import seed_demo  # noqa: E402
from referrals.models import Referral, ReferringOffice  # noqa: E402


def seeded(slug: str, *, offices: int, years: int, seed: int) -> Practice:
    """A demo practice renamed to ``slug``, its demo logins removed so the next seeds."""
    seed_demo(seed=seed, practices=1, offices=offices, years=years)
    practice = Practice.objects.get(slug="demo")
    practice.slug = slug
    practice.name = f"Bench {slug}"
    practice.save()
    User.objects.filter(email__endswith="@demo.example").delete()
    return practice


def timed_get(client, url, repeat):
    times, queries = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
        queries.append(len(ctx.captured_queries))
    return statistics.median(times) * 1000, max(queries)


def bench_pages(repeat: int) -> None:
    operator = User.objects.create_superuser("bench@example.test", "bench-password-123")
    results = {}
    for years in (1, 10):
        started = time.perf_counter()
        practice = seeded(f"bench-{years}y", offices=60, years=years, seed=years)
        seconds = time.perf_counter() - started
        with practice_scope(practice):
            referrals = Referral.objects.count()
            recompute(practice, timezone.localdate())
            office = (
                ReferringOffice.objects.filter(referrals__isnull=False)
                .order_by("-referrals__received_on")
                .first()
            )
        client = Client()
        client.force_login(operator)
        session = client.session
        session["practice_id"] = practice.pk
        session.save()
        board = timed_get(client, "/referrers/health/", repeat)
        detail = timed_get(client, f"/referrers/health/{office.pk}/", repeat)
        results[years] = (board, detail)
        print(
            f"{years:>2} year(s): 60 offices, {referrals:,} referrals (seeded in {seconds:.1f} s); "
            f"board {board[0]:.1f} ms / {board[1]} queries; "
            f"detail {detail[0]:.1f} ms / {detail[1]} queries"
        )
    (b1, d1), (b10, d10) = results[1], results[10]
    print(
        f"ratio 10y/1y (median server time): board {b10[0] / b1[0]:.2f}x, "
        f"detail {d10[0] / d1[0]:.2f}x; queries board {b1[1]}->{b10[1]}, "
        f"detail {d1[1]}->{d10[1]}"
    )


def bench_nightly(practices: int, offices: int, years: int) -> None:
    started = time.perf_counter()
    seed_demo(seed=7, practices=practices, offices=offices, years=years, reset=True)
    print(
        f"seeded {practices} practices x {offices} offices x {years} years "
        f"in {time.perf_counter() - started:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM referrals_referral")
        (referral_rows,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM referrals_milestoneevent")
        (event_rows,) = cursor.fetchone()
    print(f"referrals table: {referral_rows:,} rows; milestone events: {event_rows:,} rows")

    def floor() -> float:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                "SELECT practice_id, referring_office_id, date_trunc('month', received_on), "
                "count(*) FROM referrals_referral GROUP BY 1, 2, 3"
            )
            cursor.fetchall()
            return time.perf_counter() - started

    floor()  # warm the cache the same way for both
    floor_seconds = min(floor() for _ in range(3))
    today = timezone.localdate()
    started = time.perf_counter()
    snapshots = 0
    for practice in Practice.objects.order_by("pk"):
        with practice_scope(practice):
            snapshots += len(recompute(practice, today).snapshots)
    nightly_seconds = time.perf_counter() - started
    print(f"plain GROUP BY office, month over all referrals: {floor_seconds * 1000:.0f} ms")
    print(
        f"nightly recompute, {practices} practices one after another (rollups rebuilt, "
        f"{snapshots:,} snapshots written, alerts, digests): {nightly_seconds:.1f} s = "
        f"{nightly_seconds / practices * 1000:.0f} ms per practice task"
    )
    print(f"ratio nightly / GROUP BY floor: {nightly_seconds / floor_seconds:.1f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=200)
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-nightly", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    if not args.skip_pages:
        bench_pages(args.repeat)
    if not args.skip_nightly:
        bench_nightly(args.practices, args.offices, args.years)


if __name__ == "__main__":
    main()
