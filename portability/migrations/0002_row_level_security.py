"""Row-level security on the export jobs (config/db/rls.py, docs/security.md
"Row-level security")."""

from django.db import migrations

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("portability", "0001_initial")]

    operations = [EnableRowLevelSecurity("portability_exportjob")]
