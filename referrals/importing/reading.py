"""Streaming a referral-history CSV: encoding, header and line numbers.

The file is read line by line from its binary stream and never held whole in memory.
Each physical line is decoded on its own so that a non-UTF-8 byte is reported with the
line it is on. Line numbers are the file's own (the header is line 1), so a user can find
a reported line in a spreadsheet or text editor.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .vocabulary import COLUMNS

BOM = b"\xef\xbb\xbf"
NUL = "\x00"


class FileProblem(Exception):
    """The file as a whole cannot be imported (encoding, empty, header). One clear message;
    nothing is written."""


@dataclass(slots=True)
class RawRow:
    line: int
    # Stripped values by column name; None when the line has the wrong number of values.
    values: dict[str, str] | None
    width: int
    # The header's width when it is not our 15 columns (a mapped file), for the message.
    expected_width: int = 0


def _header_key(name: str) -> str:
    # Lenient about how a spreadsheet spells a header ("Chart Number", " chart_number ").
    return "_".join(name.strip().casefold().replace("-", " ").split())


def _check_header(header: list[str]) -> list[str]:
    names = [_header_key(h) for h in header]
    if len(names) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        raise FileProblem(
            "The file must be comma-separated: the header looks like it uses another "
            "separator. Export it from the spreadsheet as 'CSV (comma delimited)'."
        )
    duplicated = sorted({n for n in names if names.count(n) > 1 and n})
    missing = [c for c in COLUMNS if c not in names]
    unknown = [
        h.strip() or "(blank)" for h, n in zip(header, names, strict=True) if n not in COLUMNS
    ]
    problems = [
        f"{label}: {', '.join(items)}"
        for label, items in (
            ("missing", missing),
            ("unknown", unknown),
            ("repeated", duplicated),
        )
        if items
    ]
    if problems:
        raise FileProblem(
            "The header row (line 1) does not match the import format. Columns "
            + "; ".join(problems)
            + f". Expected these {len(COLUMNS)} columns: {', '.join(COLUMNS)}."
        )
    return names


def _decoded_lines(stream: Iterable[bytes]) -> Iterator[str]:
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"The file is not UTF-8 text (line {number} has a byte that is not UTF-8). "
                "Save it from the spreadsheet as 'CSV UTF-8' and upload it again."
            ) from exc
        if NUL in text:
            raise nul_problem(number)
        yield text


def nul_problem(line: int) -> FileProblem:
    # Found by the property tests: PostgreSQL stores no NUL in text or JSON, so a NUL in a
    # value (or in a sample or message quoting it) was a 500 at upload or check. No
    # spreadsheet writes one in a CSV: the file is UTF-16 or not text at all.
    return FileProblem(
        f"Line {line} contains a NUL character: this is not a CSV text file (UTF-16?). "
        "Save it from the spreadsheet as 'CSV UTF-8' and upload it again."
    )


def read_rows(stream: BinaryIO) -> Iterator[RawRow]:
    """Yield the data rows of the file; raises FileProblem for an unreadable file.

    Blank lines are skipped. A file with no data rows is a FileProblem too.
    """
    reader = csv.reader(_decoded_lines(stream))
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise FileProblem("The file is empty: it has no header row and no data.") from None
        names = _check_header(header)
        width = len(names)
        last_line = reader.line_num
        seen_data = False
        for fields in reader:
            # A quoted value may span lines: a row is reported at the line it starts on.
            line, last_line = last_line + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            seen_data = True
            if len(fields) != width:
                yield RawRow(line, None, len(fields))
            else:
                yield RawRow(
                    line, {n: f.strip() for n, f in zip(names, fields, strict=True)}, width
                )
    except csv.Error as exc:
        raise FileProblem(
            f"Line {reader.line_num} cannot be read as CSV ({exc}). Check its quotes."
        ) from exc
    if not seen_data:
        raise FileProblem("The file has a header row but no data rows: there is nothing to import.")


def count_data_lines(stream: BinaryIO) -> int:
    """A fast estimate of the number of rows (lines after the header) to decide whether a
    file is checked in the request or by a worker; the check counts them exactly."""
    lines = 0
    last = b"\n"
    while chunk := stream.read(1 << 20):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1)
