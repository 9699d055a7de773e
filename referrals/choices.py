"""The words of the referral domain (see shared/DESIGN.md)."""

from django.db import models


class SourceType(models.TextChoices):
    DOCTOR = "doctor", "Doctor (GP)"
    SPECIALIST = "specialist", "Other specialist"
    SELF = "self", "Patient self-referral"
    WEBSITE = "website", "Website"
    INSURANCE = "insurance", "Insurance"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


# Sources that are a referring office: the office (and doctor) must be named.
OFFICE_SOURCES = frozenset({SourceType.DOCTOR, SourceType.SPECIALIST})


class CaseType(models.TextChoices):
    THIRD_MOLARS = "third_molars", "Third molars"
    IMPLANTS = "implants", "Implants"
    EXTRACTIONS = "extractions", "Extractions"
    BONE_GRAFT = "bone_graft", "Bone graft"
    BIOPSY = "biopsy", "Biopsy / pathology"
    ORTHOGNATHIC = "orthognathic", "Orthognathic"
    TMJ = "tmj", "TMJ"
    TRAUMA = "trauma", "Trauma"
    OTHER = "other", "Other"


class Urgency(models.TextChoices):
    ROUTINE = "routine", "Routine"
    SOON = "soon", "Soon (within 2 weeks)"
    URGENT = "urgent", "Urgent (within 48 hours)"


class LetterChannel(models.TextChoices):
    EMAIL = "email", "Email"
    FAX = "fax", "Fax"
    MAIL = "mail", "Mail"


class Status(models.TextChoices):
    """Where a case is in its journey; follows from its milestone events."""

    RECEIVED = "received", "Received"
    CONSULT_SCHEDULED = "consult_scheduled", "Consult scheduled"
    CONSULT_COMPLETED = "consult_completed", "Consult completed"
    TREATMENT_ACCEPTED = "treatment_accepted", "Treatment accepted"
    TREATMENT_DECLINED = "treatment_declined", "Treatment declined"
    SURGERY_SCHEDULED = "surgery_scheduled", "Surgery scheduled"
    SURGERY_COMPLETED = "surgery_completed", "Surgery completed"
    NO_SHOW = "no_show", "No-show"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


CLOSED_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})
OPEN_STATUSES = frozenset(Status) - CLOSED_STATUSES


class MilestoneKind(models.TextChoices):
    RECEIVED = "received", "Referral received"
    CONSULT_SCHEDULED = "consult_scheduled", "Consult scheduled"
    CONSULT_COMPLETED = "consult_completed", "Consult completed"
    TREATMENT_ACCEPTED = "treatment_accepted", "Treatment accepted"
    TREATMENT_DECLINED = "treatment_declined", "Treatment declined"
    SURGERY_SCHEDULED = "surgery_scheduled", "Surgery scheduled"
    SURGERY_COMPLETED = "surgery_completed", "Surgery completed"
    POSTOP_VISIT = "postop_visit", "Post-op visit"
    NO_SHOW = "no_show", "No-show"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class OnlineReferralStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the front desk"
    ACCEPTED = "accepted", "Accepted as a referral"
    REJECTED = "rejected", "Rejected"


class OfficeEventKind(models.TextChoices):
    FIRST_REFERRAL = "first_referral", "First referral (new referrer)"
    MERGED = "merged", "Duplicate merged into this office"
    ARCHIVED = "archived", "Archived"
    RESTORED = "restored", "Restored from archive"


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", "Mapping columns"
    UPLOADED = "uploaded", "Uploaded"
    VALIDATING = "validating", "Checking rows"
    INVALID = "invalid", "Errors found"
    READY = "ready", "Ready to import"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "Import nothing if any row is invalid"
    VALID_ONLY = "valid_only", "Import the valid rows, skip the invalid ones"
