"""manage.py seed_demo: a demo practice like the seed article's, with logins to try it.

manage.py seed_demo                      # 1 practice, 47 offices, 3 years (seed 1)
manage.py seed_demo --reset --seed 7     # delete the demo practice and build it again
manage.py seed_demo --if-empty           # what `make run` calls: only on an empty database
manage.py seed_demo --practices 5 --offices 60 --years 10   # a benchmark tenant set
"""

import argparse
import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from practices.models import Practice
from referrals.demo import (
    DEMO_PASSWORD,
    DemoExists,
    PracticeSummary,
    demo_logins,
    demo_two_factor,
    seed_demo,
)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date like 2026-03-31.") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of at least 1.")
    return number


class Command(BaseCommand):
    help = "Create a demo practice with three years of synthetic referrals and print its logins."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same data (1).")
        parser.add_argument(
            "--today",
            type=_date,
            help="YYYY-MM-DD the history ends at (default: today in America/New_York).",
        )
        parser.add_argument("--practices", type=_positive, default=1, help="How many (1).")
        parser.add_argument("--offices", type=_positive, default=47, help="Per practice (47).")
        parser.add_argument("--years", type=_positive, default=3, help="Of history (3).")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo practice(s) and everything in them first.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if any practice exists (for the run script).",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and Practice.objects.exists():
            self.stdout.write("A practice exists already: not seeding the demo.")
            return
        started = time.monotonic()
        try:
            summaries = seed_demo(
                seed=options["seed"],
                today=options["today"],
                practices=options["practices"],
                offices=options["offices"],
                years=options["years"],
                reset=options["reset"],
                on_practice=self._report,
            )
        except DemoExists as exc:
            raise CommandError(str(exc)) from None
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(summaries)} demo practice(s) in {seconds:.1f} s "
                f"(seed {options['seed']})."
            )
        )
        self.stdout.write("\nOpen http://127.0.0.1:8000/ and log in as:\n")
        rows = [(login.email, DEMO_PASSWORD, _role(login)) for login in demo_logins(len(summaries))]
        width = max(len(r[0]) for r in rows)
        self.stdout.write(f"  {'email':<{width}}  {'password':<14}  role")
        for email, password, role in rows:
            self.stdout.write(f"  {email:<{width}}  {password:<14}  {role}")
        for line in two_factor_lines([r[0] for r in rows]):
            self.stdout.write(line)

    def _report(self, s: PracticeSummary) -> None:
        # Counts and dates only: the output never carries a patient's name.
        acceptance = f"{s.acceptance:.0%}" if s.acceptance is not None else "n/a"
        profiles = ", ".join(f"{n} {p}" for p, n in sorted(s.profiles.items()))
        self.stdout.write(
            f"{s.name} ({s.slug}): {s.offices} offices ({profiles}), {s.providers} dentists, "
            f"{s.patients} patients, {s.referrals} referrals {s.first_day} to {s.last_day} "
            f"({s.open_referrals} open), {s.events} milestones, case acceptance {acceptance}, "
            f"production ${s.production:,.0f}"
            + "".join(f", {count} {what}" for what, count in s.extras.items())
            + "."
        )


def two_factor_lines(emails: list[str]) -> list[str]:
    """How the demo's administrators pass the second step: the key for an authenticator
    app, or one of their recovery codes (each works once)."""
    lines = []
    for email, factor in demo_two_factor(emails).items():
        lines += [
            f"\n  Two-factor for {email}: the authenticator key {factor.secret}",
            "  (type it into an authenticator app, or run `.venv/bin/python manage.py "
            "demo_totp_code` for the current code),",
            "  or one of these recovery codes (each works once):",
            "    " + " ".join(factor.recovery_codes),
        ]
    return lines


def _role(login) -> str:
    return login.role.replace("_", " ") + (" (surgeon)" if login.is_surgeon else "")
