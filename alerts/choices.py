from django.db import models


class AlertKind(models.TextChoices):
    # Raised by the nightly referrer-health run (analytics/nightly.py) ...
    DECLINING = "declining", "Declining referrer"
    NEW_REFERRER = "new_referrer", "New referrer"
    INACTIVE = "inactive", "Gone inactive"
    LETTER_OVERDUE = "letter_overdue", "GP letter overdue"
    # ... and by letter delivery (communications/delivery.py).
    LETTER_FAILED = "letter_failed", "GP letter failed"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"
