"""The one bulk row writer: many rows of one tenant model, without model instances.

Used by the CSV import (referrals/importing/writing.py), the demo's referrals
(referrals/demo/writer.py) and the demo's letter history (communications/demo_letters.py);
it knows no app's models, so it sits at the ground layer where every app can import it.

``bulk_create`` builds a model instance per row and prepares every value of every row
through the field API, and it must insert a table before the rows that point at it can be
built (it returns the ids); for the hundreds of thousands of referrals, patients and events
of a PMS history or a benchmark demo that was most of the time. Here:

* a column that is the same for every row (practice, user, timestamps, defaults) is prepared
  once through its field; only the few that vary are adapted per row by the backend;
* ids can be reserved up front (:class:`IdBlock`), so rows that point at each other are plain
  tuples built in one pass, or returned by :meth:`RowWriter.insert_returning_ids`;
* rows go in with ``COPY`` on PostgreSQL (through a staging table: see :func:`copy_rows`)
  and ``executemany`` on SQLite.

Columns come from the model, so a field added later simply gets its default. Raw SQL sees
no django-scopes scope: callers put the practice's id among the fixed values, and
PostgreSQL's row-level security still checks every row.
"""

import operator
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models
from django.utils import timezone

from config.db.tenant_setting import sync_tenant_setting

# Reserved ids are fetched this many at a time on PostgreSQL.
ID_BLOCK = 5000
# Callable defaults that give the same stored value every time: prepared once, not per row.
CONSTANT_FACTORIES = (dict, list, tuple, str, int)


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


def _from_sequence(table: str, column: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


class IdBlock:
    """Primary keys for rows inserted with explicit ids, allocated the database's way.

    PostgreSQL: drawn from the table's own sequence (``nextval``), so concurrent inserts
    by anyone else stay safe. SQLite: the caller's transaction holds the database's only
    write lock from its first write to its commit, so nobody else can insert meanwhile and
    ids simply continue after the highest one ever used (AUTOINCREMENT keeps its high-water
    mark in ``sqlite_sequence``). Take ids inside that transaction, after a first write.
    """

    def __init__(self, model: type[models.Model]):
        self.model = model
        self.table = model._meta.db_table
        self.column = model._meta.pk.column
        self.free: list[int] = []
        self.next_id: int | None = None

    def take(self) -> int:
        if connection.vendor == "postgresql":
            if not self.free:
                self.free = _from_sequence(self.table, self.column, ID_BLOCK)[::-1]
            return self.free.pop()
        if self.next_id is None:
            self.next_id = self._after_highest()
        self.next_id += 1
        return self.next_id

    def _after_highest(self) -> int:
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX({qn(self.column)}), 0) FROM {qn(self.table)}")
            highest = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [self.table]
            )
            return max(highest, cursor.fetchone()[0])


def _per_row_default(field: models.Field) -> Callable[[], object]:
    """A fresh stored value of the field's default. PostgreSQL takes a uuid as it is: the
    field API's preparation of it was a third of the demo letters' row building."""
    if isinstance(field, models.UUIDField) and connection.features.has_native_uuid_field:
        return field.default
    return lambda: field.get_db_prep_save(field.get_default(), connection)


