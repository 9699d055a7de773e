"""Delete a practice and all of its data, for the platform operator:
``manage.py delete_practice --slug SLUG [--yes]``.

Shows what will go, then asks for the slug again; ``--yes`` skips the question (scripts).
What goes and why the audit log goes with it: practices/deletion.py, docs/deployment.md.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from practices.deletion import (
    accounts_only_in,
    count_rows,
    delete_practice,
    practice_file_names,
    practice_folder,
)
from practices.models import Practice


class Command(BaseCommand):
    help = (
        "Delete a practice with every row of it in every tenant table (audit log included), "
        "its stored files and the accounts that belong to it alone. Cannot be undone."
    )
    # Like createsuperuser: tests (and scripts) can hand the answer in.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True, help="The practice to delete.")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Do not ask for the slug again (for scripts). Nothing else changes.",
        )

    def handle(self, *args, slug, yes, **options):
        practice = Practice.objects.filter(slug=slug).first()
        if practice is None:
            raise CommandError(f"No practice has the slug {slug!r}; nothing was deleted.")
        rows = count_rows(practice)
        files = practice_file_names(practice)
        accounts = accounts_only_in(practice)
        self.stdout.write(f"Practice {practice.name!r} (slug {practice.slug}, id {practice.pk}):")
        self.stdout.write(f"  {sum(rows.values())} rows in {len(rows)} tables")
        for label, n in sorted(rows.items()):
            self.stdout.write(f"    {label}: {n}")
        self.stdout.write(
            f"  {len(files)} stored files (and anything else in {practice_folder(practice.pk)}/)"
        )
        self.stdout.write(f"  {len(accounts)} accounts that belong to no other practice")
        if not yes:
            stdin = options.get("stdin") or sys.stdin
            self.stdout.write("This cannot be undone. Type the practice's slug to confirm: ")
            self.stdout.flush()
            answer = stdin.readline().strip()
            if answer != practice.slug:
                raise CommandError(
                    f"Not deleted: the slug typed ({answer!r}) is not {practice.slug!r}."
                )
        report = delete_practice(practice)
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted practice {report.slug}: {report.total_rows} rows, "
                f"{report.files} files, {report.accounts} accounts."
            )
        )
        if report.files_left:
            self.stderr.write(
                f"{len(report.files_left)} files could not be deleted; remove them by hand:"
            )
            for name in report.files_left:
                self.stderr.write(f"  {name}")
