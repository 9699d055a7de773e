"""Benchmark of the import of referral history: case- and procedure-level, CSV and XLSX.

Generates a synthetic export (100,000 rows by default) in a temporary folder and imports it
into a fresh practice with ``manage.py import_referrals`` (the same check-then-import code
path as the wizard's Celery task), then imports it again (every row matched). Prints rows
per second and the process's peak memory, and on PostgreSQL the floor: a raw ``COPY`` of
the same rows into a scratch table, timed in the same run, with the import's ratio to it.

Shapes: ``case`` is our own 15 columns, one row per case; ``procedure`` is the Open Dental
User Query's grid (docs/imports/open-dental.sql), one row per procedure, about 2.5 rows per
case, imported through the built-in ``open-dental`` preset the command finds by header.

    # SQLite (a new database file in a temporary folder):
    .venv/bin/python bench/import_csv.py
    # PostgreSQL and Redis of their own, started and stopped around the run:
    bench/run_with_services.sh .venv/bin/python bench/import_csv.py --matrix

Options: --rows N, --shape case|procedure (default procedure), --format csv|xlsx, --matrix
(all four), --tracemalloc (Python heap peak; slows the run down), --keep (keep the files
and, for SQLite, the database). The wall time includes what runs after the commit
(analytics rebuilding the rollups of the imported offices). On a busy machine compare the
process's CPU time too: it excludes waiting for the CPU (and the database server's work).
"""

import argparse
import csv
import datetime as dt
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import zipfile
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


OD_HEADER = [
    "PatNum", "LName", "FName", "Birthdate", "RefDate", "RefLName", "RefFName", "RefTitle",
    "BusinessName", "RefZip", "RefNPI", "ProcCode", "ProcDate", "ProcFee", "ProcStatus",
]  # fmt: skip
EVALUATIONS = ["D0140", "D0150", "D9310"]
SURGICAL = [  # (code, usual fee): the case types of docs/imports.md's CDT table
    ("D7240", 450), ("D7230", 380), ("D7220", 300), ("D7210", 220), ("D7140", 150),
    ("D6010", 2100), ("D7953", 650), ("D7286", 400), ("D7940", 3800), ("D7880", 900),
    ("D7670", 700),
]  # fmt: skip


def generate_procedures(path: Path, rows: int, seed: int = 42) -> int:
    """The Open Dental User Query's grid: one row per procedure (an evaluation, one to
    three surgical codes, some only planned, a few deleted), a case with no procedure yet
    as one row with the procedure columns empty. Returns the number of cases."""
    rng = random.Random(seed)
    doctors = []  # (last, first, title, business name, zip, NPI)
    for n in range(400):
        business = f"{rng.choice(OFFICE_WORDS)} {rng.choice(OFFICE_KINDS)} {n}"
        if rng.random() < 0.1:
            business = ""  # a doctor of their own: the office is named after them
        zip_code = f"{rng.randint(10000, 99999)}"
        for d in range(rng.randint(1, 3)):
            npi = f"1{rng.randrange(10**9):09d}" if rng.random() < 0.6 else ""
            title = rng.choice(["DDS", "DMD"])
            doctors.append(
                (f"{rng.choice(LAST)}{n}x{d}", rng.choice(FIRST), title, business, zip_code, npi)
            )
    start, span = dt.date(2017, 1, 1), (dt.date(2024, 12, 31) - dt.date(2017, 1, 1)).days
    recent: list[tuple[str, str, str, str]] = []
    seen: set = set()
    cases = written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(OD_HEADER)
        while written < rows:
            if recent and rng.random() < 0.25:
                patient = rng.choice(recent)
            else:
                dob = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25000))
                birth = "0001-01-01" if rng.random() < 0.02 else dob.isoformat()
                patient = (str(100000 + cases), rng.choice(LAST), rng.choice(FIRST), birth)
                recent.append(patient)
                if len(recent) > 5000:
                    recent.pop(0)
            received = start + dt.timedelta(days=rng.randrange(span))
            if (patient[0], received) in seen:
                continue
            seen.add((patient[0], received))
            case = [*patient, received.isoformat(), *rng.choice(doctors)]
            procedures = []
            journey, day = rng.random(), received
            if journey > 0.15:
                day += dt.timedelta(days=rng.randint(3, 30))
                procedures.append((rng.choice(EVALUATIONS), day, 95, "2"))
            if journey > 0.30:
                status = "2" if journey > 0.55 else "1"
                day += dt.timedelta(days=rng.randint(7, 60))
                for _ in range(rng.choice([1, 1, 2, 2, 3])):
                    code, fee = rng.choice(SURGICAL)
                    procedures.append((code, day, fee + rng.randint(0, 99), status))
                if rng.random() < 0.1:
                    procedures.append((rng.choice(SURGICAL)[0], day, 100, "6"))
            if not procedures:
                writer.writerow([*case, "", "", "", ""])
                written += 1
            for code, on, fee, status in procedures:
                writer.writerow([*case, code, on.isoformat(), f"{fee}.00", status])
                written += 1
            cases += 1
    return cases


