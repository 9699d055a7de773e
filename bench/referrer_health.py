"""Benchmarks of referrer health (issue 4).

1. Board and detail pages: server time and query count for a practice with 60 offices and
   1 year of history vs one with 10 years, measured in the same run (the 10-year figure
   should stay within 1.5x of the 1-year one).
2. The nightly recompute over many synthetic practices, next to the time of one plain SQL
   ``GROUP BY practice, office, month`` over the same referrals table, measured in the same
   run (issue 11 item 4, docs/performance.md "Referrer health"). The scenario: the seeded
   history (dated back two days), a first night of batches (no watermark yet), a working day
   through the services (new referrals and steps in ``--day-share`` of the practices, and
   in ``--unrefreshed`` of them a referral whose rollup refresh was lost), then the measured
   night of batches (``--batch-size`` practices each, one process), the same night again with
   ``--workers`` processes, and the per-practice full path over the same data, whose
   snapshots must be identical. The floor is timed as the app's role (under row-level
   security) and, where the private cluster allows it, as the superuser (no policy).

Needs PostgreSQL for meaningful numbers:

    bench/run_with_services.sh .venv/bin/python bench/referrer_health.py
    bench/run_with_services.sh .venv/bin/python bench/referrer_health.py --skip-pages \
        --practices 1000 --offices 10 --years 2

Options: --practices N (nightly part, default 200), --offices N and --years N (their size,
default 20 and 2), --repeat N (page timings, default 30), --skip-pages, --skip-nightly,
--day-share (0.6), --unrefreshed (0.02), --batch-size (100), --workers (2), --skip-full.
"""

import argparse
import datetime as dt
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
from django_scopes import scopes_disabled  # noqa: E402

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
    # The demo's logins renamed, so the next seed can create its own: the pages are read as
    # this practice's administrator (a member, as the board requires).
    for user in User.objects.filter(email__endswith="@demo.example"):
        user.email = user.email.replace("@demo.example", f"@{slug}.bench.example")
        user.save()
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
    from practices.middleware import SESSION_KEY as PRACTICE_KEY

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
        client.force_login(User.objects.get(email=f"admin@bench-{years}y.bench.example"))
        session = client.session
        session[PRACTICE_KEY] = practice.pk
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


def a_day_of_work(share: float, unrefreshed: float, today, seed: int = 11) -> dict:
    """What a working day changes before the night, through the same services the pages
    use (so their incremental rollup refresh runs after each commit): in ``share`` of the
    practices one or two new referrals from random offices and two to four steps on recent
    cases; in ``unrefreshed`` of them a referral written without that refresh (an import
    whose refresh was lost), which only the night's watermark can find."""
    import random
    from decimal import Decimal

    from referrals import services
    from referrals.choices import CaseType, MilestoneKind, SourceType
    from referrals.models import Patient, ReferringProvider

    rng = random.Random(seed)
    now = timezone.now()
    counts = {"practices": 0, "referrals": 0, "steps": 0, "unrefreshed": 0, "offices": set()}
    extra = {
        MilestoneKind.CONSULT_SCHEDULED: {"scheduled_for": now + dt.timedelta(days=7)},
        MilestoneKind.SURGERY_SCHEDULED: {"scheduled_for": now + dt.timedelta(days=14)},
        MilestoneKind.TREATMENT_DECLINED: {"reason": "Cost"},
        MilestoneKind.CANCELLED: {"reason": "Moved away"},
        MilestoneKind.SURGERY_COMPLETED: {"production": Decimal("1650")},
    }
    for practice in Practice.objects.order_by("pk"):
        busy, lost = rng.random() < share, rng.random() < unrefreshed
        if not (busy or lost):
            continue
        with practice_scope(practice):
            offices = list(ReferringOffice.objects.filter(is_archived=False))
            if busy:
                counts["practices"] += 1
                for _ in range(rng.choice((1, 2))):
                    office = rng.choice(offices)
                    provider = ReferringProvider.objects.filter(office=office).first()
                    patient = Patient.objects.create(
                        practice=practice, first_name="Day", last_name=f"Case{rng.random():.6f}",
                        date_of_birth=dt.date(1980, 5, 5),
                    )  # fmt: skip
                    services.create_referral(
                        practice,
                        services.ReferralInput(
                            patient=patient, source_type=SourceType.DOCTOR,
                            referring_office=office, referring_provider=provider,
                            case_type=CaseType.THIRD_MOLARS, received_on=today,
                        ),
                    )  # fmt: skip
                    counts["referrals"] += 1
                    counts["offices"].add(office.pk)
                recent = list(
                    Referral.objects.filter(
                        referring_office__isnull=False,
                        received_on__gte=today - dt.timedelta(days=60),
                    ).order_by("?")[:6]
                )
                steps = rng.choice((2, 3, 4))
                for referral in recent:
                    if steps == 0:
                        break
                    allowed = services.allowed_next_steps(referral)
                    if not allowed:
                        continue
                    kind = rng.choice(allowed)
                    services.record_milestone(referral, kind, **extra.get(kind, {}))
                    counts["steps"] += 1
                    counts["offices"].add(referral.referring_office_id)
                    steps -= 1
            if lost:
                office = rng.choice(offices)
                patient = Patient.objects.create(
                    practice=practice, first_name="Lost", last_name="Refresh",
                    date_of_birth=dt.date(1980, 5, 5),
                )  # fmt: skip
                Referral.objects.create(
                    practice=practice, patient=patient, source_type=SourceType.DOCTOR,
                    referring_office=office, case_type=CaseType.IMPLANTS, received_on=today,
                    status_changed_at=now,
                )  # fmt: skip
                counts["unrefreshed"] += 1
    counts["offices"] = len(counts["offices"])
    return counts


