"""What the fast raw inserts of the CSV import (importing/inserts.py) and of seed_demo
(demo/rows.py) share: how the backend wants a value that varies per row, and COPY into a
table with row-level security."""

from collections.abc import Callable, Iterable

from django.db import connection, models

from config.db.tenant_setting import sync_tenant_setting


def backend_adapter(field: models.Field) -> Callable | None:
    """How the backend wants a varying value of this field (None: as it is)."""
    ops = connection.ops
    # DateTimeField is a DateField: test it first.
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        digits, places = field.max_digits, field.decimal_places
        return lambda value: ops.adapt_decimalfield_value(value, digits, places)
    return None


def copy_rows(cursor, table: str, columns: str, rows: Iterable[tuple]) -> None:
    """COPY ``rows`` into ``table`` (PostgreSQL; names already quoted) under row-level security.

    PostgreSQL refuses ``COPY ... FROM`` into a table with row-level security, so the rows
    stream into a temporary table of the same columns (no policy: it lives and dies in this
    session) and move with one ``INSERT ... SELECT``, whose rows the table's policy checks
    like any INSERT: a row of another practice is refused. psycopg's COPY bypasses Django's
    cursor wrappers, so the connection is bound to the current practice first.
    """
    sync_tenant_setting(connection)
    stage = "bulk_stage"
    # Two statements per round trip (psycopg's client-side cursor sends them as one query).
    cursor.execute(
        f"DROP TABLE IF EXISTS pg_temp.{stage}; "
        f"CREATE TEMP TABLE {stage} AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}; DROP TABLE {stage}"
    )
