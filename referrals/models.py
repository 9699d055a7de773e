"""Referring offices and doctors, patients, referrals (cases) and their milestone events.

Every model here is tenant-owned: a ``practice`` foreign key, a scoped manager (a query
without an active practice scope raises), and unique constraints and main indexes that
begin with ``practice`` so the tables can later be distributed by practice.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from practices.models import Practice

from .choices import (
    OFFICE_SOURCES,
    CaseType,
    ImportMode,
    ImportStatus,
    LetterChannel,
    MilestoneKind,
    OfficeEventKind,
    OnlineReferralStatus,
    SourceType,
    Status,
    Urgency,
)

npi_validator = RegexValidator(r"^\d{10}$", "An NPI is 10 digits.")


class TenantModel(models.Model):
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        abstract = True


class ReferringOffice(TenantModel):
    """A general dentist's (or specialist's) practice that sends us patients."""

    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=40, blank=True)
    zip_code = models.CharField("ZIP", max_length=10, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    preferred_channel = models.CharField(
        "preferred channel for letters",
        max_length=10,
        choices=LetterChannel.choices,
        default=LetterChannel.EMAIL,
    )
    external_id = models.CharField("PMS id", max_length=100, blank=True)
    is_archived = models.BooleanField("archived", default=False)
    # Set by the first referral ever received from the office: the start of the relationship.
    first_referral_on = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["practice", "name"], name="office_practice_name")]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "external_id"],
                condition=~Q(external_id=""),
                name="office_unique_external_id",
            )
        ]

    def __str__(self):
        return self.name


class ReferringProvider(TenantModel):
    """A doctor at a referring office."""

    office = models.ForeignKey(ReferringOffice, on_delete=models.PROTECT, related_name="providers")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[npi_validator])
    email = models.EmailField(blank=True)
    is_archived = models.BooleanField("archived", default=False)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["practice", "office"], name="provider_practice_office")]

    def __str__(self):
        return f"Dr. {self.first_name} {self.last_name}"


class Patient(TenantModel):
    """A patient. PHI: never log names, dates of birth or contact details."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    # Unknown (None) only for imported history: a PMS may hold no date of birth
    # (Open Dental writes 0001-01-01). Patients entered by hand always have one.
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    chart_number = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [
            models.Index(
                fields=["practice", "last_name", "first_name"], name="patient_practice_name"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "chart_number"],
                condition=~Q(chart_number=""),
                name="patient_unique_chart_number",
            )
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        return f"{self.first_name[:1]}{self.last_name[:1]}".upper()


class Referral(TenantModel):
    """A case: one patient sent to the practice for one problem, and its journey."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    source_type = models.CharField(max_length=20, choices=SourceType.choices)
    referring_office = models.ForeignKey(
        ReferringOffice, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    referring_provider = models.ForeignKey(
        ReferringProvider, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    case_type = models.CharField(max_length=20, choices=CaseType.choices)
    reason = models.TextField(blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    received_on = models.DateField()
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RECEIVED)
    status_changed_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Imported from a PMS's history: counts in analytics but never mails a GP.
    is_historical = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [
            models.Index(fields=["practice", "received_on"], name="referral_practice_received"),
            models.Index(
                fields=["practice", "referring_office", "received_on"],
                name="referral_practice_office",
            ),
            models.Index(fields=["practice", "status"], name="referral_practice_status"),
            models.Index(fields=["practice", "updated_at"], name="referral_practice_updated"),
        ]
        constraints = [
            # The article's first rule, also enforced by the database: a doctor or
            # specialist referral always names its office.
            models.CheckConstraint(
                condition=~Q(source_type__in=sorted(s.value for s in OFFICE_SOURCES))
                | Q(referring_office__isnull=False),
                name="referral_office_required_for_doctor_source",
            ),
        ]

    def __str__(self):
        return f"Referral #{self.pk}"


class MilestoneEvent(TenantModel):
    """One step of a case's journey. Append-only: a mistake is voided, never deleted."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=MilestoneKind.choices)
    occurred_at = models.DateTimeField(help_text="When it happened (or was booked).")
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="For a scheduled consult or surgery: the appointment."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    findings = models.TextField(blank=True)
    recommendation = models.TextField(blank=True)
    procedure = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    production = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Corrections leave a trace: the event stays, marked void, with who, when and why.
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(
                fields=["practice", "referral", "occurred_at"], name="event_practice_referral"
            ),
            models.Index(fields=["practice", "kind", "occurred_at"], name="event_practice_kind"),
            # The few voided steps: "letters still owed" leaves out the letters of these
            # (communications.loop_closure.owed_letters) without reading every step.
            models.Index(
                fields=["practice", "id"],
                condition=Q(voided_at__isnull=False),
                name="event_voided",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(production__isnull=True) | Q(kind=MilestoneKind.SURGERY_COMPLETED),
                name="event_production_only_on_surgery",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.occurred_at:%Y-%m-%d})"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class OfficeEvent(TenantModel):
    """Append-only history of a referring office: its first referral (a new relationship
    for the alerts to pick up), merges, archiving. Feeds alerts and the office page."""

    office = models.ForeignKey(ReferringOffice, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=20, choices=OfficeEventKind.choices)
    occurred_on = models.DateField()
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # For a merge: the absorbed office's name, id and what moved. Never PHI.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [
            models.Index(
                fields=["practice", "kind", "occurred_on"], name="officeevent_practice_kind"
            ),
            models.Index(fields=["practice", "office"], name="officeevent_practice_office"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.occurred_on})"


