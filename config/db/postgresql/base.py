"""PostgreSQL with the connection bound to the current tenant (ENGINE ``config.db.postgresql``).

Before every statement the connection's ``app.practice_id`` / ``app.cross_tenant``
settings are compared with what the current django-scopes scope wants
(config/db/tenant_setting.py) and, only when they differ, set with one
``SELECT set_config(...)``. Because this happens before *every* statement, a connection
kept open (CONN_MAX_AGE), taken from a pool, or reused by the next request or task can
never carry the previous practice over: its first statement re-binds it.

The ``set_config`` runs on a raw psycopg cursor, not through Django's cursor wrapper, so it
is not counted by ``django_assert_num_queries`` / ``assertNumQueries`` and does not appear
in ``connection.queries``: query-count tests keep measuring the application's queries.
"""

import psycopg
from django.core.signals import request_finished
from django.db import DatabaseError
from django.db.backends.postgresql import base

from config.db.tenant_setting import (
    NO_TENANT,
    SET_SQL,
    TenantSetting,
    reset_tenant_settings,
    wanted_tenant_setting,
)


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # What this connection's server session has now; None: not known, set it anew.
        self.tenant_setting: TenantSetting | None = None
        # Installed first, so it is the outermost wrapper: it runs before the others.
        self.execute_wrappers.append(self._bind_tenant_before_execute)

    def _bind_tenant_before_execute(self, execute, sql, params, many, context):
        self.sync_tenant_setting()
        return execute(sql, params, many, context)

    def sync_tenant_setting(self, wanted: TenantSetting | None = None) -> None:
        """Set the tenant settings on the server session when they differ from ``wanted``
        (default: what the current scope wants)."""
        if wanted is None:
            wanted = wanted_tenant_setting()
        if wanted == self.tenant_setting:
            return
        self.ensure_connection()
        if self.connection.info.transaction_status == _INERROR:
            # Only ROLLBACK can run now (and undoes any setting made in the transaction);
            # a set_config would fail and hide the error that aborted the transaction.
            return
        with self.wrap_database_errors, self.connection.cursor() as cursor:
            cursor.execute(SET_SQL, list(wanted))
        self.tenant_setting = wanted

    # A session-level set_config made inside a transaction (or after a savepoint) that is
    # rolled back is undone by PostgreSQL: forget what we believed, the next statement sets
    # it again. A new or closed connection (or one handed back by a pool) is unknown too.
    def connect(self):
        self.tenant_setting = None
        super().connect()

    def _close(self):
        self.tenant_setting = None
        return super()._close()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self.tenant_setting = None

    def _savepoint_rollback(self, sid):
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self.tenant_setting = None

    def reset_tenant_setting(self) -> None:
        """At the end of a request or task: leave no practice on an open connection.

        Belt and braces (the next statement re-binds anyway), for whatever reads the
        session without going through this wrapper. Never opens a connection, and leaves
        a failed transaction alone (its rollback undoes the setting and clears the cache).
        """
        # Unknown (None) is reset too: after a rollback the server is back on whatever the
        # session had before the transaction, which may be a practice.
        if self.connection is None or self.tenant_setting == NO_TENANT:
            return
        try:
            self.sync_tenant_setting(NO_TENANT)
        except DatabaseError:
            # A connection that cannot even be reset is not handed on to the next user.
            self.close()


_INERROR = psycopg.pq.TransactionStatus.INERROR


# Connected after django.db's close_old_connections: a connection closed at the end of the
# request is not reopened to be reset.
request_finished.connect(reset_tenant_settings, dispatch_uid="config.db.reset_tenant_settings")
