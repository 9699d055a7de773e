"""Benchmark of GP letter PDFs: how many letters a second one worker process can make.

Builds a practice with synthetic cases in a fresh database, renders their letters (the
five kinds, round robin) to the printable document once, then makes PDFs of them warm
with several WeasyPrint set-ups, interleaved round by round so a busy machine slows every
variant alike. Prints, per variant, the median wall time and CPU time per letter, letters
per second and the speed-up over the naive call; then the production path
(``communications.rendering.render_letter_pdf``: database reads, templates and PDF).

    .venv/bin/python bench/letter_pdf.py [--letters 40] [--rounds 5]
    DATABASE_URL=postgres://... .venv/bin/python bench/letter_pdf.py   # an empty database

Variants:
  naive        HTML(string=doc).write_pdf(): a new font configuration every call
  font_config  one FontConfiguration for the process (fonts found and loaded once)
  css          + the letter's stylesheet parsed once (weasyprint.CSS), not per letter
  production   what pdf_from_html does (the settings chosen from the figures above)
  full_fonts   + whole fonts embedded instead of subsets (bigger files)
  hinting      + font hinting kept (bigger files)
"""

import argparse
import datetime as dt
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_letters(count: int):
    """A practice, a surgeon and ``count`` letters on synthetic cases (no PHI: invented)."""
    from django.utils import timezone

    from communications.models import Letter, LetterKind
    from practices.models import Membership, Practice, Role, User
    from referrals.choices import CaseType, SourceType
    from referrals.choices import MilestoneKind as M
    from referrals.models import Patient, ReferringOffice, ReferringProvider
    from referrals.services import ReferralInput, create_referral, record_milestone

    practice = Practice.objects.create(
        name="Benchmark Oral Surgery",
        slug=f"letter-bench-{int(time.time())}",
        address="2200 Lakeshore Drive, Suite 310\nSpringfield, IL 62704",
        phone="217-555-0100",
    )
    surgeon = User.objects.create_user(
        email=f"surgeon-{practice.slug}@bench.test", first_name="Maria", last_name="Alvarez"
    )
    Membership.objects.create(
        practice=practice, user=surgeon, role=Role.CLINICIAN, is_surgeon=True, credentials="DDS"
    )
    office = ReferringOffice.objects.create(
        practice=practice,
        name="Maple Family Dental",
        address="118 Orchard Lane",
        city="Springfield",
        state="IL",
        zip_code="62704",
    )
    provider = ReferringProvider.objects.create(
        practice=practice, office=office, first_name="Evelyn", last_name="Hart"
    )
    kinds = list(LetterKind)
    event_kind = {
        LetterKind.CONSULT_SCHEDULED: M.CONSULT_SCHEDULED,
        LetterKind.CONSULT_COMPLETED: M.CONSULT_COMPLETED,
        LetterKind.SURGERY_SCHEDULED: M.SURGERY_SCHEDULED,
        LetterKind.POSTOP_CONCLUDED: M.SURGERY_COMPLETED,
        LetterKind.POSTOP_UPDATE: M.SURGERY_COMPLETED,
    }
    start = timezone.now() - dt.timedelta(days=60)
    letters = []
    for n in range((count + len(kinds) - 1) // len(kinds)):
        patient = Patient.objects.create(
            practice=practice,
            first_name=f"Pat{n}",
            last_name="Synthetic",
            date_of_birth=dt.date(1990, 1, 1) + dt.timedelta(days=n),
        )
        # historical: the letter triggers stay quiet; the letters are written below.
        referral = create_referral(
            practice,
            ReferralInput(
                patient=patient,
                source_type=SourceType.DOCTOR,
                case_type=CaseType.THIRD_MOLARS,
                received_on=start.date(),
                referring_office=office,
                referring_provider=provider,
                reason="Impacted third molars.",
            ),
            historical=True,
        )
        steps = [
            (M.CONSULT_SCHEDULED, {"scheduled_for": start + dt.timedelta(days=7)}),
            (
                M.CONSULT_COMPLETED,
                {
                    "findings": "Mesioangular impaction of #17 and #32.",
                    "recommendation": "Extraction of all four third molars under IV sedation.",
                },
            ),
            (M.TREATMENT_ACCEPTED, {}),
            (
                M.SURGERY_SCHEDULED,
                {"scheduled_for": start + dt.timedelta(days=20), "procedure": "Extractions"},
            ),
            (
                M.SURGERY_COMPLETED,
                {"procedure": "Extraction of #1, #16, #17, #32", "note": "Check at 1 week."},
            ),
        ]
        events = {}
        for day, (kind, extra) in enumerate(steps, start=1):
            events[kind] = record_milestone(
                referral,
                kind,
                occurred_at=start + dt.timedelta(days=day * 4),
                recorded_by=surgeon,
                historical=True,
                **extra,
            )
        for kind in kinds:
            letters.append(
                Letter.objects.create(
                    practice=practice,
                    referral=referral,
                    event=events[event_kind[kind]],
                    office=office,
                    kind=kind,
                    interval_days=7 if kind == LetterKind.POSTOP_UPDATE else 0,
                    recipient_key=f"provider:{provider.pk}",
                    recipient_name="Dr. Evelyn Hart",
                    channel="email",
                    due_at=timezone.now(),
                )
            )
    return practice, letters[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=40, help="letters per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="letter-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.setdefault("VAR_DIR", str(workdir / "var"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    # WeasyPrint logs every step at INFO: seven lines a letter would time the logging too.
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scopes_disabled
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from communications import rendering
    from practices.scoping import practice_scope

    call_command("migrate", verbosity=0)
    with scopes_disabled():
        practice, letters = setup_letters(args.letters)
    with practice_scope(practice):
        documents = [rendering.render_letter(letter).html for letter in letters]
        css_text = rendering.letter_css()
        bare = [doc.replace(css_text, "") for doc in documents]
        font_config = FontConfiguration()
        css = CSS(string=css_text, font_config=font_config)

        variants = {
            "naive": lambda i: HTML(string=documents[i]).write_pdf(),
            "font_config": lambda i: HTML(string=documents[i]).write_pdf(font_config=font_config),
            "css": lambda i: HTML(string=bare[i]).write_pdf(
                font_config=font_config, stylesheets=[css]
            ),
            "production": lambda i: rendering.pdf_from_html(documents[i]),
            "full_fonts": lambda i: HTML(string=bare[i]).write_pdf(
                font_config=font_config, stylesheets=[css], full_fonts=True
            ),
            "hinting": lambda i: HTML(string=bare[i]).write_pdf(
                font_config=font_config, stylesheets=[css], hinting=True
            ),
            "render_letter_pdf": lambda i: rendering.render_letter_pdf(letters[i]),
        }
        for run in variants.values():  # warm: imports, fonts, caches
            run(0)
        wall = {name: [] for name in variants}
        cpu = {name: [] for name in variants}
        size = {name: 0 for name in variants}
        for _ in range(args.rounds):
            for name, run in variants.items():
                began, began_cpu = time.perf_counter(), time.process_time()
                for i in range(len(letters)):
                    size[name] = len(run(i))
                wall[name].append((time.perf_counter() - began) / len(letters))
                cpu[name].append((time.process_time() - began_cpu) / len(letters))

    print(
        f"database: {connection.vendor} · {len(letters)} letters x {args.rounds} rounds · "
        f"load average {os.getloadavg()[0]:.1f} · {os.cpu_count()} CPUs"
    )
    naive = statistics.median(cpu["naive"])
    columns = ("wall ms", "CPU ms", "letters/s", "x naive", "PDF KiB")
    print(f"{'variant':18} " + " ".join(f"{c:>9}" for c in columns))
    for name in variants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(
            f"{name:18} {w * 1000:9.1f} {c * 1000:9.1f} {1 / c:9.1f} {naive / c:9.2f} "
            f"{size[name] / 1024:9.0f}"
        )
    print("(letters/s and x naive from CPU time: one worker process on an idle core)")
    connection.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
