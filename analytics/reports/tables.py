"""A report table as data: columns with a kind, rows of raw values. The page and the PDF
render the same Table with one template; the front desk gets it without money columns.

Values stay raw (int, Decimal, float, None) until shown, so tests assert on numbers and
the CSV writes plain decimals.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.humanize.templatetags.humanize import intcomma


class Kind:
    TEXT = "text"
    INT = "int"
    MONEY = "money"
    RATE = "rate"  # a share 0..1, shown as a percentage
    CHANGE = "change"  # a relative change in percent, shown with its sign
    DATE = "date"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = Kind.INT
    title: str = ""  # a tooltip / footnote marker, e.g. "Nov–Dec 2025 only"
    group: str = ""  # a heading spanning consecutive columns with the same group

    @property
    def numeric(self) -> bool:
        return self.kind not in (Kind.TEXT, Kind.DATE)


@dataclass
class Row:
    cells: list
    style: str = ""  # "", "total", "subtotal", "detail"


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[Row]
    totals: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty: str = "No referrals match these filters."
    testid: str = ""

    def without_money(self) -> "Table":
        keep = [i for i, c in enumerate(self.columns) if c.kind != Kind.MONEY]
        if len(keep) == len(self.columns):
            return self

        def pick(rows: list[Row]) -> list[Row]:
            return [Row([r.cells[i] for i in keep], r.style) for r in rows]

        return replace(
            self,
            columns=[self.columns[i] for i in keep],
            rows=pick(self.rows),
            totals=pick(self.totals),
        )

    @property
    def groups(self) -> list[tuple[str, int]]:
        """(heading, span) over the columns, when any column has a group."""
        if not any(c.group for c in self.columns):
            return []
        spans: list[tuple[str, int]] = []
        for column in self.columns:
            if spans and spans[-1][0] == column.group and column.group:
                spans[-1] = (column.group, spans[-1][1] + 1)
            else:
                spans.append((column.group, 1))
        return spans

    def shown(self, rows: Sequence[Row]) -> list[dict]:
        return [
            {
                "style": row.style,
                "cells": [
                    {
                        "text": show(value, column.kind),
                        "numeric": column.numeric,
                        "kind": column.kind,
                    }
                    for value, column in zip(row.cells, self.columns, strict=True)
                ],
            }
            for row in rows
        ]

    @property
    def body(self) -> list[dict]:
        return self.shown(self.rows)

    @property
    def foot(self) -> list[dict]:
        return self.shown(self.totals)

    @property
    def wide(self) -> bool:
        return len(self.columns) > 8

    @property
    def compact(self) -> bool:
        """A few columns of figures: as wide as they need, not the whole page."""
        return len(self.columns) <= 4 and all(c.kind != Kind.TEXT for c in self.columns[1:])

    @property
    def keep_together(self) -> bool:
        """Short tables stay on one page in a PDF."""
        return len(self.rows) + len(self.totals) <= 16


def show(value, kind: str) -> str:
    """A value as a person reads it."""
    if value is None or value == "":
        return "" if kind in (Kind.TEXT, Kind.DATE) else "—"
    if kind == Kind.INT:
        return intcomma(int(value))
    if kind == Kind.MONEY:
        amount = Decimal(value).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        return f"${intcomma(int(amount))}"
    if kind == Kind.RATE:
        return f"{float(value) * 100:.0f}%"
    if kind == Kind.DATE:
        return f"{value:%b} {value.day}, {value.year}"
    if kind == Kind.CHANGE:
        rounded = round(float(value))
        return f"{rounded:+d}%" if rounded else "0%"
    return str(value)


def change(now: int, before: int) -> float | None:
    """Relative change in percent; None when there is nothing to compare with."""
    if not before:
        return None
    return (now - before) * 100 / before