class OnlineReferral(TenantModel):
    """A referral sent through the public form by a GP office, waiting for the front desk
    to match it to an office and patient (or create them) and turn it into a Referral."""

    status = models.CharField(
        max_length=10, choices=OnlineReferralStatus.choices, default=OnlineReferralStatus.PENDING
    )
    office_name = models.CharField(max_length=200)
    office_phone = models.CharField(max_length=40, blank=True)
    office_zip = models.CharField("office ZIP", max_length=10, blank=True)
    office_email = models.EmailField(blank=True)
    doctor_first_name = models.CharField(max_length=100)
    doctor_last_name = models.CharField(max_length=100)
    doctor_email = models.EmailField(blank=True)
    patient_first_name = models.CharField(max_length=100)
    patient_last_name = models.CharField(max_length=100)
    patient_date_of_birth = models.DateField()
    patient_phone = models.CharField(max_length=40, blank=True)
    patient_email = models.EmailField(blank=True)
    case_type = models.CharField(max_length=20, choices=CaseType.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    reason = models.TextField()
    referral = models.OneToOneField(
        Referral, null=True, blank=True, on_delete=models.SET_NULL, related_name="online_submission"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["practice", "status", "created_at"], name="online_practice_status"
            ),
        ]

    def __str__(self):
        return f"Online referral #{self.pk}"


def attachment_path(instance, filename):
    # Random, non-guessable names in a private folder; the original name is kept in a field.
    import uuid

    return f"private/{instance.practice_id}/attachments/{uuid.uuid4().hex}"


class Attachment(TenantModel):
    """A radiograph or document (image or PDF) sent with a referral. Stored privately and
    served only through a view that checks the login and the practice."""

    online_referral = models.ForeignKey(
        OnlineReferral, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["practice", "referral"], name="attachment_practice_ref")]

    def __str__(self):
        return self.original_name


def import_path(instance, filename):
    import uuid

    # A random name (the original may hold a patient's name); the kind kept for the reader.
    extension = ".xlsx" if filename.lower().endswith((".xlsx", ".xlsm")) else ".csv"
    return f"private/{instance.practice_id}/imports/{uuid.uuid4().hex}{extension}"


class ImportJob(TenantModel):
    """One CSV upload of referral history: validated first, then imported (in Celery for
    large files) with progress, and a report of what was created, matched and rejected."""

    file = models.FileField(upload_to=import_path, max_length=300)
    original_name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    mode = models.CharField(
        max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    # e.g. {"referrals_created": 10, "referrals_matched": 2, "offices_created": 3, ...}
    counts = models.JSONField(default=dict, blank=True)
    # [{"line": 7, "column": "referral_date", "message": "..."}]; values, never PHI.
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # sources.SourceInfo as JSON (kind, encoding, separator, header, samples); {} for a job
    # in our own format uploaded before mappings existed.
    file_info = models.JSONField(default=dict, blank=True)
    # mapping.Mapping as JSON (version 1); {} = our own 15 columns.
    mapping = models.JSONField(default=dict, blank=True)
    preset = models.ForeignKey(
        "ImportPreset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the job was last handed to a Celery worker (None: done in the request). A job
    # still waiting long after is handed over again (practices/dispatch.py).
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["practice", "created_at"], name="importjob_practice_created")
        ]

    def __str__(self):
        return f"Import #{self.pk} ({self.original_name})"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportPreset(TenantModel):
    """A confirmed column mapping, named and kept by the practice, offered again when a
    file with the same headers comes (a monthly re-export imports in two clicks)."""

    name = models.CharField(max_length=100)
    # A hash of the sorted normalised header names, to find the preset of a file quickly.
    header_signature = models.CharField(max_length=64, db_index=True)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="importpreset_unique_name")
        ]

    def __str__(self):
        return self.name


class DistinctPatientPair(models.Model):
    """Two patients a member of staff said are different people ("not duplicates"), so the
    likely-duplicate warning never pairs them again. Stored once per pair, lower id first."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    first = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(practice="practice")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "first", "second"], name="distinct_patients_unique_pair"
            ),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="distinct_patients_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["practice", "second"], name="distinct_patients_second"),
        ]

    def __str__(self):
        return f"Patients {self.first_id} and {self.second_id} are different people"
