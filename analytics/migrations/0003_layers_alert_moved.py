"""Alert moved to the alerts app (alerts/migrations/0001_initial.py): state only, the table
``analytics_alert`` stays with its rows and its row-level security policy."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_row_level_security"),
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Alert")],
            database_operations=[],
        ),
    ]