def _run_batches(batches: list[list[int]], today) -> dict:
    from analytics.nightly_batch import recompute_batch

    totals = {"rollups_rebuilt": 0, "snapshots": 0, "new_alerts": 0, "batches": 0, "steps": {}}
    for batch in batches:
        result = recompute_batch(batch, today)
        totals["batches"] += 1
        totals["rollups_rebuilt"] += result.rollups_rebuilt
        totals["snapshots"] += result.snapshots
        totals["new_alerts"] += sum(len(p.new_alerts) for p in result.practices.values())
        for step, seconds in result.timings.items():
            totals["steps"][step] = totals["steps"].get(step, 0.0) + seconds
    return totals


def night_of_batches(today, batch_size: int, workers: int = 1) -> tuple[float, dict]:
    """The night's batches, one after another (``workers`` 1) or shared out to worker
    processes as Celery would (each its own database connection)."""
    ids = list(Practice.objects.order_by("pk").values_list("pk", flat=True))
    batches = [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]
    if workers == 1:
        started = time.perf_counter()
        totals = _run_batches(batches, today)
        return time.perf_counter() - started, totals
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from django.db import connections

    connections.close_all()  # each forked worker opens its own
    shares = [batches[i::workers] for i in range(workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        parts = list(pool.map(_run_batches, shares, [today] * workers))
    seconds = time.perf_counter() - started
    totals = {"rollups_rebuilt": 0, "snapshots": 0, "new_alerts": 0, "batches": 0, "steps": {}}
    for part in parts:
        for key in ("rollups_rebuilt", "snapshots", "new_alerts", "batches"):
            totals[key] += part[key]
        for step, value in part["steps"].items():
            totals["steps"][step] = totals["steps"].get(step, 0.0) + value
    return seconds, totals


def floor_without_rls() -> float | None:
    """The GROUP BY as the superuser of the bench's private cluster (trust authentication on
    loopback, scripts/services.sh): no policy to check. None where that is not possible."""
    import psycopg

    s = connection.settings_dict
    sql = (
        "SELECT practice_id, referring_office_id, date_trunc('month', received_on), count(*) "
        "FROM referrals_referral GROUP BY 1, 2, 3"
    )
    try:
        with psycopg.connect(
            host=s["HOST"], port=s["PORT"], user="postgres", dbname=s["NAME"]
        ) as superuser:
            superuser.execute(sql).fetchall()
            best = None
            for _ in range(3):
                started = time.perf_counter()
                superuser.execute(sql).fetchall()
                took = time.perf_counter() - started
                best = took if best is None else min(best, took)
            return best
    except psycopg.Error:
        return None


def snapshot_rows(today) -> dict:
    from analytics.models import ReferrerSnapshot

    with scopes_disabled():
        rows = {}
        for row in ReferrerSnapshot.objects.filter(as_of=today).values():
            del row["id"], row["computed_at"]
            rows[(row["practice_id"], row["office_id"])] = row
        return rows


def bench_nightly(
    practices: int, offices: int, years: int, *, share: float, unrefreshed: float,
    batch_size: int, full: bool, workers: int,
) -> None:  # fmt: skip
    started = time.perf_counter()
    seed_demo(seed=7, practices=practices, offices=offices, years=years, reset=True)
    print(
        f"seeded {practices} practices x {offices} offices x {years} years "
        f"in {time.perf_counter() - started:.1f} s"
    )
    # Cross-tenant on purpose (a benchmark over every practice): with row-level security a
    # statement outside any scope sees no rows at all.
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM referrals_referral")
        (referral_rows,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM referrals_milestoneevent")
        (event_rows,) = cursor.fetchone()
        # The seeded history was written minutes ago; in a real database it is older than
        # the last nights. Dated back two days, so the night's watermark reads only the day.
        for table in ("referrals_referral", "referrals_referringoffice"):
            cursor.execute(f"UPDATE {table} SET updated_at = updated_at - interval '2 days'")
    print(f"referrals table: {referral_rows:,} rows; milestone events: {event_rows:,} rows")

    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    seconds, totals = night_of_batches(yesterday, batch_size)
    print(
        f"night 0 ({yesterday}, no watermark yet: every office's rollups rebuilt): "
        f"{seconds:.1f} s, {totals['rollups_rebuilt']:,} offices rebuilt, "
        f"{totals['snapshots']:,} snapshots, {totals['new_alerts']:,} alerts"
    )
    started = time.perf_counter()
    day = a_day_of_work(share, unrefreshed, today)
    print(
        f"the day ({today}): {day['referrals']:,} referrals and {day['steps']:,} steps in "
        f"{day['practices']:,} practices through the services ({day['offices']:,} offices "
        f"touched, rollups refreshed after each commit); {day['unrefreshed']} referrals "
        f"written without a refresh; {time.perf_counter() - started:.1f} s"
    )
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def floor() -> float:
        with scopes_disabled(), connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                "SELECT practice_id, referring_office_id, date_trunc('month', received_on), "
                "count(*) FROM referrals_referral GROUP BY 1, 2, 3"
            )
            cursor.fetchall()
            return time.perf_counter() - started

    floor()  # warm the cache the same way for both
    floor_seconds = min(floor() for _ in range(3))
    print(
        f"plain GROUP BY practice, office, month over all referrals, as the app's role "
        f"(cross-tenant: the row-level security policy checked on every row): "
        f"{floor_seconds * 1000:.0f} ms"
    )
    superuser_floor = floor_without_rls()
    if superuser_floor is not None:
        print(
            f"the same GROUP BY as the database superuser (no policy, the strict floor): "
            f"{superuser_floor * 1000:.0f} ms"
        )

    seconds, totals = night_of_batches(today, batch_size)
    again = min(floor() for _ in range(3))  # the machine may have got busier meanwhile
    if again < floor_seconds:
        print(f"(the GROUP BY again after the night: {again * 1000:.0f} ms; the lower is used)")
        floor_seconds = again
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in totals["steps"].items())
    print(
        f"night 1 ({today}), batches of {batch_size} practices one after another: "
        f"{seconds:.2f} s = {seconds / practices * 1000:.2f} ms per practice; "
        f"{totals['batches']} batches, {totals['rollups_rebuilt']:,} offices' rollups rebuilt, "
        f"{totals['snapshots']:,} snapshots, {totals['new_alerts']:,} new alerts ({steps})"
    )
    print(f"ratio nightly batches / GROUP BY floor: {seconds / floor_seconds:.1f}x")
    if superuser_floor is not None:
        print(
            f"ratio against the GROUP BY without row-level security: "
            f"{seconds / superuser_floor:.1f}x"
        )
    if workers > 1:
        # The same night again (same data and day: idempotent, nothing left to rebuild or
        # raise), its batches shared out to worker processes as Celery would.
        parallel, _ = night_of_batches(today, batch_size, workers)
        print(
            f"the same night again with {workers} worker processes: {parallel:.2f} s = "
            f"{parallel / floor_seconds:.1f}x the floor"
            + (f", {parallel / superuser_floor:.1f}x without RLS" if superuser_floor else "")
        )
    if not full:
        return
    fast = snapshot_rows(today)
    started = time.perf_counter()
    snapshots = 0
    for practice in Practice.objects.order_by("pk"):
        with practice_scope(practice):
            snapshots += len(recompute(practice, today).snapshots)
    full_seconds = time.perf_counter() - started
    print(
        f"the same night by the per-practice full path (rollups rebuilt from scratch, one "
        f"practice after another): {full_seconds:.1f} s = "
        f"{full_seconds / practices * 1000:.0f} ms per practice; ratio "
        f"{full_seconds / floor_seconds:.1f}x"
    )
    same = snapshot_rows(today) == fast
    print(f"snapshots of the batches identical to the full path's: {'yes' if same else 'NO'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=200)
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-nightly", action="store_true")
    parser.add_argument("--day-share", type=float, default=0.6)
    parser.add_argument("--unrefreshed", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}")
    if not args.skip_pages:
        bench_pages(args.repeat)
    if not args.skip_nightly:
        bench_nightly(
            args.practices, args.offices, args.years, share=args.day_share,
            unrefreshed=args.unrefreshed, batch_size=args.batch_size, full=not args.skip_full,
            workers=args.workers,
        )  # fmt: skip


if __name__ == "__main__":
    main()
