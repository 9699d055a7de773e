"""Check, preview and import a referral-history CSV: the code path shared by the web
upload, the Celery tasks, the management command and the benchmark.

Every row is checked before anything is written. The import itself is one transaction:
all-or-nothing refuses (and rolls back) at the first invalid row it meets; valid-only
writes the valid rows and reports the others.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from practices.models import Practice

from . import dates
from .mapping import Mapping, MappingProblem, apply, column_names
from .matching import Matcher, Row
from .parsing import RowParser
from .reading import FileProblem, RawRow, read_rows
from .sources import SourceInfo
from .writing import BatchWriter

BATCH_SIZE = 1000
# The job keeps this many errors to show; the counts say how many there were in all.
MAX_ERRORS_KEPT = 1000

Progress = Callable[[int], None]


@dataclass
class Report:
    """What a check or an import found and did."""

    total_rows: int = 0
    invalid_rows: int = 0
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    file_error: str = ""
    written: bool = False

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.invalid_rows

    @property
    def importable(self) -> bool:
        """Whether anything can be imported at all (in valid-only mode)."""
        return not self.file_error and self.valid_rows > 0

    def add_errors(self, row: Row) -> None:
        self.invalid_rows += 1
        self.error_count += len(row.errors)
        room = MAX_ERRORS_KEPT - len(self.errors)
        if room > 0:
            self.errors.extend(e.as_dict() for e in row.errors[:room])


class ImportRefused(Exception):
    """The import was rolled back: the file has errors and the mode is all-or-nothing,
    or the file cannot be read."""

    def __init__(self, report: Report):
        self.report = report
        if report.file_error:
            message = report.file_error
        else:
            message = (
                f"{report.invalid_rows} of {report.total_rows} rows have errors; "
                "nothing was imported."
            )
        super().__init__(message)


def practice_today(practice: Practice) -> dt.date:
    return timezone.localdate(timezone=ZoneInfo(practice.time_zone))


def _batched(items: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Source:
    """Where the canonical rows come from: our own format, or any export and its mapping."""

    stream: BinaryIO
    info: SourceInfo | None = None
    mapping: Mapping | None = None

    def raw_rows(self) -> Iterator[RawRow]:
        if self.mapping is None or self.info is None:
            return read_rows(self.stream)
        problems = self.mapping.problems(self.info.header)
        if problems:
            raise FileProblem("The column mapping cannot read this file: " + " ".join(problems))
        return apply(self.stream, self.info, self.mapping)

    def parser(self, practice: Practice) -> RowParser:
        today = practice_today(practice)
        if self.mapping is None:
            return RowParser(today)
        return RowParser(
            today,
            column_names=column_names(self.mapping),
            date_label=dates.EXPECTED[dates.DateFormat(self.mapping.date_format)],
        )

    def matcher(self) -> Matcher:
        # The offices the admin confirmed (or kept apart) are part of the mapping.
        if self.mapping is None:
            return Matcher()
        return Matcher(
            confirmed_offices=self.mapping.offices, column_names=column_names(self.mapping)
        )


def _parsed_rows(source: Source, parser: RowParser) -> Iterator[Row]:
    for raw in source.raw_rows():
        parsed, errors = parser.parse(raw)
        yield Row(raw.line, parsed, errors)


def _run(
    practice: Practice,
    source: Source,
    *,
    writer_for: Callable[[Matcher], BatchWriter] | None = None,
    valid_only: bool = True,
    on_progress: Progress | None = None,
) -> Report:
    report = Report()
    try:
        matcher = source.matcher()
    except MappingProblem as exc:
        return _file_problem(report, str(exc))
    writer = writer_for(matcher) if writer_for else None
    parser = source.parser(practice)
    try:
        for batch in _batched(_parsed_rows(source, parser), BATCH_SIZE):
            matcher.resolve(batch)
            for row in batch:
                if not row.ok:
                    report.add_errors(row)
            report.total_rows += len(batch)
            # All-or-nothing stops writing at the first bad row but keeps checking, so
            # the user gets every error at once.
            if writer is not None and (valid_only or not report.invalid_rows):
                writer.write(batch)
            if on_progress:
                on_progress(report.total_rows)
    except (FileProblem, MappingProblem) as exc:
        return _file_problem(report, str(exc))
    report.counts = {
        "rows": report.total_rows,
        "valid_rows": report.valid_rows,
        "invalid_rows": report.invalid_rows,
        **matcher.tally.as_counts(),
    }
    if writer is not None and (valid_only or not report.invalid_rows):
        writer.finish()
        report.counts["first_referrals"] = writer.first_referrals_recorded
    return report


def _file_problem(report: Report, message: str) -> Report:
    report.file_error = message
    report.errors = [{"line": None, "column": "", "message": message}]
    report.error_count = 1
    return report


def check_file(
    practice: Practice,
    stream: BinaryIO,
    info: SourceInfo | None,
    mapping: Mapping | None,
    on_progress: Progress | None = None,
) -> Report:
    """Check every row of any export through its mapping (None: our own format) and count
    what an import would create and match; writes nothing. Runs inside the practice's
    scope. Errors name the file's columns."""
    return _run(practice, Source(stream, info, mapping), on_progress=on_progress)


def import_file(
    practice: Practice,
    stream: BinaryIO,
    info: SourceInfo | None,
    mapping: Mapping | None,
    valid_only: bool = False,
    user=None,
    on_progress: Progress | None = None,
) -> Report:
    """Import the file in one transaction (rows are checked again as they are written).
    Raises ImportRefused, with nothing written, for an unreadable file, a file without a
    valid row, or any invalid row in all-or-nothing mode. Runs inside the practice's scope."""
    with transaction.atomic():
        report = _run(
            practice,
            Source(stream, info, mapping),
            writer_for=lambda matcher: BatchWriter(practice, matcher, user=user),
            valid_only=valid_only,
            on_progress=on_progress,
        )
        if report.file_error or not report.valid_rows or (report.invalid_rows and not valid_only):
            raise ImportRefused(report)
        report.written = True
    return report


def check_csv(practice: Practice, stream: BinaryIO, *, on_progress: Progress | None = None):
    """check_file for our own format."""
    return check_file(practice, stream, None, None, on_progress=on_progress)


def import_csv(
    practice: Practice,
    stream: BinaryIO,
    *,
    valid_only: bool = False,
    user=None,
    on_progress: Progress | None = None,
) -> Report:
    """import_file for our own format."""
    return import_file(
        practice, stream, None, None, valid_only=valid_only, user=user, on_progress=on_progress
    )


def preview_file(
    practice: Practice,
    stream: BinaryIO,
    info: SourceInfo | None,
    mapping: Mapping | None,
    limit: int = 50,
) -> tuple[list[Row], Matcher]:
    """The first ``limit`` rows (cases) as the import would treat them (new or known
    patient, office and doctor; new or matched referral; or their errors, naming the
    file's columns), and the matcher that knows the names offices are stored under.
    Writes nothing."""
    source = Source(stream, info, mapping)
    rows: list[Row] = []
    parser = source.parser(practice)
    try:
        for row in _parsed_rows(source, parser):
            rows.append(row)
            if len(rows) == limit:
                break
    except (FileProblem, MappingProblem):
        pass
    matcher = source.matcher()
    matcher.resolve(rows)
    return rows, matcher


def preview_csv(
    practice: Practice, stream: BinaryIO, *, limit: int = 20
) -> tuple[list[Row], Matcher]:
    """preview_file for our own format."""
    return preview_file(practice, stream, None, None, limit=limit)
