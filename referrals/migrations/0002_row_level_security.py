"""Row-level security on every tenant table of this app (config/db/rls.py,
docs/security.md "Row-level security"). A new tenant table gets one line here or in its own
migration; tests/security/test_rls.py fails for a tenant table without it."""

from django.db import migrations

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("referrals_attachment"),
        EnableRowLevelSecurity("referrals_importjob"),
        EnableRowLevelSecurity("referrals_milestoneevent"),
        EnableRowLevelSecurity("referrals_officeevent"),
        EnableRowLevelSecurity("referrals_onlinereferral"),
        EnableRowLevelSecurity("referrals_patient"),
        EnableRowLevelSecurity("referrals_referral"),
        EnableRowLevelSecurity("referrals_referringoffice"),
        EnableRowLevelSecurity("referrals_referringprovider"),
    ]
