"""What the fast raw inserts of the CSV import (importing/inserts.py) and of seed_demo
(demo/rows.py) share: how the backend wants a value that varies per row."""

from collections.abc import Callable

from django.db import connection, models


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
