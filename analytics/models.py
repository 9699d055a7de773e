"""Referrer health: monthly rollups, nightly snapshots, alerts and the outreach log.

All tenant-owned and scoped; unique constraints and indexes begin with ``practice``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from practices.models import Practice
from referrals.models import ReferringOffice

from .choices import AlertKind, AlertState, OutreachKind, ReferrerStatus


class MonthlyRollup(models.Model):
    """Per office and calendar month: what came in and what became of it.

    Referrals count in the month they were received; consults, decisions, surgeries and
    production in the month the (non-void) event happened. Kept right on every change
    (see analytics/rollups.py); the nightly job rebuilds the offices whose rows changed
    since their last rebuild (RollupStamp), the full path a whole practice.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.ForeignKey(ReferringOffice, on_delete=models.CASCADE, related_name="rollups")
    month = models.DateField(help_text="First day of the month.")
    referrals = models.PositiveIntegerField(default=0)
    consults_completed = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    declined = models.PositiveIntegerField(default=0)
    surgeries_completed = models.PositiveIntegerField(default=0)
    production = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    objects = ScopedManager(practice="practice")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "office", "month"], name="rollup_unique_office_month"
            )
        ]
        indexes = [models.Index(fields=["practice", "month"], name="rollup_practice_month")]

    def __str__(self):
        return f"{self.office_id} {self.month:%Y-%m}"


class RollupStamp(models.Model):
    """When an office's rollups were last rebuilt (the clock read just before the rebuild).

    The night rebuilds an office only when one of its referrals (or the office row) was
    updated at or after this time: changes already folded in by the incremental refresh
    during the day are not paid for twice (analytics/rollups.py, docs/performance.md).
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.OneToOneField(
        ReferringOffice, on_delete=models.CASCADE, related_name="rollup_stamp"
    )
    built_at = models.DateTimeField()

    objects = ScopedManager(practice="practice")

    def __str__(self):
        return f"{self.office_id} built {self.built_at:%Y-%m-%d %H:%M}"


class NightlyWatermark(models.Model):
    """Up to when the nightly job has looked for changed referrals of a practice: the next
    night reads only rows updated after it (less a margin), through the updated_at index."""

    practice = models.OneToOneField(
        Practice, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    checked_through = models.DateTimeField()
    last_as_of = models.DateField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    def __str__(self):
        return f"{self.practice_id} through {self.checked_through:%Y-%m-%d %H:%M}"


class ReferrerSnapshot(models.Model):
    """An office's health as of one date, written by the nightly job (or a replay)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.ForeignKey(ReferringOffice, on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateField()
    status = models.CharField(max_length=12, choices=ReferrerStatus.choices)
    count_30 = models.PositiveIntegerField(default=0)
    count_60 = models.PositiveIntegerField(default=0)
    count_90 = models.PositiveIntegerField(default=0)
    last_referral_on = models.DateField(null=True, blank=True)
    first_referral_on = models.DateField(null=True, blank=True)
    # Counts of the last 24 full months, oldest first, plus the current partial month.
    monthly_counts = models.JSONField(default=list)
    baseline_rate = models.FloatField(default=0, help_text="Referrals a month before the drop.")
    recent_rate = models.FloatField(default=0, help_text="Referrals a month since the drop.")
    same_month_last_year = models.PositiveIntegerField(default=0)
    rolling_12 = models.PositiveIntegerField(default=0)
    prior_12 = models.PositiveIntegerField(default=0)
    drop_months = models.PositiveSmallIntegerField(default=0)
    drop_strength = models.FloatField(default=0, help_text="CUSUM statistic at as_of.")
    threshold_rule = models.BooleanField(default=False)
    statistical_rule = models.BooleanField(default=False)
    revenue_at_risk = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    priority = models.FloatField(default=0)
    reason = models.CharField(max_length=300, blank=True)
    consults_12 = models.PositiveIntegerField(default=0)
    accepted_12 = models.PositiveIntegerField(default=0)
    declined_12 = models.PositiveIntegerField(default=0)
    production_12 = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    computed_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "office", "as_of"], name="snapshot_unique_office_day"
            )
        ]
        indexes = [
            models.Index(fields=["practice", "as_of", "status"], name="snapshot_practice_day"),
        ]

    def __str__(self):
        return f"{self.office_id} {self.as_of} {self.status}"

    @property
    def case_acceptance(self) -> float | None:
        decided = self.accepted_12 + self.declined_12
        return self.accepted_12 / decided if decided else None


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
        ]

    def __str__(self):
        return self.title


class OutreachLog(models.Model):
    """A contact with a referring office: who reached out, how, what came of it, what next."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.ForeignKey(ReferringOffice, on_delete=models.CASCADE, related_name="outreach")
    kind = models.CharField(max_length=20, choices=OutreachKind.choices)
    occurred_on = models.DateField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [
            models.Index(
                fields=["practice", "office", "occurred_on"], name="outreach_practice_office"
            ),
            models.Index(fields=["practice", "follow_up_on"], name="outreach_practice_followup"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.occurred_on}"
