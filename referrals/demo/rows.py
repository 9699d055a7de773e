"""Fast bulk inserts for the demo's big tables: patients, referrals and milestone events.

``bulk_create`` builds a model instance per row and prepares every value of every row
through the field API, and it must insert a table before the rows that point at it can
be built (it returns the ids). At benchmark sizes (millions of events) that is most of
the seeding time. Here:

* ids are reserved up front (:class:`IdBlock`), so patients, referrals and events are
  plain tuples, built in one pass and written table by table;
* a column that is the same for every row (practice, timestamps, defaults) is prepared
  once through its field; the varying ones are adapted by the backend directly;
* rows go in with ``COPY`` on PostgreSQL and ``executemany`` on SQLite.

Columns come from the model, so a field added later simply gets its default. Raw SQL sees
no django-scopes scope: every row carries its practice id explicitly.
"""

import operator
from collections.abc import Iterable, Sequence

from django.db import connection, models

from ..bulk_sql import backend_adapter, copy_rows

# Reserved ids are fetched this many at a time on PostgreSQL.
ID_BLOCK = 5000


class IdBlock:
    """Primary keys for rows inserted with explicit ids, allocated the database's way.

    PostgreSQL: drawn from the table's own sequence (``nextval``), so concurrent inserts
    by anyone else stay safe. SQLite: the seeding transaction holds the database's only
    write lock from its first write (the practice row) to its commit, so nobody else can
    insert meanwhile and ids simply continue after the highest one ever used
    (AUTOINCREMENT keeps its high-water mark in ``sqlite_sequence``).
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
                self.free = self._from_sequence(ID_BLOCK)[::-1]
            return self.free.pop()
        if self.next_id is None:
            self.next_id = self._after_highest()
        self.next_id += 1
        return self.next_id

    def _from_sequence(self, count: int) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [self.table, self.column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())

    def _after_highest(self) -> int:
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX({qn(self.column)}), 0) FROM {qn(self.table)}")
            highest = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [self.table]
            )
            return max(highest, cursor.fetchone()[0])


class RowWriter:
    """Rows of one model as tuples: ``row(values)`` takes the ``varying`` fields' values
    (Python objects, in that order) and returns the full row; ``insert(rows)`` writes."""

    def __init__(self, model: type[models.Model], varying: Sequence[str], constants: dict):
        self.model = model
        pk = model._meta.pk.attname
        # Without an id among the values, the database numbers the rows itself.
        fields = [
            f
            for f in model._meta.concrete_fields
            if f.attname != pk or pk in varying or pk in constants
        ]
        names = {f.attname for f in fields}
        unknown = (set(varying) | set(constants)) - names
        if unknown:
            raise ValueError(f"{model.__name__} has no field(s) {sorted(unknown)}")
        fixed = {}
        for f in fields:
            if f.attname in varying:
                continue
            value = constants[f.attname] if f.attname in constants else f.get_default()
            fixed[f.attname] = f.get_db_prep_save(value, connection)
        # A row is picked, in column order, from (varying values + fixed values).
        fixed_names = list(fixed)
        self.fixed = tuple(fixed.values())
        self.pick = operator.itemgetter(
            *(
                varying.index(f.attname)
                if f.attname in varying
                else len(varying) + fixed_names.index(f.attname)
                for f in fields
            )
        )
        by_name = {f.attname: f for f in fields}
        self.adapters = [
            (i, adapter)
            for i, name in enumerate(varying)
            if (adapter := backend_adapter(by_name[name])) is not None
        ]
        qn = connection.ops.quote_name
        table = qn(model._meta.db_table)
        columns = ", ".join(qn(f.column) for f in fields)
        params = ", ".join(["%s"] * len(fields))
        self.insert_sql = f"INSERT INTO {table} ({columns}) VALUES ({params})"
        self.table, self.columns = table, columns

    def row(self, values: Sequence) -> tuple:
        if self.adapters:
            values = list(values)
            for i, adapt in self.adapters:
                if values[i] is not None:
                    values[i] = adapt(values[i])
            values = tuple(values)
        return self.pick(values + self.fixed)

    def insert(self, rows: Iterable[tuple]) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY is PostgreSQL's bulk path: one stream instead of a statement per row.
                copy_rows(cursor, self.table, self.columns, rows)
            else:
                cursor.executemany(self.insert_sql, list(rows))
