"""Fast inserts of many rows of one model, without model instances.

``bulk_create`` builds a model instance per row and prepares every value of every row
through the field API; for the hundreds of thousands of referrals, patients and events of
a PMS history that was most of the import's time. Here each column that is the same for
every row (practice, user, timestamps, defaults) is prepared once through its field, and
only the few that vary are adapted per row by the backend. Columns come from the model, so
a field added later gets its default. Raw SQL sees no django-scopes scope: callers put the
practice's id in ``fixed``.
"""

from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models
from django.utils import timezone

from ..bulk_sql import backend_adapter, copy_rows


class RowInserter:
    def __init__(self, model: type[models.Model], varying: Sequence[str], fixed: dict):
        ops = connection.ops
        now = timezone.now()
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        names = {f.attname for f in self.fields}
        unknown = (set(varying) | set(fixed)) - names
        if unknown:
            raise ValueError(f"{model.__name__} has no column {sorted(unknown)}")
        self.varying = tuple(varying)
        # Backend adaptation of the varying values that need it (dates, times, decimals).
        self.adapters: list[tuple[int, Callable]] = []
        layout = []
        for f in self.fields:
            if f.attname in self.varying:
                index = self.varying.index(f.attname)
                layout.append((True, index))
                adapter = backend_adapter(f)
                if adapter is not None:
                    self.adapters.append((index, adapter))
                continue
            if f.attname in fixed:
                value = fixed[f.attname]
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = now
            else:
                value = f.get_default()
            layout.append((False, f.get_db_prep_save(value, connection)))
        self.layout = layout
        qn = ops.quote_name
        self.table = qn(model._meta.db_table)
        self.columns = ", ".join(qn(f.column) for f in self.fields)
        self.pk_column = qn(model._meta.pk.column)
        self.placeholders = f"({', '.join(['%s'] * len(self.fields))})"

    def row(self, *values) -> tuple:
        """One row's values in column order, given the varying ones in their order."""
        if self.adapters:
            values = list(values)
            for index, adapt in self.adapters:
                if values[index] is not None:
                    values[index] = adapt(values[index])
        return tuple(values[v] if is_varying else v for is_varying, v in self.layout)

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
        """Insert rows and return their ids, in the rows' order."""
        if not rows:
            return []
        if connection.vendor == "postgresql":
            # Take the ids from the table's sequence first, then COPY the rows with them:
            # a long multi-row INSERT is re-parsed by the driver on every call.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [self.model._meta.db_table, self.model._meta.pk.column, len(rows)],
                )
                ids = [pk for (pk,) in cursor.fetchall()]
                copy_rows(
                    cursor,
                    self.table,
                    f"{self.pk_column}, {self.columns}",
                    ((pk, *row) for pk, row in zip(ids, rows, strict=True)),
                )
            return ids
        ids = []
        max_params = connection.features.max_query_params or 999
        per_statement = max(1, min(500, max_params // len(self.fields)))
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
