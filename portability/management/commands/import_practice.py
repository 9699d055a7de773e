"""Import a practice's export into an empty practice: ``manage.py import_practice
--practice SLUG IN.zip`` (docs/data-export.md)."""

from django.core.management.base import BaseCommand, CommandError

from portability.reimport import ImportRefused, import_practice
from practices.audit import record
from practices.models import AuditAction, Practice
from practices.scoping import practice_scope


class Command(BaseCommand):
    help = "Import an export (export_practice, Settings → Export all data) into an empty practice."

    def add_arguments(self, parser):
        parser.add_argument("--practice", required=True, help="The empty practice's slug.")
        parser.add_argument("source", help="The export's zip file.")

    def handle(self, *args, practice, source, **options):
        found = Practice.objects.filter(slug=practice).first()
        if found is None:
            raise CommandError(
                f"No practice has the slug {practice!r}; create it first (create_practice)."
            )
        try:
            with open(source, "rb") as stream, practice_scope(found):
                counts = import_practice(found, stream)
                record(
                    None,
                    AuditAction.IMPORTED,
                    practice=found,
                    object_type="practice_export",
                    summary="Import of a practice export (manage.py import_practice)",
                    count=sum(v for k, v in counts.items() if isinstance(v, int) and k != "files"),
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}.") from None
        except ImportRefused as exc:
            raise CommandError(f"Nothing was imported: {exc}") from None
        differs = counts.pop("differs_from_manifest", None)
        summary = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Imported into {found.slug}: {summary}."))
        if differs:
            self.stderr.write(
                "The files hold other counts than the export's manifest (edited after the "
                f"export?): {differs}"
            )
