"""CSV files that stay data when a spreadsheet opens them; every CSV the product writes goes
through here (reports, the audit log, an import's errors).

**Formulas.** A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return
or a NUL is a formula, or may become one, to Excel, LibreOffice and Google Sheets (CSV
injection): an office named ``=HYPERLINK("http://evil", "click")`` or a user agent
``@SUM(...)`` would run when an administrator opens the file. As OWASP recommends, such a
cell gets a leading single quote, which makes the spreadsheet read it as text. The csv
module quotes any cell holding a comma, a quote or a line break and doubles its quotes, so
a value cannot close its cell and start a new one with a formula either.

**Numbers.** Every cell is written by its type. Text (anything that is not a number) is
always neutralised, even when it looks like a number (``"-5"`` typed as a chart number stays
the text ``-5``). Numbers the product computed (``int``, ``Decimal``, ``float``) are written
as plain numbers and never prefixed: a negative count or a drop in revenue (``-1800.00``)
must stay a number the spreadsheet can add up, and a number cannot carry a formula. This
is OWASP's own distinction: escape what a user typed, not what is a number.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import HttpResponse, StreamingHttpResponse

# OWASP's list, and NUL from OWASP ASVS (V1.2.10).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def safe_cell(value: object) -> str:
    """``value`` as CSV text, with a would-be formula neutralised."""
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def cell(value: object) -> str:
    """A CSV cell written by the value's type: numbers as numbers, yes/no for booleans,
    ISO dates, and everything else as neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return safe_cell(value)


class _Echo:
    """A file-like object whose write() hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        yield writer.writerow([cell(v) for v in row])


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[object]]
) -> HttpResponse:
    """A small CSV download built in memory (a few hundred rows at most)."""
    response = HttpResponse(
        "".join(csv_lines(header, rows)).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def streaming_csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[object]]
) -> StreamingHttpResponse:
    """A download of ``rows`` written as they are produced: memory stays flat however many
    rows there are (``rows`` may be a generator over a database cursor)."""
    response = StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(header, rows)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
