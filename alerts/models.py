"""Alerts: something about a referring office that needs a person.

Their own app, between ``referrals`` and ``communications`` (docs/architecture.md): both the
nightly referrer-health run (analytics) and letter delivery (communications) raise them, and
each may import only downward. The table kept its name from when alerts lived in analytics
(``analytics_alert``; alerts/migrations/0001_initial.py moved only Django's state).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from practices.models import Practice
from referrals.models import ReferringOffice

from .choices import AlertKind, AlertState


class Alert(models.Model):
    """Something about a referrer that needs a person. At most one open alert per office and
    kind (a partial unique index), however many nights the condition stays true."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.ForeignKey(
        ReferringOffice, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    state = models.CharField(max_length=12, choices=AlertState.choices, default=AlertState.OPEN)
    opened_on = models.DateField(help_text="The as-of date of the run that raised it.")
    opened_at = models.DateTimeField(auto_now_add=True)
    title = models.CharField(max_length=200)
    detail = models.CharField(max_length=500, blank=True)
    # What the alert is about besides an office (e.g. a letter id); never PHI.
    subject_key = models.CharField(max_length=60, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    # Set when the nightly digest that announced it was written (outbox), so an alert is
    # announced once.
    digested_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        db_table = "analytics_alert"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "kind", "office", "subject_key"],
                condition=~Q(state=AlertState.RESOLVED),
                name="alert_one_unresolved_per_subject",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["practice", "state", "kind"], name="alert_practice_state"),
            # The wake-up beat (analytics.tasks.wake_snoozed_alerts) looks across practices
            # every 15 minutes for snoozed alerts whose date has come: only snoozed rows are
            # indexed.
            models.Index(
                fields=["snoozed_until", "practice"],
                condition=Q(state=AlertState.SNOOZED),
                name="alert_snoozed_until",
            ),
        ]

    def __str__(self):
        return self.title
