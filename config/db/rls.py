"""Row-level security on tenant tables: migration operations and the list of tenant tables.

Each tenant table gets one policy, ``tenant_isolation``, for every command, that lets a
row be read or written only when its practice column equals the connection's
``app.practice_id`` or when the connection is explicitly cross-tenant
(``app.cross_tenant = on``). Both settings follow the django-scopes scope
(config/db/tenant_setting.py, config/db/postgresql/base.py). ``FORCE`` binds the table's
owner too: the application connects as the role that owns the tables (one non-superuser
role, docs/security.md "Row-level security").

A row whose practice column is NULL (the audit log's account events of unknown addresses)
matches no practice: it can be read and written only cross-tenant.

New tenant tables get one line in their app's migration::

    EnableRowLevelSecurity("referrals_newthing")

tests/security/test_rls.py fails for a model with a practice column but no policy.
"""

from django.apps import apps as global_apps
from django.db import migrations

POLICY = "tenant_isolation"


def policy_expression(column: str) -> str:
    return (
        f"({column} = NULLIF(current_setting('app.practice_id', true), '')::bigint"
        " OR current_setting('app.cross_tenant', true) = 'on')"
    )


class EnableRowLevelSecurity(migrations.operations.base.Operation):
    """ENABLE + FORCE row-level security on ``table`` with the tenant policy on ``column``.

    PostgreSQL only: SQLite has no row-level security (the operation does nothing there).
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str, column: str = "practice_id"):
        self.table = table
        self.column = column

    def state_forwards(self, app_label, state):
        pass  # no model state: the policy lives only in the database

    def _enabled(self, schema_editor) -> bool:
        return schema_editor.connection.vendor == "postgresql"

    def forward_sql(self, quote) -> list[str]:
        table, column = quote(self.table), quote(self.column)
        check = policy_expression(column)
        return [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"CREATE POLICY {POLICY} ON {table} USING {check} WITH CHECK {check}",
        ]

    def backward_sql(self, quote) -> list[str]:
        table = quote(self.table)
        return [
            f"DROP POLICY IF EXISTS {POLICY} ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if self._enabled(schema_editor):
            for sql in self.forward_sql(schema_editor.quote_name):
                schema_editor.execute(sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if self._enabled(schema_editor):
            for sql in self.backward_sql(schema_editor.quote_name):
                schema_editor.execute(sql)

    def describe(self) -> str:
        return f"Enable row-level security on {self.table} ({self.column})"

    @property
    def migration_name_fragment(self) -> str:
        return f"rls_{self.table}"

    def deconstruct(self):
        kwargs = {"table": self.table}
        if self.column != "practice_id":
            kwargs["column"] = self.column
        return (self.__class__.__qualname__, [], kwargs)


def tenant_tables(apps=global_apps) -> dict[str, str]:
    """{table: practice column} of every concrete model that belongs to a practice: a
    ``practice`` foreign key (or one-to-one, e.g. PracticeSettings keyed by its practice)
    to practices.Practice. Found by introspection, so a new tenant model cannot be missed
    by a hand-kept list."""
    practice_model = apps.get_model("practices", "Practice")
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is practice_model:
                tables.setdefault(model._meta.db_table, field.column)
    return tables
