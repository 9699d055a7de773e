"""The nightly job's watermarks (issue 11 item 4): when each office's rollups were last
rebuilt, and up to when each practice's changes were looked at. Both tenant tables get the
row-level security policy."""

import django.db.models.deletion
from django.db import migrations, models

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_snapshot_evidence"),
        ("practices", "0001_initial"),
        ("referrals", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="NightlyWatermark",
            fields=[
                (
                    "practice",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="practices.practice",
                    ),
                ),
                ("checked_through", models.DateTimeField()),
                ("last_as_of", models.DateField(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="RollupStamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("built_at", models.DateTimeField()),
                (
                    "office",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rollup_stamp",
                        to="referrals.referringoffice",
                    ),
                ),
                (
                    "practice",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="practices.practice",
                    ),
                ),
            ],
        ),
        EnableRowLevelSecurity("analytics_nightlywatermark"),
        EnableRowLevelSecurity("analytics_rollupstamp"),
    ]
