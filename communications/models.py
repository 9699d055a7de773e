"""The outbox: every email the product sends is first a row, written in the transaction of
the event that caused it, then delivered by a worker that claims it (see outbox.py)."""

import uuid

from django.db import models
from django_scopes import ScopedManager

from practices.models import Practice


class EmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class EmailKind(models.TextChoices):
    ALERT_DIGEST = "alert_digest", "Nightly alert digest"
    MONTHLY_REVIEW = "monthly_review", "Monthly referrer review"
    QUARTERLY_REPORT = "quarterly_report", "Quarterly trend report"
    OTHER = "other", "Other"


def attachment_path(instance, filename):
    return f"private/{instance.practice_id}/outbox/{uuid.uuid4().hex}-{filename}"


class OutgoingEmail(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=EmailKind.choices)
    # What this email is about, unique per practice: a retry or a second run of the job
    # that wrote it finds the row instead of writing another (e.g. "digest:2026-11-26").
    dedupe_key = models.CharField(max_length=120)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=250)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachment = models.FileField(upload_to=attachment_path, max_length=300, blank=True)
    attachment_name = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "dedupe_key"], name="outgoing_email_unique_key"
            )
        ]
        indexes = [
            models.Index(fields=["status", "claimed_at"], name="outgoing_email_status"),
            models.Index(fields=["practice", "kind", "created_at"], name="outgoing_email_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} → {', '.join(self.to)}"
