"""Online referrals: a GP office's submission through the public form, and the front desk's
verdict on it (accept: it becomes an ordinary Referral; reject: with a reason).

Each verb is one atomic function. Matching is offered, never imposed: ``suggest_matches``
ranks the practice's offices, doctors and patients that look like the submission, and the
front desk decides.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from practices.models import Practice, PracticeSettings, User

from . import services
from .choices import OnlineReferralStatus, SourceType, Urgency
from .duplicates import name_similarity, normalize_name, phone_digits
from .models import (
    Attachment,
    OnlineReferral,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)
from .uploads import CheckedFile

logger = logging.getLogger(__name__)


def contact_promise(practice: Practice) -> dict[str, int]:
    """What the practice promises the GP on the form and its confirmation: business days
    until we contact the patient, by urgency (Settings → Referrals)."""
    # Read, never created: the public form (a visitor, a bot) must write nothing until a
    # referral is accepted. A practice that never saved its settings has the defaults.
    settings = PracticeSettings.objects.filter(practice=practice).first() or PracticeSettings()
    return {
        Urgency.URGENT: settings.online_contact_days_urgent,
        Urgency.SOON: settings.online_contact_days_soon,
        Urgency.ROUTINE: settings.online_contact_days_routine,
    }


MAX_SUGGESTIONS = 5
# Below this likeness of normalized names an office is not worth suggesting by name.
SIMILAR_NAME = 0.6

PUBLIC_FIELDS = (
    "office_name",
    "office_phone",
    "office_zip",
    "office_email",
    "doctor_first_name",
    "doctor_last_name",
    "doctor_email",
    "patient_first_name",
    "patient_last_name",
    "patient_date_of_birth",
    "patient_phone",
    "patient_email",
    "case_type",
    "urgency",
    "reason",
)


def reference_of(online: OnlineReferral) -> str:
    """The number a GP quotes on the phone; the front desk finds it in the inbox."""
    return f"W-{online.pk:06d}"


def received_on(online: OnlineReferral, practice: Practice) -> dt.date:
    # Sent at 11 pm in the practice's zone is received that day, not the next UTC day.
    return timezone.localtime(online.created_at, ZoneInfo(practice.time_zone)).date()


def pending_count(practice: Practice) -> int:
    return OnlineReferral.objects.filter(
        practice=practice, status=OnlineReferralStatus.PENDING
    ).count()


# --- submit ---------------------------------------------------------------------------


@transaction.atomic
def _create_submission(
    practice: Practice, data: dict[str, Any], files, stored: list[str]
) -> OnlineReferral:
    online = OnlineReferral.objects.create(
        practice=practice, **{name: data[name] for name in PUBLIC_FIELDS}
    )
    for upload, checked in files:
        attachment = Attachment(
            practice=practice,
            online_referral=online,
            original_name=checked.name,
            content_type=checked.content_type,
            size=checked.size,
        )
        # upload_to picks a random name under private/<practice>/; the storage API keeps
        # this working on S3-compatible storage too.
        attachment.file.save(checked.name, upload, save=False)
        stored.append(attachment.file.name)
        attachment.save()
    return online


def submit(
    practice: Practice, data: dict[str, Any], files: list[tuple[Any, CheckedFile]]
) -> OnlineReferral:
    """Store a GP office's submission and its checked files, pending the front desk."""
    stored: list[str] = []
    try:
        online = _create_submission(practice, data, files, stored)
    except BaseException:
        # The rows rolled back; files are not transactional, so remove what was written.
        for name in stored:
            default_storage.delete(name)
        raise
    logger.info(
        "online referral received practice=%s id=%s files=%s", practice.pk, online.pk, len(files)
    )
    return online


# --- suggestions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    obj: Any
    score: float
    reasons: tuple[str, ...]


@dataclass
class Suggestions:
    offices: list[Suggestion] = field(default_factory=list)
    providers: list[Suggestion] = field(default_factory=list)
    patients: list[Suggestion] = field(default_factory=list)
    best_office: ReferringOffice | None = None
    best_provider: ReferringProvider | None = None
    best_patient: Patient | None = None


