"""Export everything of a practice into a zip: ``manage.py export_practice --practice SLUG
OUT.zip`` (what Settings → Export all data builds; docs/data-export.md)."""

from django.core.management.base import BaseCommand, CommandError

from portability.export import build_export
from practices.audit import record
from practices.models import AuditAction, Practice
from practices.scoping import practice_scope


class Command(BaseCommand):
    help = "Export every record, letter PDF and attachment of a practice into a zip file."

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="The practice's slug.")
        parser.add_argument("out", help="The zip file to write (replaced if it exists).")

    def handle(self, *args, practice, out, **options):
        found = Practice.objects.filter(slug=practice).first()
        if found is None:
            raise CommandError(f"No practice has the slug {practice!r}.")
        try:
            stream = open(out, "wb")  # noqa: SIM115 (closed below, also on failure)
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc.strerror}.") from None
        with stream, practice_scope(found):
            counts = build_export(found, stream)
            # The operator read every patient's record out of the product: on the record.
            record(
                None,
                AuditAction.EXPORTED,
                practice=found,
                object_type="practice_export",
                summary="Export of all practice data (manage.py export_practice)",
                count=sum(v for k, v in counts.items() if k != "files"),
            )
        summary = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Exported {found.slug} to {out}: {summary}."))
