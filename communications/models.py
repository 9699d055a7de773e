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


class LetterKind(models.TextChoices):
    CONSULT_SCHEDULED = "consult_scheduled", "Consult scheduled"
    CONSULT_COMPLETED = "consult_completed", "Consult completed"
    SURGERY_SCHEDULED = "surgery_scheduled", "Surgery scheduled"
    POSTOP_CONCLUDED = "postop_concluded", "Post-op concluded"
    POSTOP_UPDATE = "postop_update", "Post-op update"


class LetterStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"  # a post-op update waiting for its day
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    PRINT_QUEUED = "print_queued", "In the print queue"  # fax or mail: a person sends it
    PRINTED = "printed", "Printed / faxed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class LetterTemplate(models.Model):
    """A practice's wording for one kind of letter; the shipped default applies until the
    practice saves its own. Rendered in a sandbox (communications/sandbox.py)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    subject = models.CharField(max_length=250)
    body = models.TextField()
    updated_by = models.ForeignKey(
        "practices.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practice", "kind"], name="letter_template_unique_kind")
        ]

    def __str__(self):
        return self.get_kind_display()


def letter_pdf_path(instance, filename):
    return f"private/{instance.practice_id}/letters/{uuid.uuid4().hex}.pdf"


class Letter(models.Model):
    """The outbox row of one letter to a referring GP about one milestone.

    Written in the same transaction as the milestone event; delivered by a worker that
    claims it. At most one per (event, kind, interval, recipient) — the unique constraint
    makes a retried trigger harmless.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.CASCADE, related_name="letters"
    )
    event = models.ForeignKey(
        "referrals.MilestoneEvent", on_delete=models.CASCADE, related_name="letters"
    )
    office = models.ForeignKey(
        "referrals.ReferringOffice", on_delete=models.CASCADE, related_name="letters"
    )
    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    # For post-op updates: days after surgery (0 for the other kinds).
    interval_days = models.PositiveSmallIntegerField(default=0)
    # "provider:<id>" or "office:<id>": who the letter is for, whatever the channel.
    recipient_key = models.CharField(max_length=40)
    recipient_name = models.CharField(max_length=200)
    recipient_email = models.EmailField(blank=True)
    channel = models.CharField(max_length=10)  # referrals.choices.LetterChannel
    status = models.CharField(
        max_length=12, choices=LetterStatus.choices, default=LetterStatus.QUEUED
    )
    due_at = models.DateTimeField(help_text="When the letter should go out.")
    reason = models.CharField(max_length=300, blank=True, help_text="Why it failed or was skipped.")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=250, blank=True)
    pdf = models.FileField(upload_to=letter_pdf_path, max_length=300, blank=True)
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "event", "kind", "interval_days", "recipient_key"],
                name="letter_once_per_event_kind_recipient",
            )
        ]
        indexes = [
            models.Index(fields=["practice", "referral"], name="letter_practice_referral"),
            models.Index(fields=["practice", "office", "due_at"], name="letter_practice_office"),
            models.Index(fields=["status", "due_at"], name="letter_status_due"),
            # The night's overdue-letter count reads only letters still owed; nearly every
            # letter is sent or printed, so this index holds a fraction of the table.
            models.Index(
                fields=["practice", "due_at"],
                condition=~models.Q(status__in=[LetterStatus.SENT, LetterStatus.PRINTED]),
                name="letter_open_due",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} letter #{self.pk}"


class StatusLink(models.Model):
    """A referring office's secure link to its status page. Only a hash of the token is
    stored; revocable and expiring; every use is logged (StatusLinkAccess)."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    office = models.ForeignKey(
        "referrals.ReferringOffice", on_delete=models.CASCADE, related_name="status_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        "practices.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["practice", "office"], name="statuslink_practice_office")]

    def __str__(self):
        return f"Status link #{self.pk}"


class StatusLinkAccess(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(StatusLink, on_delete=models.CASCADE, related_name="accesses")
    accessed_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # What was opened: "page" or "letter:<id>".
    target = models.CharField(max_length=40, default="page")

    objects = ScopedManager(practice="practice")

    class Meta:
        ordering = ["-accessed_at"]
        indexes = [models.Index(fields=["practice", "link"], name="statusaccess_practice_link")]

    def __str__(self):
        return f"{self.target} at {self.accessed_at}"
