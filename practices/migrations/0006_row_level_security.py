"""Row-level security on every tenant table of this app (config/db/rls.py,
docs/security.md "Row-level security"). A new tenant table gets one line here or in its own
migration; tests/security/test_rls.py fails for a tenant table without it."""

# practices_auditentry's practice is NULL for the account events of unknown addresses: such a
# row matches no practice, so it is written and read only cross-tenant (the policy needs
# nothing special). practices_practice (the tenant registry) and practices_user are not
# tenant tables.

from django.db import migrations

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("practices", "0005_accounts_and_audit")]

    operations = [
        EnableRowLevelSecurity("practices_apikey"),
        EnableRowLevelSecurity("practices_auditentry"),
        EnableRowLevelSecurity("practices_invitation"),
        EnableRowLevelSecurity("practices_membership"),
        EnableRowLevelSecurity("practices_practicesettings"),
    ]
