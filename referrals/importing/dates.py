"""Dates as exports write them: ISO, US (MM/DD/YYYY, M/D/YY), day-first when the file
proves it, and Excel serial numbers (a date cell exported as its number).

``detect`` looks at a sample of a column; ``to_iso`` turns one value into YYYY-MM-DD, the
form the row parser reads. Two-digit years pivot on the current year: 00 up to this year's
two digits are 20xx, the rest 19xx (a birth date of '58' is 1958, a referral of '21' 2021).
"""

import datetime as dt
import re
from collections.abc import Iterable

from django.db import models

DETECT_SAMPLES = 200
UNKNOWN = "unknown"
# Placeholders some PMS write for "no date of birth".
_UNKNOWN_DATES = frozenset({"0001-01-01", "01/01/0001", "1/1/0001", "0000-00-00"})
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_SLASHED = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$"
)
_SERIAL = re.compile(r"^\d{1,5}(?:\.\d+)?$")
# Excel's day 0 is 1899-12-30 once its 1900 leap-year bug is accounted for.
_EXCEL_EPOCH = dt.date(1899, 12, 30)
SERIAL_MIN, SERIAL_MAX = 1, 80000


class DateFormat(models.TextChoices):
    ISO = "iso", "YYYY-MM-DD"
    MDY = "mdy", "MM/DD/YYYY (or M/D/YY)"
    DMY = "dmy", "DD/MM/YYYY"
    EXCEL = "excel", "Excel serial numbers"


# How a date in each format is described in an error message.
EXPECTED = {
    DateFormat.ISO: "YYYY-MM-DD",
    DateFormat.MDY: "MM/DD/YYYY",
    DateFormat.DMY: "DD/MM/YYYY",
    DateFormat.EXCEL: "an Excel date number",
}


def _year(text: str) -> int:
    if len(text) == 4:
        return int(text)
    pivot = dt.date.today().year % 100
    two = int(text)
    return 2000 + two if two <= pivot else 1900 + two


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def to_iso(value: str, fmt: DateFormat | str) -> str | None:
    """'' -> ''; a placeholder for no date -> 'unknown'; a date in ``fmt`` -> YYYY-MM-DD;
    anything else -> None. An ISO value is read as ISO whatever the format (XLSX cells
    that were real dates arrive ISO)."""
    value = value.strip()
    if not value:
        return ""
    if value in _UNKNOWN_DATES:
        return UNKNOWN
    iso = _ISO.match(value)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]))
    if fmt in (DateFormat.MDY, DateFormat.DMY):
        slashed = _SLASHED.match(value)
        if not slashed:
            return None
        first, second, year = int(slashed[1]), int(slashed[2]), _year(slashed[3])
        if fmt == DateFormat.MDY:
            return _date(year, first, second)
        return _date(year, second, first)
    if fmt == DateFormat.EXCEL and _SERIAL.match(value):
        serial = float(value)
        if not SERIAL_MIN <= serial <= SERIAL_MAX:
            return None
        return (_EXCEL_EPOCH + dt.timedelta(days=int(serial))).isoformat()
    return None


def detect(values: Iterable[str]) -> tuple[DateFormat | None, bool]:
    """The format of a column's dates from up to 200 non-empty values, and whether it is
    ambiguous (slashed dates that read as month-first and day-first alike: MDY is chosen,
    the US convention, and the user should confirm). None when no format fits most values."""
    iso = slashed = serial = total = 0
    day_first_proof = month_first_proof = False
    for value in values:
        value = value.strip()
        if not value or value in _UNKNOWN_DATES:
            continue
        total += 1
        if _ISO.match(value):
            iso += 1
        elif match := _SLASHED.match(value):
            slashed += 1
            first, second = int(match[1]), int(match[2])
            if first > 12:
                day_first_proof = True
            if second > 12:
                month_first_proof = True
        elif _SERIAL.match(value) and SERIAL_MIN <= float(value) <= SERIAL_MAX:
            serial += 1
        if total >= DETECT_SAMPLES:
            break
    if not total:
        return None, False
    best = max(iso, slashed, serial)
    if best * 2 < total:
        return None, False
    if best == iso:
        return DateFormat.ISO, False
    if best == slashed:
        if day_first_proof and not month_first_proof:
            return DateFormat.DMY, False
        return DateFormat.MDY, not month_first_proof
    return DateFormat.EXCEL, False
