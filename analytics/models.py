"""Referrer health: monthly rollups, nightly snapshots and the outreach log (alerts have their
own app, alerts/, low enough for letter delivery to raise them too).

All tenant-owned and scoped; unique constraints and indexes begin with ``practice``.
"""

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from practices.models import Practice
from referrals.models import ReferringOffice

from .choices import OutreachKind, RecomputeStatus, ReferrerStatus


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
    drop_strength = models.FloatField(
        default=0, help_text="The statistical rule's statistic (GLR or CUSUM) at as_of."
    )
    threshold_rule = models.BooleanField(default=False)
    statistical_rule = models.BooleanField(default=False)
    revenue_at_risk = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    priority = models.FloatField(default=0)
    reason = models.CharField(max_length=300, blank=True)
    # Why a declining or inactive office is flagged (docs/decline-detection.md): since
    # ``evidence_since``, ``received_since`` referrals where ``expected_since`` were expected
    # (80% band ``expected_low``-``expected_high``), and the sentence that says so.
    evidence = models.CharField(max_length=200, blank=True)
    evidence_since = models.DateField(null=True, blank=True)
    received_since = models.PositiveIntegerField(default=0)
    expected_since = models.FloatField(default=0)
    expected_low = models.PositiveIntegerField(default=0)
    expected_high = models.PositiveIntegerField(default=0)
    # The usual rate's expectation for each full month of ``monthly_counts`` (season- and
    # practice-adjusted; empty when the office has no usual rate yet): the chart's band.
    expected_counts = models.JSONField(default=list)
    # The practice-wide slowdown found by this run, the same on every row of the run (the
    # board's banner); empty when the practice keeps its pace.
    practice_evidence = models.CharField(max_length=300, blank=True)
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


class RecomputeRequest(models.Model):
    """An administrator's "compute now" (the board, the settings page) handed to a worker:
    the row is written before Celery is asked, so a broker that is down loses nothing (the
    sweeper hands it over again, practices/dispatch.py), and the board reads the state here,
    not from Celery's result store."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    status = models.CharField(
        max_length=10, choices=RecomputeStatus.choices, default=RecomputeStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offices = models.PositiveIntegerField(default=0)
    new_alerts = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "created_at"], name="recompute_practice_created"),
            # The sweeper looks for queued requests of every practice.
            models.Index(fields=["status", "dispatched_at"], name="recompute_status_dispatched"),
        ]

    def __str__(self):
        return f"Recompute #{self.pk} as of {self.as_of}"
