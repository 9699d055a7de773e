"""Tenant scope helpers.

Every tenant-owned model uses ``ScopedManager(practice="practice")``: a query with no
active practice scope raises ``django_scopes.ScopeError``. Code that works for one
practice (views, commands, tasks) enters the scope with :func:`practice_scope`.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django_scopes import scope

from .models import Practice


@contextmanager
def practice_scope(practice: Practice | int) -> Iterator[None]:
    # django-scopes treats practice=None as "every practice": refuse it here, so a missing
    # practice can never widen a query to all tenants.
    if practice is None:
        raise ValueError("practice_scope needs a practice, got None")
    with scope(practice=practice):
        yield
