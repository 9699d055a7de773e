from django.db import models

from alerts.choices import AlertKind


class ReferrerStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    DECLINING = "declining", "Declining"
    INACTIVE = "inactive", "Inactive"
    LOST = "lost", "Lost"
    # An office on file that has never referred: not a relationship yet.
    PROSPECT = "prospect", "No referrals yet"


class OutreachKind(models.TextChoices):
    CALL = "call", "Phone call"
    VISIT = "visit", "Office visit"
    LUNCH = "lunch_and_learn", "Lunch-and-learn"
    GIFT = "gift", "Gift"
    EMAIL = "email", "Email"
    OTHER = "other", "Other"


# The statuses the nightly run raises an alert for (analytics/nightly.py).
KIND_FOR_STATUS = {
    ReferrerStatus.DECLINING: AlertKind.DECLINING,
    ReferrerStatus.INACTIVE: AlertKind.INACTIVE,
}


class RecomputeStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Computing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