class RowWriter:
    """Rows of one model as tuples.

    ``RowWriter(Model, varying, fixed)``: ``varying`` names the fields (attnames, e.g.
    ``patient_id``) whose values differ per row, in the order :meth:`row` takes them;
    ``fixed`` the values shared by every row (always the practice). Every other field gets
    its default; ``auto_now``/``auto_now_add`` fields the time the writer was made; a field
    with a per-call default (a ``uuid4``) a fresh value per row. The primary key is a column
    only when given (an :class:`IdBlock` id among ``varying``); otherwise the database
    numbers the rows.
    """

    def __init__(self, model: type[models.Model], varying: Sequence[str], fixed: dict):
        now = timezone.now()
        self.model = model
        pk = model._meta.pk
        varying = tuple(varying)
        self.has_pk = pk.attname in varying or pk.attname in fixed
        fields = [f for f in model._meta.concrete_fields if f is not pk or self.has_pk]
        names = {f.attname for f in fields}
        unknown = (set(varying) | set(fixed)) - names
        if unknown:
            raise ValueError(f"{model.__name__} has no field(s) {sorted(unknown)}")
        constants: dict[str, object] = {}
        self.per_row: list[models.Field] = []
        for f in fields:
            if f.attname in varying:
                continue
            if f.attname in fixed:
                value = fixed[f.attname]
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            elif f.has_default() and callable(f.default) and f.default not in CONSTANT_FACTORIES:
                self.per_row.append(f)
                continue
            else:
                value = f.get_default()
            constants[f.attname] = f.get_db_prep_save(value, connection)
        # A row is picked, in column order, from (varying + constant + per-row values).
        order = [*varying, *constants, *(f.attname for f in self.per_row)]
        self.draws = [_per_row_default(f) for f in self.per_row]
        self.constants = tuple(constants.values())
        positions = [order.index(f.attname) for f in fields]
        pick = operator.itemgetter(*positions)
        self.pick = pick if len(positions) > 1 else lambda values: (pick(values),)
        by_name = {f.attname: f for f in fields}
        self.adapters = [
            (i, adapter)
            for i, name in enumerate(varying)
            if (adapter := backend_adapter(by_name[name])) is not None
        ]
        qn = connection.ops.quote_name
        self.table = qn(model._meta.db_table)
        self.columns = ", ".join(qn(f.column) for f in fields)
        self.pk_column = qn(pk.column)
        self.placeholders = f"({', '.join(['%s'] * len(fields))})"
        self.width = len(fields)

    def row(self, values: tuple) -> tuple:
        """One row's values in column order, given the varying ones (Python objects, a
        tuple) in their order. Called once per row of a big import: kept lean."""
        if self.adapters:
            values = list(values)
            for i, adapt in self.adapters:
                if values[i] is not None:
                    values[i] = adapt(values[i])
            values = tuple(values)
        values += self.constants
        if self.per_row:
            values += tuple(draw() for draw in self.draws)
        return self.pick(values)

    def insert(self, rows: Iterable[tuple]) -> None:
        """Insert rows whose ids nobody needs back (PostgreSQL: COPY, one stream)."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                copy_rows(cursor, self.table, self.columns, rows)
            else:
                cursor.executemany(
                    f"INSERT INTO {self.table} ({self.columns}) VALUES {self.placeholders}",
                    list(rows),
                )

    def insert_returning_ids(self, rows: list[tuple]) -> list[int]:
        """Insert rows and return their ids, in the rows' order (the database numbers them:
        a writer made without the primary key among its fields)."""
        if self.has_pk:
            raise ValueError("These rows carry their own ids: use insert().")
        if not rows:
            return []
        if connection.vendor == "postgresql":
            # Take the ids from the table's sequence first, then COPY the rows with them:
            # a long multi-row INSERT is re-parsed by the driver on every call.
            meta = self.model._meta
            ids = _from_sequence(meta.db_table, meta.pk.column, len(rows))
            with connection.cursor() as cursor:
                copy_rows(
                    cursor,
                    self.table,
                    f"{self.pk_column}, {self.columns}",
                    ((pk, *row) for pk, row in zip(ids, rows, strict=True)),
                )
            return ids
        ids = []
        max_params = connection.features.max_query_params or 999
        per_statement = max(1, min(500, max_params // self.width))
        with connection.cursor() as cursor:
            if not connection.features.can_return_rows_from_bulk_insert:
                for row in rows:  # SQLite before 3.35: no RETURNING
                    cursor.execute(
                        f"INSERT INTO {self.table} ({self.columns}) VALUES {self.placeholders}",
                        row,
                    )
                    ids.append(cursor.lastrowid)
                return ids
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                values = ", ".join([self.placeholders] * len(chunk))
                # As bulk_create relies on too: RETURNING lists the rows in VALUES order.
                cursor.execute(
                    f"INSERT INTO {self.table} ({self.columns}) VALUES {values} "
                    f"RETURNING {self.pk_column}",
                    [value for row in chunk for value in row],
                )
                ids.extend(pk for (pk,) in cursor.fetchall())
        return ids
