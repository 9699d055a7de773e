"""Benchmark of a practice's whole export and its re-import (portability/).

Seeds the demo practice (``seed_demo``: 47 offices, 3 years by default; ``--offices`` and
``--years`` for bigger ones), exports it with ``manage.py export_practice``, creates an
empty practice and imports the zip into it with ``manage.py import_practice``, and checks
the counts are the same. Prints the rows, the zip's size, each step's wall time and the
process's peak memory.

    bench/run_with_services.sh .venv/bin/python bench/practice_export.py [--offices N --years N]
"""

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from portability.export import count_rows  # noqa: E402
from practices.models import Practice  # noqa: E402
from practices.scoping import practice_scope  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offices", type=int, default=47)
    parser.add_argument("--years", type=int, default=3)
    args = parser.parse_args()
    quiet = io.StringIO()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command(
        "seed_demo", "--reset", "--offices", str(args.offices), "--years", str(args.years),
        stdout=quiet,
    )  # fmt: skip
    print(f"seed_demo: {time.perf_counter() - started:.1f} s")
    with scopes_disabled():
        practice = Practice.objects.order_by("pk").first()
    with practice_scope(practice):
        before = count_rows(practice)
    print(f"practice {practice.slug}: {sum(before.values()):,} rows {before}")
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "export.zip"
        started = time.perf_counter()
        call_command("export_practice", str(archive), practice=practice.slug, stdout=quiet)
        exported = time.perf_counter() - started
        print(f"export: {exported:.1f} s, {archive.stat().st_size / 1e6:.1f} MB zip")
        call_command(
            "create_practice", "Bench Reimport", slug="bench-reimport",
            admin_email="bench@reimport.example", stdout=quiet,
        )  # fmt: skip
        with scopes_disabled():
            target = Practice.objects.get(slug="bench-reimport")
        started = time.perf_counter()
        call_command("import_practice", str(archive), practice=target.slug, stdout=quiet)
        imported = time.perf_counter() - started
    with practice_scope(target):
        after = count_rows(target)
    same = {k: v for k, v in after.items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }
    print(f"import: {imported:.1f} s; same counts (audit log aside): {same}")
    print(f"audit log: {before['audit_log']} exported, {after['audit_log']} after the import")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:.0f} MB")
    call_command("delete_practice", slug=target.slug, yes=True, stdout=quiet)


if __name__ == "__main__":
    main()
