"""Benchmark of the front-desk intake POST with 1,000 referring offices in the practice.

Seeds a practice with 1,000 offices (one year of history), then posts N intakes through
the real view (new patient, existing office and doctor, the same form the browser sends)
and prints the server time at the 50th and 95th percentile and the queries per POST.
Each POST also runs what follows its commit (the office's rollup refresh).

    bench/run_with_services.sh .venv/bin/python bench/intake.py [--posts 300] [--offices 1000]
"""

import argparse
import os
import random
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

from practices.models import Practice, User  # noqa: E402
from practices.scoping import practice_scope  # noqa: E402
from referrals.demo import seed_demo  # noqa: E402
from referrals.models import Referral, ReferringProvider  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--offices", type=int, default=1000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed_demo(seed=3, practices=1, offices=args.offices, years=1, reset=True)
    practice = Practice.objects.get(slug="demo")
    print(
        f"database: {connection.vendor}; seeded {args.offices} offices "
        f"in {time.perf_counter() - started:.1f} s"
    )
    with practice_scope(practice):
        doctors = list(
            ReferringProvider.objects.filter(is_archived=False).values_list("pk", "office_id")
        )
        before = Referral.objects.count()
    client = Client()
    client.force_login(User.objects.get(email="frontdesk@demo.example"))
    rng = random.Random(5)
    times, queries = [], []
    for i in range(args.posts):
        provider_id, office_id = rng.choice(doctors)
        data = {
            "patient": "",
            "first_name": "Bench",
            "last_name": f"Patient{i:05d}",
            "date_of_birth": "07/04/1995",
            "phone": f"555-{i // 10000:03d}-{i % 10000:04d}",
            "chart_number": "",
            "source_type": "doctor",
            "referring_office": str(office_id),
            "referring_provider": str(provider_id),
            "case_type": "third_molars",
            "urgency": "routine",
            "received_on": "11/20/2026",
            "reason": "Impacted third molars",
            "not_duplicate": "on",
            "then": "case",
        }
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            response = client.post("/intake/", data)
            times.append(time.perf_counter() - t)
        if response.status_code != 302:
            raise SystemExit(f"intake POST {i} answered {response.status_code}, not a redirect")
        queries.append(len(ctx.captured_queries))
    with practice_scope(practice):
        created = Referral.objects.count() - before
    times.sort()
    p50 = statistics.median(times) * 1000
    p95 = times[int(len(times) * 0.95) - 1] * 1000
    print(
        f"{args.posts} intake POSTs ({created} referrals created) with {args.offices} offices: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, queries per POST {min(queries)}-{max(queries)}"
    )


if __name__ == "__main__":
    main()
