"""Alerts move from the analytics app to their own app (LAYERS, issue 12 item 1): letter
delivery (communications) raises them too, and may import only downward.

Only Django's state moves: the table keeps its name (``analytics_alert``), its rows, its
indexes and constraints and its row-level security policy (analytics 0002). The content
type follows, so permissions and admin history stay attached. analytics 0003_layers_alert_moved
removes the model from the analytics app's state.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="alerts", model="alert").exists():
        content_type.objects.filter(app_label="analytics", model="alert").update(
            app_label="alerts"
        )


def move_content_type_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="analytics", model="alert").exists():
        content_type.objects.filter(app_label="alerts", model="alert").update(
            app_label="analytics"
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("analytics", "0002_row_level_security"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("practices", "0002_practice_settings"),
        ("referrals", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Alert',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('declining', 'Declining referrer'), ('new_referrer', 'New referrer'), ('inactive', 'Gone inactive'), ('letter_overdue', 'GP letter overdue'), ('letter_failed', 'GP letter failed')], max_length=20)),
                        ('state', models.CharField(choices=[('open', 'Open'), ('acknowledged', 'Acknowledged'), ('snoozed', 'Snoozed'), ('resolved', 'Resolved')], default='open', max_length=12)),
                        ('opened_on', models.DateField(help_text='The as-of date of the run that raised it.')),
                        ('opened_at', models.DateTimeField(auto_now_add=True)),
                        ('title', models.CharField(max_length=200)),
                        ('detail', models.CharField(blank=True, max_length=500)),
                        ('subject_key', models.CharField(blank=True, max_length=60)),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True)),
                        ('snoozed_until', models.DateField(blank=True, null=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('resolution_note', models.TextField(blank=True)),
                        ('digested_at', models.DateTimeField(blank=True, null=True)),
                        ('acknowledged_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('office', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='referrals.referringoffice')),
                        ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('practice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='practices.practice')),
                        ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'analytics_alert',
                        'ordering': ['-opened_at', '-id'],
                        'indexes': [models.Index(fields=['practice', 'state', 'kind'], name='alert_practice_state')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('state', 'resolved'), _negated=True), fields=('practice', 'kind', 'office', 'subject_key'), name='alert_one_unresolved_per_subject', nulls_distinct=False)],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
