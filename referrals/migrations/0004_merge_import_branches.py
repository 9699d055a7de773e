# Joins the two 0003 migrations of the issue-9 branches (ENGINE's import mapping and
# OFFICES' unknown birth dates) so this branch migrates; the lead renumbers at merge.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("referrals", "0003_import_mapping"),
        ("referrals", "0003_patient_dob_unknown"),
    ]
    operations = []
