"""Which tenant the database connection should be bound to, derived from django-scopes.

PostgreSQL's row-level security policies (config/db/rls.py) read two settings of the
connection: ``app.practice_id`` (the one practice whose rows are visible) and
``app.cross_tenant`` (``on``: every practice's rows, for code that crosses tenants on
purpose). Both follow the django-scopes scope the code runs in, so the database wall and
the application wall are entered in one place:

* ``practice_scope(p)`` (a request, an API call, a task, a command)  → ``p``'s id;
* ``scopes_disabled()`` (the codebase's explicit "this crosses tenants") → cross-tenant;
* anything else (no scope, a scope of several practices)              → nothing: no rows.
"""

from typing import NamedTuple

from django_scopes.state import state


class TenantSetting(NamedTuple):
    practice_id: str
    cross_tenant: str


NO_TENANT = TenantSetting("", "")
CROSS_TENANT = TenantSetting("", "on")

SET_SQL = (
    "SELECT set_config('app.practice_id', %s, false), set_config('app.cross_tenant', %s, false)"
)


def wanted_tenant_setting() -> TenantSetting:
    current = state.get() or {}
    if not current.get("_enabled", True):
        return CROSS_TENANT
    practice = current.get("practice")
    # django-scopes reads None as "every practice" and a list as "these practices": the
    # database grants neither (practice_scope refuses None; nothing here scopes a list).
    if practice is None or isinstance(practice, (list, tuple, set)):
        return NO_TENANT
    return TenantSetting(str(getattr(practice, "pk", practice)), "")


def sync_tenant_setting(connection) -> None:
    """Bring the connection's tenant setting up to date before SQL that bypasses Django's
    cursor wrappers (psycopg's COPY). A no-op on backends without row-level security."""
    sync = getattr(connection, "sync_tenant_setting", None)
    if sync is not None:
        sync()


def reset_tenant_settings(**kwargs) -> None:
    """Receiver for the end of a request (request_finished) and of a Celery task
    (task_postrun): unbind every open connection from the practice it served."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        reset = getattr(connection, "reset_tenant_setting", None)
        if reset is not None:
            reset()
