"""Row-level security on every tenant table of this app (config/db/rls.py,
docs/security.md "Row-level security"). A new tenant table gets one line here or in its own
migration; tests/security/test_rls.py fails for a tenant table without it."""

from django.db import migrations

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("analytics_alert"),
        EnableRowLevelSecurity("analytics_monthlyrollup"),
        EnableRowLevelSecurity("analytics_outreachlog"),
        EnableRowLevelSecurity("analytics_referrersnapshot"),
    ]
