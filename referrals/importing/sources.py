"""Opening an export as it comes from a practice-management system: CSV with a comma,
semicolon, tab or pipe, in UTF-8 (with or without BOM), Windows-1252 or Latin-1, or an
XLSX workbook (first sheet).

``inspect`` looks at a file once (header, separator, encoding, a few samples, a row
estimate); ``read`` then streams its rows with the file's own line numbers. Neither holds
the file in memory: CSV is decoded through a streaming text wrapper, XLSX is opened in
openpyxl's read-only mode (rows parsed as they are iterated; formulas are not evaluated
and macros are not loaded).
"""

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from .reading import BOM, NUL, FileProblem, nul_problem

__all__ = ["FileProblem", "SourceInfo", "inspect", "read"]

DELIMITERS = (",", ";", "\t", "|")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
SAMPLES = 5
# Rows read by inspect() to find sample values (the rest of the file is only counted).
SAMPLE_ROWS = 200
_CHUNK = 1 << 20
# Bytes that Windows-1252 leaves undefined: a file with them is Latin-1 (ISO-8859-1).
_UNDEFINED_IN_CP1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


@dataclass
class SourceInfo:
    kind: str  # "csv" | "xlsx"
    encoding: str  # "" for xlsx
    encoding_detected: str
    delimiter: str  # "" for xlsx
    header: list[str]
    samples: dict[str, list[str]] = field(default_factory=dict)
    row_estimate: int = 0

    @classmethod
    def from_json(cls, data: dict) -> "SourceInfo":
        return cls(
            kind=data["kind"],
            encoding=data.get("encoding", ""),
            encoding_detected=data.get("encoding_detected", ""),
            delimiter=data.get("delimiter", ""),
            header=list(data["header"]),
            samples=dict(data.get("samples", {})),
            row_estimate=int(data.get("row_estimate", 0)),
        )


def unique_header(names: list[str]) -> list[str]:
    """Strip the names; a blank one becomes 'Column 3'; a repeated one 'Fee (2)'."""
    result: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        base = " ".join((name or "").split()) or f"Column {position}"
        candidate, n = base, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{base} ({n})"
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def _is_xlsx(head: bytes, name: str) -> bool:
    return head.startswith(_ZIP_MAGIC) or name.lower().endswith((".xlsx", ".xlsm"))


def inspect(stream: BinaryIO, name: str, *, encoding: str = "", delimiter: str = "") -> SourceInfo:
    """Look at the file: kind, encoding (detected; ``encoding`` overrides), separator
    (sniffed from the header line; ``delimiter`` overrides), header, samples and a row
    estimate. Raises FileProblem with one clear message. Leaves the stream at its start."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise FileProblem("The file is empty: it has no header row and no data.")
    if head.startswith(_OLE_MAGIC) or name.lower().endswith(".xls"):
        raise FileProblem(
            "This is an old Excel .xls workbook. Save it as .xlsx (Excel Workbook) or as "
            "CSV and upload it again."
        )
    if _is_xlsx(head, name):
        info = _inspect_xlsx(stream)
    else:
        info = _inspect_csv(stream, encoding, delimiter)
    stream.seek(0)
    return info


def read(stream: BinaryIO, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    """Yield (line, values) for each non-blank data row: values are stripped strings in
    header order; a row with another number of values than the header is yielded as it is
    (the caller refuses it). Line numbers are the file's (header = 1)."""
    stream.seek(0)
    if info.kind == "xlsx":
        yield from _read_xlsx(stream, info)
    else:
        yield from _read_csv(stream, info)


# --- CSV -------------------------------------------------------------------------------


def _detect_encoding(stream: BinaryIO) -> tuple[str, int]:
    """One pass over the bytes in chunks: UTF-8 if every byte sequence is valid UTF-8 (with
    a BOM: utf-8-sig), else Windows-1252 unless a byte undefined there is present (then
    Latin-1). Also counts the lines for the row estimate."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    undefined_cp1252 = False
    lines = 0
    last = b"\n"
    first = True
    bom = False
    while chunk := stream.read(_CHUNK):
        if first:
            bom = chunk.startswith(BOM)
            first = False
        lines += chunk.count(b"\n")
        last = chunk[-1:]
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
        if not utf8 and not undefined_cp1252:
            undefined_cp1252 = any(b in _UNDEFINED_IN_CP1252 for b in chunk)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if last != b"\n":
        lines += 1
    stream.seek(0)
    if utf8:
        return ("utf-8-sig" if bom else "utf-8"), lines
    return ("latin-1" if undefined_cp1252 else "cp1252"), lines


def _decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The file's physical lines, decoded one by one so that a byte the encoding cannot
    read is reported with the line it is on."""
    decoder = codecs.getincrementaldecoder(encoding)()
    for number, raw in enumerate(stream, start=1):
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError:
            raise _not_encoding(encoding, number) from None
        if NUL in text:
            raise nul_problem(number)
        yield text


def _sniff_delimiter(header_line: str) -> str:
    # The header of a PMS export has no quoted separators in practice; count outside quotes
    # anyway so that "Last, First" as a quoted header does not fool the count.
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _inspect_csv(stream: BinaryIO, encoding: str, delimiter: str) -> SourceInfo:
    detected, lines = _detect_encoding(stream)
    chosen = encoding or detected
    try:
        codecs.lookup(chosen)
    except LookupError:
        raise FileProblem(f"'{chosen}' is not a known text encoding.") from None
    if delimiter and delimiter not in DELIMITERS:
        names = ", ".join(repr(d) for d in DELIMITERS)
        raise FileProblem(f"The separator must be one of {names}.")
    first_line = next(_decoded_lines(stream, chosen), "")
    if chosen == "utf-8" and first_line.startswith("\ufeff"):
        chosen = "utf-8-sig"
    first_line = first_line.lstrip("\ufeff")
    if not first_line.strip():
        raise FileProblem("The file is empty: its first line (the header) is blank.")
    sep = delimiter or _sniff_delimiter(first_line.splitlines()[0])
    info = SourceInfo(
        kind="csv",
        encoding=chosen,
        encoding_detected=detected,
        delimiter=sep,
        header=[],
        row_estimate=max(0, lines - 1),
    )
    stream.seek(0)
    info.header = _csv_header(stream, info)
    stream.seek(0)
    _collect_samples(info, _read_csv(stream, info))
    return info


