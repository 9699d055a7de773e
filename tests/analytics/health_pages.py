"""Practices with referral history and computed health, for the referrer-health page tests."""

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from analytics.nightly import recompute
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

from .history import add_monthly, add_referrals, month_list

AS_OF = dt.date(2026, 11, 26)
# Noon on AS_OF in the practices' time zone: "today" for the pages.
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("America/New_York"))


def the_articles_practice(practice) -> dict:
    """The seed article's example: three offices that sent 6 a month drop to 2 a month for
    8 months ($57,600 each at $1,800 a case), one steady office, one never referred.
    Computed as of AS_OF. Returns the offices by name."""
    months = month_list(dt.date(2024, 11, 1), 24)  # Nov 2024 .. Oct 2026
    with practice_scope(practice):
        offices = {
            name: OfficeFactory(practice=practice, name=name)
            for name in ["Birch Dental", "Cedar Dental", "Elm Dental", "Steady Smiles", "Prospect"]
        }
        for name in ["Birch Dental", "Cedar Dental", "Elm Dental"]:
            add_monthly(offices[name], months, [6] * 16 + [2] * 8)
        add_monthly(offices["Steady Smiles"], months, [5] * 24)
        for name in ["Birch Dental", "Cedar Dental", "Elm Dental", "Steady Smiles"]:
            add_referrals(offices[name], [dt.date(2026, 11, 10)])
        recompute(practice, AS_OF)
    return offices


def practice_with_history(
    practice, *, offices: int, years: int, runs: int = 1, prefix: str = "Office"
) -> list:
    """``offices`` more offices referring 3 a month for ``years`` years before AS_OF (the
    first of them declining), then the health computed on ``runs`` nights ending AS_OF."""
    months = month_list(AS_OF.replace(day=1) - relativedelta(months=12 * years), 12 * years)
    with practice_scope(practice):
        made = [OfficeFactory(practice=practice, name=f"{prefix} {i:03d}") for i in range(offices)]
        for i, office in enumerate(made):
            counts = [3] * len(months)
            if i == 0:
                counts = [9] * (len(months) - 6) + [1] * 6
            add_monthly(office, months, counts)
            add_referrals(office, [AS_OF - dt.timedelta(days=3)])
        compute_nights(practice, runs)
    return made


def add_earlier_years(practice, offices: list, *, years: int, before_years: int) -> None:
    """``years`` more years of 3 referrals a month, before the ``before_years`` years the
    offices already have."""
    first = AS_OF.replace(day=1) - relativedelta(months=12 * (before_years + years))
    months = month_list(first, 12 * years)
    with practice_scope(practice):
        for office in offices:
            add_monthly(office, months, [3] * len(months))


def compute_nights(practice, runs: int) -> None:
    with practice_scope(practice):
        for night in range(runs - 1, -1, -1):
            recompute(practice, AS_OF - dt.timedelta(days=night))