def _office_suggestions(online: OnlineReferral) -> list[Suggestion]:
    # A practice has tens of offices, a few hundred at most: scoring them in Python is one
    # query and tolerates typos and phone formats that SQL equality would miss. Names and
    # phones are normalized as the offices' duplicate finder does.
    phone = phone_digits(online.office_phone)
    email = online.office_email.strip().lower()
    doctor_email = online.doctor_email.strip()
    name = normalize_name(online.office_name)
    doctor_offices = set()
    if doctor_email:
        doctor_offices = set(
            ReferringProvider.objects.filter(email__iexact=doctor_email).values_list(
                "office_id", flat=True
            )
        )
    found = []
    for office in ReferringOffice.objects.all():
        score, reasons = 0.0, []
        if phone and phone_digits(office.phone) == phone:
            score += 3
            reasons.append("same phone")
        if email and office.email.lower() == email:
            score += 3
            reasons.append("same email")
        if office.pk in doctor_offices:
            score += 2
            reasons.append("the doctor's email is on file here")
        likeness = name_similarity(name, normalize_name(office.name), floor=SIMILAR_NAME)
        if likeness == 1.0:
            score += 3
            reasons.append("same name")
        elif likeness >= SIMILAR_NAME:
            score += 1.5
            reasons.append("similar name")
        if online.office_zip and office.zip_code[:5] == online.office_zip[:5]:
            score += 0.5
            reasons.append("same ZIP")
        if score >= 1.5:
            if office.is_archived:
                reasons.append("archived")
            found.append(Suggestion(office, score, tuple(reasons)))
    found.sort(key=lambda s: (-s.score, s.obj.name))
    return found[:MAX_SUGGESTIONS]


def _provider_suggestions(online: OnlineReferral, office_ids: set[int]) -> list[Suggestion]:
    wanted = Q(last_name__iexact=online.doctor_last_name.strip())
    doctor_email = online.doctor_email.strip()
    if doctor_email:
        wanted |= Q(email__iexact=doctor_email)
    found = []
    for provider in ReferringProvider.objects.filter(wanted).select_related("office"):
        score, reasons = 0.0, []
        if provider.last_name.lower() == online.doctor_last_name.strip().lower():
            same_first = provider.first_name.lower() == online.doctor_first_name.strip().lower()
            score += 2 if same_first else 1
            reasons.append("same name" if same_first else "same last name")
        if doctor_email and provider.email.lower() == doctor_email.lower():
            score += 3
            reasons.append("same email")
        if provider.office_id in office_ids:
            score += 1
        reasons.append(f"at {provider.office.name}")
        found.append(Suggestion(provider, score, tuple(reasons)))
    found.sort(key=lambda s: (-s.score, s.obj.last_name, s.obj.first_name))
    return found[:MAX_SUGGESTIONS]


def _patient_suggestions(online: OnlineReferral) -> list[Suggestion]:
    first = online.patient_first_name.strip()
    last = online.patient_last_name.strip()
    born = online.patient_date_of_birth
    same_name = Q(first_name__iexact=first, last_name__iexact=last)
    same_birth = Q(date_of_birth=born) & (Q(first_name__iexact=first) | Q(last_name__iexact=last))
    found = []
    for patient in Patient.objects.filter(same_name | same_birth):
        name_matches = (
            patient.first_name.lower() == first.lower()
            and patient.last_name.lower() == last.lower()
        )
        if name_matches and patient.date_of_birth == born:
            score, reason = 3, "same name and date of birth"
        elif patient.date_of_birth == born:
            score, reason = 2, "same date of birth, similar name"
        elif patient.date_of_birth is None:
            # Imported without a date of birth: the name is all there is to go on.
            score, reason = 2, "same name, date of birth unknown"
        else:
            score, reason = 1, "same name, another date of birth"
        found.append(Suggestion(patient, score, (reason,)))
    found.sort(key=lambda s: (-s.score, s.obj.last_name, s.obj.first_name))
    return found[:MAX_SUGGESTIONS]


def suggest_matches(online: OnlineReferral) -> Suggestions:
    """Existing rows that may be this submission's office, doctor and patient (3 queries)."""
    offices = _office_suggestions(online)
    providers = _provider_suggestions(online, {s.obj.pk for s in offices})
    patients = _patient_suggestions(online)
    result = Suggestions(offices=offices, providers=providers, patients=patients)
    # Preselect only what is near-certain; anything weaker the front desk must choose.
    if offices and offices[0].score >= 3 and not offices[0].obj.is_archived:
        result.best_office = offices[0].obj
    if result.best_office is not None:
        result.best_provider = next(
            (s.obj for s in providers if s.obj.office_id == result.best_office.pk and s.score >= 2),
            None,
        )
    exact = [s.obj for s in patients if s.score == 3]
    if len(exact) == 1:  # two look-alikes: let a person decide
        result.best_patient = exact[0]
    return result


