from django.db import models


class ReferrerStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    DECLINING = "declining", "Declining"
    INACTIVE = "inactive", "Inactive"
    LOST = "lost", "Lost"
    # An office on file that has never referred: not a relationship yet.
    PROSPECT = "prospect", "No referrals yet"


class AlertKind(models.TextChoices):
    DECLINING = "declining", "Declining referrer"
    NEW_REFERRER = "new_referrer", "New referrer"
    INACTIVE = "inactive", "Gone inactive"
    LETTER_OVERDUE = "letter_overdue", "GP letter overdue"
    LETTER_FAILED = "letter_failed", "GP letter failed"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


class OutreachKind(models.TextChoices):
    CALL = "call", "Phone call"
    VISIT = "visit", "Office visit"
    LUNCH = "lunch_and_learn", "Lunch-and-learn"
    GIFT = "gift", "Gift"
    EMAIL = "email", "Email"
    OTHER = "other", "Other"