def _not_encoding(encoding: str, line: int) -> FileProblem:
    return FileProblem(
        f"Line {line} cannot be read as {encoding} text. Choose the file's encoding "
        "(e.g. Windows-1252) and upload it again, or save it as 'CSV UTF-8'."
    )


def _csv_rows(stream: BinaryIO, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_decoded_lines(stream, info.encoding), delimiter=info.delimiter)
    last_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileProblem(
                f"Line {reader.line_num} cannot be read as CSV ({exc}). Check its quotes."
            ) from None
        # A quoted value may span lines: a row is reported at the line it starts on.
        line, last_line = last_line + 1, reader.line_num
        if line == 1 and fields:
            fields[0] = fields[0].lstrip("\ufeff")
        yield line, fields


def _csv_header(stream: BinaryIO, info: SourceInfo) -> list[str]:
    for _line, fields in _csv_rows(stream, info):
        if not any(f.strip() for f in fields):
            raise FileProblem("The file is empty: its first line (the header) is blank.")
        return unique_header(fields)
    raise FileProblem("The file is empty: it has no header row and no data.")


def _read_csv(stream: BinaryIO, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    rows = _csv_rows(stream, info)
    if next(rows, None) is None:
        raise FileProblem("The file is empty: it has no header row and no data.")
    for line, fields in rows:
        if not any(f.strip() for f in fields):
            continue
        yield line, [f.strip() for f in fields]


# --- XLSX ------------------------------------------------------------------------------


def _open_workbook(stream: BinaryIO):
    from openpyxl import load_workbook  # imported here: only XLSX uploads need it

    try:
        return load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise FileProblem(
            f"The workbook cannot be read ({type(exc).__name__}). Save it again from the "
            "spreadsheet as .xlsx, or export it as CSV."
        ) from None
    except Exception as exc:  # openpyxl raises its own InvalidFileException and others
        raise FileProblem(
            f"The workbook cannot be read ({type(exc).__name__}). Save it again from the "
            "spreadsheet as .xlsx, or export it as CSV."
        ) from None


def cell_text(value) -> str:
    """A cell as the text a CSV export would hold: dates ISO, whole numbers without '.0'."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value).strip()


def _sheet_rows(workbook) -> Iterator[tuple[int, list[str]]]:
    if not workbook.worksheets:
        raise FileProblem("The workbook has no sheet.")
    sheet = workbook.worksheets[0]
    for line, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        values = [cell_text(v) for v in row]
        # A cell may spell a NUL as OOXML's escape _x0000_; PostgreSQL cannot store one.
        if any(NUL in v for v in values):
            raise nul_problem(line)
        yield line, values


def _xlsx_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    workbook = _open_workbook(stream)
    try:
        yield from _sheet_rows(workbook)
    finally:
        workbook.close()


def _inspect_xlsx(stream: BinaryIO) -> SourceInfo:
    # One opening of the workbook: each one parses its whole shared-strings table.
    workbook = _open_workbook(stream)
    try:
        rows = _sheet_rows(workbook)
        first = next(rows, None)
        if first is None or not any(first[1]):
            raise FileProblem("The first sheet of the workbook is empty: it has no header row.")
        header = unique_header(_trim(first[1]))
        estimate = max(0, (workbook.worksheets[0].max_row or 1) - 1)
        info = SourceInfo("xlsx", "", "", "", header, row_estimate=estimate)
        _collect_samples(info, _fit_rows(rows, len(header)))
    finally:
        workbook.close()
    return info


def _trim(values: list[str]) -> list[str]:
    # Formatting can stretch a sheet's rows with empty cells past the last real column.
    end = len(values)
    while end and not values[end - 1]:
        end -= 1
    return values[:end]


def _read_xlsx(stream: BinaryIO, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    rows = _xlsx_rows(stream)
    if next(rows, None) is None:
        raise FileProblem("The first sheet of the workbook is empty: it has no header row.")
    yield from _fit_rows(rows, len(info.header))


def _fit_rows(rows: Iterator[tuple[int, list[str]]], width: int) -> Iterator[tuple[int, list[str]]]:
    for line, values in rows:
        if not any(values):
            continue
        if len(values) > width:
            # Empty cells beyond the header are formatting, not data.
            values = values[:width] if not any(values[width:]) else _trim(values)
        elif len(values) < width:
            values = values + [""] * (width - len(values))
        yield line, values


def _collect_samples(info: SourceInfo, rows: Iterator[tuple[int, list[str]]]) -> None:
    samples: dict[str, list[str]] = {h: [] for h in info.header}
    seen = 0
    for _line, values in rows:
        seen += 1
        for name, value in zip(info.header, values, strict=False):
            if value and len(samples[name]) < SAMPLES and value not in samples[name]:
                samples[name].append(value)
        if seen >= SAMPLE_ROWS:
            break
    if hasattr(rows, "close"):
        rows.close()
    if not seen:
        raise FileProblem("The file has a header row but no data rows: there is nothing to import.")
    info.samples = samples
