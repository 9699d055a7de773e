"""A "compute now" kept as a row before Celery is asked (issue 10, Redis down): a tenant
table, with the row-level security policy."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.db.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_night_watermark"),
        ("practices", "0010_health_rules"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RecomputeRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("as_of", models.DateField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Waiting for a worker"),
                            ("running", "Computing"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=10,
                    ),
                ),
                ("offices", models.PositiveIntegerField(default=0)),
                ("new_alerts", models.PositiveIntegerField(default=0)),
                ("failure", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("dispatched_at", models.DateTimeField(blank=True, null=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "practice",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="practices.practice",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["practice", "created_at"], name="recompute_practice_created"
                    ),
                    models.Index(
                        fields=["status", "dispatched_at"], name="recompute_status_dispatched"
                    ),
                ],
            },
        ),
        EnableRowLevelSecurity("analytics_recomputerequest"),
    ]
