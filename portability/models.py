"""An export of everything of a practice, built in the background (portability/export.py)."""

import uuid

from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from practices.models import Practice


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Being built"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


def export_path(instance, filename):
    # In the practice's private folder (deleted with the practice), under a random name.
    return f"private/{instance.practice_id}/exports/{uuid.uuid4().hex}.zip"


class ExportJob(models.Model):
    """One request for the practice's whole export: queued by an admin (or the command),
    built by a worker, downloadable until ``expires_at``, then its file is deleted."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    file = models.FileField(upload_to=export_path, max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    # {"offices": 12, "patients": 340, ..., "files": 51}: what the file holds.
    counts = models.JSONField(default=dict, blank=True)
    failure = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the build was last handed to a Celery worker; a job still queued long after is
    # handed over again (practices/dispatch.py).
    dispatched_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["practice", "created_at"], name="exportjob_practice")]

    def __str__(self):
        return f"Export #{self.pk}"
