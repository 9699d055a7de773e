"""Benchmark of the CSV import of referral history.

Generates a synthetic CSV (100,000 rows by default) in a temporary folder and imports it
into a fresh practice with ``manage.py import_referrals`` (the same check-then-import
code path as the web upload's Celery task), then imports it again (every row matched).
Prints rows per second and the process's peak memory.

    # SQLite (a new database file in a temporary folder):
    .venv/bin/python bench/import_csv.py
    # PostgreSQL (an empty database; the schema is migrated first):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/import_csv.py

Options: --rows N, --tracemalloc (Python heap peak; slows the run down), --keep (keep the
CSV and, for SQLite, the database). The wall time includes what runs after the commit
(analytics rebuilding the rollups of the imported offices). On a busy machine compare the
process's CPU time too: it excludes waiting for the CPU (and the database server's work).
"""

import argparse
import csv
import datetime as dt
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The file's columns are the importer's own (importing them needs no Django setup).
from referrals.importing.vocabulary import COLUMNS  # noqa: E402

SOURCE_SPELLINGS = {
    "doctor": ["doctor", "Dr", "dentist", "GP", "General Dentist"],
    "specialist": ["specialist", "Periodontist", "orthodontist"],
    "self": ["self", "Patient"],
    "website": ["website", "web"],
    "insurance": ["insurance"],
    "event": ["event"],
    "other": ["other"],
}
SOURCE_WEIGHTS = {
    "doctor": 78,
    "specialist": 6,
    "self": 8,
    "website": 4,
    "insurance": 2,
    "event": 1,
    "other": 1,
}
CASE_SPELLINGS = [
    ["third_molars", "wisdom teeth", "3rd molars", "Third Molar"],
    ["implants", "implant"],
    ["extractions", "extraction"],
    ["bone_graft", "bone graft"],
    ["biopsy", "pathology"],
    ["orthognathic", "ortho"],
    ["tmj", "TMD"],
    ["trauma"],
    ["other"],
]
OFFICE_WORDS = ["Maple", "Cedar", "Harbor", "Oak", "Pine", "River", "Lake", "Hill", "Elm", "Bay"]
OFFICE_KINDS = ["Dental", "Family Dentistry", "Dental Care", "Smiles", "Dental Group"]
FIRST = ["Ann", "Bob", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lu", "Mo"]
LAST = ["Lee", "Ray", "Oh", "Fox", "Kim", "Diaz", "Shah", "Nash", "Cole", "Park", "Webb", "Tran"]


def generate(path: Path, rows: int, seed: int = 42) -> None:
    """A PMS-like history: ~400 offices with 1-4 doctors each, one patient in four coming
    back for another case, journeys from 'received' to 'surgery completed'."""
    rng = random.Random(seed)
    offices = []
    for n in range(400):
        name = f"{rng.choice(OFFICE_WORDS)} {rng.choice(OFFICE_KINDS)} {n}"
        doctors = [
            f"Dr. {rng.choice(FIRST)} {rng.choice(LAST)}{n}x{d}" for d in range(rng.randint(1, 4))
        ]
        offices.append((name, f"{rng.randint(10000, 99999)}", doctors))
    start, span = dt.date(2017, 1, 1), (dt.date(2024, 12, 31) - dt.date(2017, 1, 1)).days
    recent: list[tuple[str, str, str, str]] = []  # patients who may come back
    keys: set = set()
    sources = list(SOURCE_WEIGHTS)
    weights = list(SOURCE_WEIGHTS.values())
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        written = 0
        while written < rows:
            if recent and rng.random() < 0.25:
                patient = rng.choice(recent)
            else:
                dob = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25000))
                patient = (
                    f"P{written:07d}",
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    dob.isoformat(),
                )
                recent.append(patient)
                if len(recent) > 5000:
                    recent.pop(0)
            received = start + dt.timedelta(days=rng.randrange(span))
            source = rng.choices(sources, weights)[0]
            office = rng.choice(offices) if source in ("doctor", "specialist") else None
            key = (patient[0], received, office[0] if office else None)
            if key in keys:
                continue
            keys.add(key)
            consult = decision = decision_on = surgery = production = ""
            journey = rng.random()
            day = received
            if journey > 0.15:
                day += dt.timedelta(days=rng.randint(3, 30))
                consult = day.isoformat()
            if journey > 0.30:
                day += dt.timedelta(days=rng.randint(0, 14))
                decision_on = day.isoformat()
                decision = "declined" if journey < 0.40 else "accepted"
            if journey > 0.55:
                day += dt.timedelta(days=rng.randint(7, 60))
                surgery = day.isoformat()
                amount = Decimal(rng.randint(40000, 900000)) / 100
                production = f"${amount:,.2f}" if rng.random() < 0.5 else str(amount)
            writer.writerow(
                [
                    *patient,
                    received.isoformat(),
                    rng.choice(SOURCE_SPELLINGS[source]),
                    office[0] if office else "",
                    rng.choice(office[2]) if office else "",
                    office[1] if office else "",
                    rng.choice(rng.choice(CASE_SPELLINGS)),
                    consult,
                    decision,
                    decision_on,
                    surgery,
                    production,
                ]
            )
            written += 1


