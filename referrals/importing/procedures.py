"""Procedure-level exports (one row per procedure) grouped into one canonical row per case.

A case is the rows of one patient (chart number) and one referral date. The rules are written
in docs/imports.md ("Procedure-level exports"). Memory is O(cases): each case keeps its first
row's case columns and a few aggregates, never its procedure rows."""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from . import cdt
from .reading import RawRow
from .vocabulary import COLUMNS, ProcedureStatus

CASE_COLUMNS = (*COLUMNS, "provider_npi", "office_external_id")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY_NOISE = re.compile(r"[$,\s]")


@dataclass(slots=True)
class ProcedureRow:
    line: int
    values: dict[str, str]


class _Case:
    __slots__ = (
        "line",
        "values",
        "consult",
        "surgery",
        "fees",
        "bad_fee",
        "bad_date",
        "main_done",
        "main_planned",
    )

    def __init__(self, line: int, values: dict[str, str]):
        self.line = line
        self.values = {c: values.get(c, "") for c in CASE_COLUMNS}
        self.consult = ""  # earliest evaluation date
        self.surgery = ""  # earliest completed surgical date
        self.fees = Decimal(0)  # completed fees
        self.bad_fee = ""  # the first completed fee that does not read as money
        self.bad_date = ""  # the first unreadable date of a code that counts
        # The main surgical code: (fee, date, case type), highest fee then earliest date.
        self.main_done: tuple[Decimal, str, str] | None = None
        self.main_planned: tuple[Decimal, str, str] | None = None


def _fee(text: str) -> Decimal | None:
    """'$1,234.50' -> 1234.50; '' -> 0; None when it is not money."""
    text = _MONEY_NOISE.sub("", text)
    if not text:
        return Decimal(0)
    if text.startswith("(") and text.endswith(")"):  # accounting negative
        text = "-" + text[1:-1]
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _better(current, candidate) -> bool:
    if current is None:
        return True
    if candidate[0] != current[0]:
        return candidate[0] > current[0]
    return candidate[1] < current[1]  # ties -> earliest


def group(rows: Iterable[ProcedureRow], ranges=cdt.DEFAULT_RANGES) -> Iterator[RawRow]:
    """One RawRow per (chart number, referral date), in the order of each case's first line,
    with line = that first line."""
    cases: dict[tuple, _Case] = {}
    types: dict[str, str | None] = {}  # code -> case type, asked once per distinct code
    for row in rows:
        v = row.values
        chart = v.get("chart_number", "")
        # A row without a chart number cannot be grouped: it stays alone, for the parser to
        # refuse with its own line.
        key = (chart, v.get("referral_date", "")) if chart else ("", row.line)
        case = cases.get(key)
        if case is None:
            case = cases[key] = _Case(row.line, v)
        elif not case.values["case_type"] and v.get("case_type"):
            case.values["case_type"] = v["case_type"]
        status = v.get("procedure_status", "")
        code = v.get("procedure_code", "")
        if status == ProcedureStatus.DELETED or not code:
            continue
        code = cdt.normalise_code(code)
        date = v.get("procedure_date", "")
        # An export without a status column lists what was done.
        done = status in (ProcedureStatus.COMPLETE, "")
        if code in cdt.EVALUATION_CODES:
            case_type = None
        else:
            if code not in types:
                types[code] = cdt.case_type_for(code, ranges)
            case_type = types[code]
            if case_type is None and not done:
                continue
        if date and not _ISO.match(date):
            if not case.bad_date and (case_type or code in cdt.EVALUATION_CODES):
                case.bad_date = date
            date = ""
        elif date and date < case.values["referral_date"]:
            # Care from before this referral (an earlier episode) is not this case's.
            continue
        if done:
            fee = _fee(v.get("procedure_fee", ""))
            if fee is None:
                case.bad_fee = case.bad_fee or v["procedure_fee"]
                fee = Decimal(0)
            case.fees += fee
        else:
            fee = _fee(v.get("procedure_fee", "")) or Decimal(0)
        if code in cdt.EVALUATION_CODES:
            if date and (not case.consult or date < case.consult):
                case.consult = date
        elif case_type is not None and date:
            main = (fee, date, case_type)
            if done:
                if not case.surgery or date < case.surgery:
                    case.surgery = date
                if _better(case.main_done, main):
                    case.main_done = main
            elif _better(case.main_planned, main):
                case.main_planned = main
    for case in cases.values():
        yield RawRow(case.line, _case_values(case), len(CASE_COLUMNS))


def _case_values(case: _Case) -> dict[str, str]:
    v = case.values
    if case.bad_date:
        # Unreadable: given to the parser as the consult date so it refuses the case naming
        # the line and the procedure date column.
        v["consult_date"] = case.bad_date
    elif case.consult:
        v["consult_date"] = case.consult
    if case.surgery:
        v["surgery_date"] = case.surgery
        # No evaluation, or only a post-operative one: the consult was at the latest that day.
        if not v["consult_date"] or (not case.bad_date and v["consult_date"] > case.surgery):
            v["consult_date"] = case.surgery
        v["decision"] = "accepted"
        v["decision_date"] = case.surgery
        v["production"] = case.bad_fee or f"{case.fees:.2f}"
    if not v["case_type"]:
        main = case.main_done or case.main_planned
        v["case_type"] = main[2] if main else "other"
    return v