# --- accept / reject --------------------------------------------------------------------


def _lock_pending(online: OnlineReferral) -> OnlineReferral:
    # Two people at the front desk may open the same item: the first verdict wins.
    locked = OnlineReferral.objects.select_for_update().get(pk=online.pk)
    if locked.status != OnlineReferralStatus.PENDING:
        who = f" by {locked.reviewed_by}" if locked.reviewed_by_id else ""
        raise ValidationError(f"This online referral was already {locked.status}{who}.")
    return locked


def _fill_blanks(obj, values: dict[str, str]) -> None:
    """Complete a matched row with what the GP sent, never overwriting what we have."""
    changed = [name for name, value in values.items() if value and not getattr(obj, name)]
    for name in changed:
        setattr(obj, name, values[name])
    if changed:
        obj.save(update_fields=[*changed, "updated_at"])


@transaction.atomic
def accept(
    online: OnlineReferral,
    *,
    office: ReferringOffice | None,
    provider: ReferringProvider | None,
    patient: Patient | None,
    by: User,
    chart_number: str = "",
) -> Referral:
    """Turn a submission into a Referral from its doctor. ``None`` for office, provider or
    patient means: create it from what the GP sent. Attachments move to the referral."""
    online = _lock_pending(online)
    practice = online.practice
    if office is None:
        office = ReferringOffice.objects.create(
            practice=practice,
            name=online.office_name,
            phone=online.office_phone,
            zip_code=online.office_zip,
            email=online.office_email,
        )
    else:
        _fill_blanks(
            office,
            {
                "phone": online.office_phone,
                "zip_code": online.office_zip,
                "email": online.office_email,
            },
        )
    if provider is None:
        provider = ReferringProvider.objects.create(
            practice=practice,
            office=office,
            first_name=online.doctor_first_name,
            last_name=online.doctor_last_name,
            email=online.doctor_email,
        )
    elif provider.office_id != office.pk:
        raise ValidationError({"provider": f"{provider} does not work at {office.name}."})
    else:
        _fill_blanks(provider, {"email": online.doctor_email})
    if patient is None:
        if chart_number and Patient.objects.filter(chart_number=chart_number).exists():
            raise ValidationError(
                {"chart_number": f"Chart no. {chart_number} already belongs to a patient."}
            )
        patient = Patient.objects.create(
            practice=practice,
            first_name=online.patient_first_name,
            last_name=online.patient_last_name,
            date_of_birth=online.patient_date_of_birth,
            phone=online.patient_phone,
            email=online.patient_email,
            chart_number=chart_number,
        )
    else:
        _fill_blanks(
            patient,
            {
                "phone": online.patient_phone,
                "email": online.patient_email,
                "chart_number": chart_number,
            },
        )
    referral = services.create_referral(
        practice,
        services.ReferralInput(
            patient=patient,
            source_type=SourceType.DOCTOR,
            case_type=online.case_type,
            received_on=received_on(online, practice),
            referring_office=office,
            referring_provider=provider,
            reason=online.reason,
            urgency=online.urgency,
        ),
        created_by=by,
    )
    Attachment.objects.filter(online_referral=online).update(referral=referral)
    online.status = OnlineReferralStatus.ACCEPTED
    online.referral = referral
    online.reviewed_by = by
    online.reviewed_at = timezone.now()
    online.save(update_fields=["status", "referral", "reviewed_by", "reviewed_at", "updated_at"])
    logger.info(
        "online referral accepted practice=%s id=%s referral=%s",
        practice.pk,
        online.pk,
        referral.pk,
    )
    return referral


@transaction.atomic
def reject(online: OnlineReferral, *, reason: str, by: User) -> OnlineReferral:
    """Refuse a submission (spam, duplicate, not for us), saying why."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reject_reason": "Say why this referral is rejected."})
    online = _lock_pending(online)
    online.status = OnlineReferralStatus.REJECTED
    online.reject_reason = reason
    online.reviewed_by = by
    online.reviewed_at = timezone.now()
    online.save(
        update_fields=["status", "reject_reason", "reviewed_by", "reviewed_at", "updated_at"]
    )
    return online