def _time_commit_hooks(connection) -> dict:
    """Measure the on-commit callbacks (receivers of the import's signal) apart."""
    spent = {"wall": 0.0, "cpu": 0.0}
    run_hooks = connection.run_and_clear_commit_hooks

    def timed():
        began, cpu = time.monotonic(), time.process_time()
        try:
            run_hooks()
        finally:
            spent["wall"] += time.monotonic() - began
            spent["cpu"] += time.process_time() - cpu

    connection.run_and_clear_commit_hooks = timed
    return spent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="import-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.setdefault("VAR_DIR", str(workdir / "var"))
    os.environ.setdefault("DEBUG", "false")  # as in production: no query log
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from practices.models import Practice
    from practices.scoping import practice_scope
    from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice

    call_command("migrate", verbosity=0)
    csv_path = workdir / "history.csv"
    began = time.monotonic()
    generate(csv_path, args.rows)
    size_mb = csv_path.stat().st_size / 1e6
    print(
        f"database: {connection.vendor} · generated {args.rows:,} rows ({size_mb:.1f} MB) "
        f"in {time.monotonic() - began:.1f} s"
    )
    slug = f"bench-{int(time.time())}"
    practice = Practice.objects.create(name="Benchmark Oral Surgery", slug=slug)

    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    hooks = _time_commit_hooks(connection)
    baseline = peak_rss_mb()
    for label in ("first import", "re-import (all matched)"):
        out = StringIO()
        hooks.update(wall=0.0, cpu=0.0)
        began, cpu = time.monotonic(), time.process_time()
        call_command("import_referrals", "--practice", slug, str(csv_path), stdout=out)
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
        print(
            f"{label}: {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s "
            f"(this process's CPU: {cpu:.1f} s; load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"   of which after the commit (analytics refreshing the offices' rollups): "
            f"{hooks['wall']:.1f} s, CPU {hooks['cpu']:.1f} s"
        )
        for line in out.getvalue().splitlines()[1:4]:
            print(f"   {line.strip()}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before the imports: {baseline:.0f} MB)")
    if args.tracemalloc:
        current, peak = tracemalloc.get_traced_memory()
        print(f"peak Python heap during the imports (tracemalloc): {peak / 1e6:.0f} MB")
    with practice_scope(practice):
        print(
            "stored: "
            f"{Referral.objects.count():,} referrals, "
            f"{MilestoneEvent.objects.count():,} events, "
            f"{Patient.objects.count():,} patients, "
            f"{ReferringOffice.objects.count():,} offices"
        )
    if args.keep:
        print(f"kept: {workdir}")
    else:
        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