def to_xlsx(csv_path: Path) -> Path:
    """The same rows as an Excel workbook laid out the way Excel saves one: text in the
    shared-strings table, numbers as numbers, the sheet's dimension stated. (openpyxl's own
    writer stores every text inline and no dimension, which its reader parses several
    times slower than any file a spreadsheet writes: not what a practice uploads.)"""
    from xml.sax.saxutils import escape

    xlsx_path = csv_path.with_suffix(".xlsx")
    strings: dict[str, int] = {}
    number = re.compile(r"^-?\d{1,15}(\.\d+)?$")

    def column_letter(n: int) -> str:
        letters = ""
        while n:
            n, rem = divmod(n - 1, 26)
            letters = chr(65 + rem) + letters
        return letters

    with csv_path.open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    width = max(len(r) for r in rows)
    letters = [column_letter(n + 1) for n in range(width)]
    with zipfile.ZipFile(xlsx_path, "w", zipfile.ZIP_DEFLATED) as book:
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + f'<dimension ref="A1:{letters[-1]}{len(rows)}"/><sheetData>'.encode()
            )
            for r, row in enumerate(rows, start=1):
                cells = []
                for c, value in enumerate(row):
                    ref = f"{letters[c]}{r}"
                    if not value:
                        continue
                    if r > 1 and number.match(value) and not value.startswith("0"):
                        cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                    else:
                        index = strings.setdefault(value, len(strings))
                        cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
                sheet.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
        shared = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        book.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://'
            f'schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{len(strings)}">'
            f"{shared}</sst>",
        )
        main = "http://schemas.openxmlformats.org"
        book.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{main}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats'
            '-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'sharedStrings+xml"/></Types>',
        )
        rel = f"{main}/officeDocument/2006/relationships"
        book.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{main}/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets>'
            '<sheet name="Export" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{main}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
            "</Relationships>",
        )
    return xlsx_path


def copy_floor(connection, csv_path: Path) -> float:
    """Seconds for PostgreSQL's own ``COPY`` of the CSV into a scratch table of text
    columns, in one transaction: what merely moving these bytes into the database costs."""
    with csv_path.open(encoding="utf-8") as source:
        columns = next(csv.reader(source))
    names = ", ".join(f'"c{n}" text' for n in range(len(columns)))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE import_floor ({names})")
        began = time.monotonic()
        with (
            csv_path.open("rb") as source,
            cursor.copy("COPY import_floor FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := source.read(1 << 16):
                copy.write(chunk)
        seconds = time.monotonic() - began
        cursor.execute("DROP TABLE import_floor")
    return seconds


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
    parser.add_argument("--shape", choices=["case", "procedure"], default="procedure")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--matrix", action="store_true", help="every shape in every format")
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

    call_command("migrate", verbosity=0)
    runs = [(args.shape, args.format)]
    if args.matrix:
        runs = [(shape, fmt) for shape in ("procedure", "case") for fmt in ("csv", "xlsx")]
    print(f"database: {connection.vendor} · {args.rows:,} rows per file · {os.cpu_count()} CPUs")
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    files: dict[str, tuple[Path, int | None]] = {}
    for shape, fmt in runs:
        if shape not in files:
            csv_path = workdir / f"{shape}.csv"
            began = time.monotonic()
            if shape == "procedure":
                cases = generate_procedures(csv_path, args.rows)
            else:
                generate(csv_path, args.rows)
                cases = None
            size = csv_path.stat().st_size / 1e6
            print(
                f"\n{shape}-level file: {args.rows:,} rows"
                + (f" ({cases:,} cases)" if cases else "")
                + f", {size:.1f} MB CSV, generated in {time.monotonic() - began:.1f} s"
            )
            if connection.vendor == "postgresql":
                floor = copy_floor(connection, csv_path)
                print(f"   floor: COPY of the CSV into a scratch table {floor:.2f} s")
                files[shape] = (csv_path, cases, floor)
            else:
                files[shape] = (csv_path, cases, None)
        bench_one(args, connection, call_command, shape, fmt, *files[shape])
    if args.tracemalloc:
        current, peak = tracemalloc.get_traced_memory()
        print(f"\npeak Python heap during the imports (tracemalloc): {peak / 1e6:.0f} MB")
    if args.keep:
        print(f"kept: {workdir}")
    else:
        connection.close()
        shutil.rmtree(workdir, ignore_errors=True)


def bench_one(args, connection, call_command, shape, fmt, csv_path, cases, floor) -> None:
    from practices.models import Practice
    from practices.scoping import practice_scope
    from referrals.models import MilestoneEvent, Patient, Referral, ReferringOffice

    path = csv_path
    if fmt == "xlsx":
        began = time.monotonic()
        path = to_xlsx(csv_path)
        print(
            f"   {shape}-level XLSX: {path.stat().st_size / 1e6:.1f} MB, "
            f"written in {time.monotonic() - began:.1f} s"
        )
    slug = f"bench-{shape}-{fmt}-{int(time.time())}"
    practice = Practice.objects.create(name="Benchmark Oral Surgery", slug=slug)
    hooks = _time_commit_hooks(connection)
    baseline = peak_rss_mb()
    print(f"-- {shape}-level {fmt.upper()} into a new practice")
    for label in ("first import", "re-import (all matched)"):
        out = StringIO()
        hooks.update(wall=0.0, cpu=0.0)
        began, cpu = time.monotonic(), time.process_time()
        call_command("import_referrals", "--practice", slug, str(path), stdout=out)
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
        ratio = f", {seconds / floor:.0f}x the COPY floor" if floor else ""
        print(
            f"{label}: {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s{ratio} "
            f"(this process's CPU: {cpu:.1f} s; load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"   of which after the commit (analytics refreshing the offices' rollups): "
            f"{hooks['wall']:.1f} s, CPU {hooks['cpu']:.1f} s"
        )
        for line in out.getvalue().splitlines()[1:5]:
            print(f"   {line.strip()}")
    del connection.run_and_clear_commit_hooks  # the class's own again
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before these imports: {baseline:.0f} MB)")
    with practice_scope(practice):
        print(
            "stored: "
            f"{Referral.objects.count():,} referrals, "
            f"{MilestoneEvent.objects.count():,} events, "
            f"{Patient.objects.count():,} patients, "
            f"{ReferringOffice.objects.count():,} offices"
        )


if __name__ == "__main__":
    main()
