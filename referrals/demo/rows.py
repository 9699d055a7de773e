"""A fast bulk insert for the demo's milestone events (most of its rows).

``bulk_create`` builds a model instance and prepares every value of every row through the
field API; for the ~7 events of each referral that is most of the seeding time (and on
SQLite Django caps a statement at 999 parameters). Here each column that is the same for
every row (practice, timestamps, defaults) is prepared once through its field, the few
that vary are adapted by the backend directly, and the rows go in with ``executemany``.
Columns come from the model, so a field added later gets its default.
"""

import operator

from django.db import connection

from ..models import MilestoneEvent

# Filled per row; every other concrete column takes one prepared value for all rows.
VARYING = (
    "referral_id",
    "kind",
    "occurred_at",
    "scheduled_for",
    "recorded_by_id",
    "note",
    "findings",
    "recommendation",
    "procedure",
    "reason",
    "production",
)


class EventInserter:
    def __init__(self, practice_id: int, now):
        fields = [f for f in MilestoneEvent._meta.concrete_fields if not f.primary_key]
        constants = {}
        for f in fields:
            if f.attname in VARYING:
                continue
            if f.attname == "practice_id":
                value = practice_id
            elif f.attname in ("created_at", "updated_at"):
                value = now
            else:
                value = f.get_default()
            constants[f.attname] = f.get_db_prep_save(value, connection)
        # A row is picked, in column order, from (varying values + constants).
        constant_names = list(constants)
        self.constants = tuple(constants.values())
        self.pick = operator.itemgetter(
            *(
                VARYING.index(f.attname)
                if f.attname in VARYING
                else len(VARYING) + constant_names.index(f.attname)
                for f in fields
            )
        )
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        params = ", ".join(["%s"] * len(fields))
        table = qn(MilestoneEvent._meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({params})"
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        self.adapt_datetime = connection.ops.adapt_datetimefield_value
        self.adapt_decimal = connection.ops.adapt_decimalfield_value

    def row(self, referral_id, recorded_by_id, event) -> tuple:
        """One event's values in column order (``event`` is a journeys.EventPlan)."""
        varying = (
            referral_id,
            event.kind,
            self.adapt_datetime(event.occurred_at),
            self.adapt_datetime(event.scheduled_for),
            recorded_by_id,
            event.note,
            event.findings,
            event.recommendation,
            event.procedure,
            event.reason,
            None if event.production is None else self.adapt_decimal(event.production, 10, 2),
        )
        return self.pick(varying + self.constants)

    def insert(self, rows: list[tuple]) -> None:
        # Raw SQL sees no django-scopes scope: every row carries this practice's id above.
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY is PostgreSQL's bulk path: one stream instead of a statement per row.
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)
