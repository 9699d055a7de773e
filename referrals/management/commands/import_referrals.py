"""manage.py import_referrals --practice SLUG FILE [--preset NAME] [--mapping FILE.json]
[--encoding E] [--delimiter D] [--valid-only] [--dry-run]

Imports a practice's referral history from its PMS export (CSV with any usual separator
and encoding, or XLSX). The columns are read with --mapping (the JSON the wizard lets an
admin download), --preset (a preset saved by the practice, or built in), or else: our own
15-column format when the header is exactly that, or the preset whose headers the file
has. Every row is checked; with any invalid row nothing is imported unless --valid-only is
given. --dry-run checks and reports what would be created and matched without writing.
"""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from practices.audit import AuditAction, record
from practices.models import Practice
from practices.scoping import practice_scope
from referrals.importing import presets
from referrals.importing.headers import header_key
from referrals.importing.mapping import Mapping, MappingProblem
from referrals.importing.pipeline import ImportRefused, Report, check_file, import_file
from referrals.importing.reading import FileProblem
from referrals.importing.sources import DELIMITERS, SourceInfo, inspect
from referrals.importing.vocabulary import COLUMNS

SHOWN_ERRORS = 200


class Command(BaseCommand):
    help = "Import referral history from a PMS export, CSV or XLSX (see docs/imports.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the export: CSV (any usual separator) or XLSX")
        parser.add_argument("--practice", required=True, help="the practice's slug")
        parser.add_argument("--preset", default="", help="a saved or built-in preset's name")
        parser.add_argument(
            "--mapping", type=Path, default=None, help="a mapping JSON file (from the wizard)"
        )
        parser.add_argument("--encoding", default="", help="the CSV's encoding (default: detected)")
        parser.add_argument(
            "--delimiter",
            default="",
            help="the CSV's separator: , ; | or 'tab' (default: sniffed from the header)",
        )
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="import the valid rows and skip the invalid ones (default: import nothing "
            "when any row is invalid)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report only; write nothing"
        )

    def handle(self, *args, file: Path, practice: str, valid_only: bool, dry_run: bool, **opts):
        target = Practice.objects.filter(slug=practice).first()
        if target is None:
            raise CommandError(f"No practice with the slug '{practice}'.")
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        delimiter = "\t" if opts["delimiter"] in ("tab", "\\t") else opts["delimiter"]
        if delimiter and delimiter not in DELIMITERS:
            raise CommandError("--delimiter must be one of , ; | tab")
        started = time.monotonic()
        with practice_scope(target), file.open("rb") as stream:
            try:
                info = inspect(stream, file.name, encoding=opts["encoding"], delimiter=delimiter)
            except FileProblem as exc:
                raise CommandError(str(exc)) from exc
            mapping = self._mapping(info, opts["preset"], opts["mapping"])
            if mapping is None:
                info = None  # our own format: read as it always was
            if dry_run:
                report = check_file(target, stream, info, mapping)
                self._print_errors(report)
                if report.file_error:
                    raise CommandError(report.file_error)
                self._print_counts(report, "Dry run, nothing written. The import would")
                if report.invalid_rows and not valid_only:
                    raise CommandError(self._refusal(report))
                return
            # One pass: each row is checked as it is written, in one transaction. Without
            # --valid-only the writing stops at the first invalid row, the check goes on
            # to list every error, and everything rolls back.
            try:
                report = import_file(target, stream, info, mapping, valid_only=valid_only)
            except ImportRefused as exc:
                self._print_errors(exc.report)
                if exc.report.file_error:
                    raise CommandError(exc.report.file_error) from exc
                raise CommandError(self._refusal(exc.report, valid_only)) from exc
            # No request: the operator's shell is the "system" actor of the audit log.
            record(
                None,
                AuditAction.IMPORTED,
                object_type="import",
                count=report.counts.get("referrals_created", 0),
                practice=target,
                summary=(
                    f"import_referrals command: {report.counts.get('valid_rows', 0)} valid of "
                    f"{report.total_rows} rows, {report.counts.get('patients_created', 0)} new "
                    "patients"
                ),
            )
        self._print_errors(report)
        self._print_counts(report, f"Imported into {target.name}:")
        self.stdout.write(f"Took {time.monotonic() - started:.1f} s.")

    def _mapping(self, info: SourceInfo, preset_name: str, path: Path | None) -> Mapping | None:
        """The mapping to read the file with; None for our own format."""
        if preset_name and path:
            raise CommandError("Give --preset or --mapping, not both.")
        if path is not None:
            try:
                mapping = Mapping.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as exc:
                raise CommandError(f"--mapping {path}: {exc}") from exc
            except MappingProblem as exc:
                raise CommandError(f"--mapping {path}: {exc}") from exc
            self.stdout.write(f"Columns read with the mapping {path.name}.")
            return mapping
        if preset_name:
            preset = presets.by_name(preset_name)
            if preset is None:
                raise CommandError(f"No preset named '{preset_name}' (saved or built in).")
            self.stdout.write(f"Columns read with the preset '{preset.name}'.")
            return presets.mapping_for(preset, info.header, info.samples)
        ours = [header_key(h).replace(" ", "_") for h in info.header]
        plain_csv = info.kind == "csv" and info.delimiter == "," and info.encoding.startswith("utf")
        if ours == list(COLUMNS):
            if plain_csv:
                return None
            # Our columns in another separator, encoding or an XLSX: map them onto themselves.
            return Mapping(columns=dict(zip(info.header, COLUMNS, strict=True)))
        preset = presets.find_for(info.header)
        if preset is None and plain_csv and len(set(ours) & set(COLUMNS)) * 2 > len(COLUMNS):
            # Nearly our format: the reader says exactly which columns are wrong.
            return None
        if preset is None:
            raise CommandError(
                "The file's columns are not our import format and no preset matches its "
                "header. Map its columns once in the import wizard (Imports page), save the "
                "preset, then pass --preset NAME (or download the mapping and pass --mapping)."
            )
        kind = "built-in" if getattr(preset, "builtin", False) else "saved"
        self.stdout.write(f"Columns read with the {kind} preset '{preset.name}' (headers match).")
        return presets.mapping_for(preset, info.header, info.samples)

    def _refusal(self, report: Report, valid_only: bool = False) -> str:
        if valid_only:
            return f"No row is valid ({report.invalid_rows} with errors); nothing was imported."
        return (
            f"{report.invalid_rows} of {report.total_rows} rows have errors; nothing was "
            "imported. Fix them, or pass --valid-only to import the other rows."
        )

    def _print_errors(self, report: Report) -> None:
        if report.file_error or not report.errors:
            return
        self.stderr.write(
            f"{report.invalid_rows} row(s) with errors ({report.error_count} error(s)):"
        )
        for error in report.errors[:SHOWN_ERRORS]:
            column = error["column"] or "(line)"
            self.stderr.write(f"  line {error['line']}, {column}: {error['message']}")
        if report.error_count > SHOWN_ERRORS:
            self.stderr.write(f"  ... and {report.error_count - SHOWN_ERRORS} more.")

    def _print_counts(self, report: Report, heading: str) -> None:
        c = report.counts
        created = ", ".join(
            [
                f"{_n(c['referrals_created'], 'referral')} "
                f"({_n(c['events_created'], 'milestone event')})",
                _n(c["patients_created"], "patient"),
                _n(c["offices_created"], "office"),
                _n(c["providers_created"], "doctor"),
            ]
        )
        matched = ", ".join(
            [
                _n(c["referrals_matched"], "referral"),
                _n(c["patients_matched"], "patient"),
                _n(c["offices_matched"], "office"),
                _n(c["providers_matched"], "doctor"),
            ]
        )
        rejected = f"{c['invalid_rows']} of {_n(c['rows'], 'row')}"
        if not report.written:
            self.stdout.write(
                f"{heading} create {created}; match {matched} already here; reject {rejected}."
            )
            return
        self.stdout.write(heading)
        self.stdout.write(f"  Created: {created}")
        self.stdout.write(f"  Matched (already here): {matched}")
        self.stdout.write(f"  Rejected: {rejected}")
        if c.get("first_referrals"):
            self.stdout.write(
                f"  First referral recorded for {_n(c['first_referrals'], 'office')}."
            )


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
