"""Shared pieces of the property tests (hypothesis): what people type or upload, a
snapshot of every tenant table, and a savepoint per example.

The profile (how many examples, derandomized for CI) is chosen in tests/conftest.py;
docs/testing.md says how to run them longer.
"""

import datetime as dt
from contextlib import contextmanager

from django.db import connection, transaction
from django_scopes import scopes_disabled
from hypothesis import strategies as st

from config.db.rls import tenant_tables

AUDIT_TABLE = "practices_auditentry"

# --- strategies --------------------------------------------------------------------------

# Any text a browser can send: every Unicode category but lone surrogates (a browser cannot
# encode them), so NUL, other control characters, right-to-left marks and emoji are in.
any_char = st.characters(exclude_categories=("Cs",))
unicode_text = st.text(any_char, max_size=40)
# The 40-character cap keeps examples small; these reach past every column's limit.
huge_text = st.sampled_from([301, 1001, 5000]).flatmap(
    lambda n: st.sampled_from(["x", "é", "😀", "\x00", " "]).map(lambda c: c * n)
)
awkward_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u200f\u202e",
        '=HYPERLINK("http://x","y")',
        "'; DROP TABLE referrals_referral; --",
        "<script>alert(1)</script>",
        "O'Brien-Łukasz",
        "\r\n",
        "\t",
        "９９",
    ]
)


def text_like(*valid: str) -> st.SearchStrategy[str]:
    """Mostly a valid value (so the tests reach past the first check), else anything."""
    strategies = [unicode_text, awkward_text, huge_text]
    if valid:
        strategies.insert(0, st.sampled_from(valid))
    return st.one_of(*strategies)


# Dates as people type them, and the odd ones: impossible days, year 1 and 9999, two-digit
# years, no separators, full-width digits.
odd_date_text = st.sampled_from(
    [
        "02/30/2020",
        "13/01/2020",
        "00/00/0000",
        "01/01/0001",
        "12/31/9999",
        "9999-12-31",
        "0001-01-01",
        "2020-02-29",
        "2021-02-29",
        "02/29/24",
        "02/29/68",
        "1/1/1",
        "01011900",
        "99999999",
        "-1",
        "2020-1-1",
        "２０２０-０１-０１",
        "01/01/10000",
        "1e10",
        "today",
    ]
)


def date_text(formats: tuple[str, ...] = ("%m/%d/%Y", "%Y-%m-%d")) -> st.SearchStrategy[str]:
    real = st.tuples(
        st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
        st.sampled_from(formats),
    ).map(lambda pair: pair[0].strftime(pair[1]) if pair[0].year >= 1000 else pair[0].isoformat())
    recent = st.tuples(
        st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2025, 1, 1)),
        st.sampled_from(formats),
    ).map(lambda pair: pair[0].strftime(pair[1]))
    return st.one_of(recent, real, odd_date_text, unicode_text)


# --- the database --------------------------------------------------------------------------


def snapshot(*, exclude: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """(row count, digest of every row's text) of every tenant table, across practices.
    Equal snapshots: not one row added, changed or removed."""
    result = {}
    with scopes_disabled(), connection.cursor() as cursor:
        for table in sorted(tenant_tables()):
            if table in exclude:
                continue
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                f' FROM "{table}" t'
            )
            result[table] = cursor.fetchone()
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(table for table in before if before[table] != after[table])


@contextmanager
def rolled_back():
    """One hypothesis example in a savepoint that is rolled back afterwards: each example
    starts from the same rows, whatever the one before wrote."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
