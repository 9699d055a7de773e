"""The patient page: who the patient is, every referral the practice has for them, and the
patients who look like them (with "not the same person" to silence that warning for good)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from practices.access import Action, can
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from ..audit_log import recent_about_patient
from ..models import Patient
from ..patients import duplicates_of_patient, mark_not_duplicates


@practice_required(Action.VIEW_PATIENTS)
@require_GET
def patient_detail(request, pk: int):
    # Inside the request's practice scope: another practice's patient is a 404.
    patient = get_object_or_404(Patient, pk=pk)
    record(request, AuditAction.VIEWED, obj=patient)
    referrals = patient.referrals.select_related("referring_office", "referring_provider").order_by(
        "-received_on", "-id"
    )
    duplicates = duplicates_of_patient(patient)
    if duplicates:
        record(
            request,
            AuditAction.LISTED,
            object_type="patient",
            count=len(duplicates),
            summary=f"Possible duplicates of patient #{patient.pk}",
        )
    today = timezone.localdate()
    born = patient.date_of_birth
    age = None
    if born is not None:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return render(
        request,
        "referrals/patients/detail.html",
        {
            "patient": patient,
            "referrals": referrals,
            "age": age,
            "duplicates": duplicates,
            "can_mark_duplicates": can(request, Action.INTAKE),
            # "Who has seen this record": the practice administrator's view of the log.
            "seen_by": (
                recent_about_patient(patient.pk) if can(request, Action.VIEW_AUDIT_LOG) else None
            ),
        },
    )


@require_POST
@practice_required(Action.INTAKE)
def patient_not_duplicate(request, pk: int, other_pk: int):
    """ "Not the same person": the pair leaves the duplicate warning for good."""
    # Both looked up in the request's practice scope: another practice's patient is a 404.
    patient = get_object_or_404(Patient, pk=pk)
    other = get_object_or_404(Patient.objects.exclude(pk=pk), pk=other_pk)
    if mark_not_duplicates(patient, other, by=request.user):
        for one, two in ((patient, other), (other, patient)):
            record(
                request,
                AuditAction.CHANGED,
                obj=one,
                summary=f"Marked not a duplicate of patient #{two.pk}",
            )
    # Messages may travel in a cookie: ids only, never a patient's name.
    messages.success(
        request, f"Marked as different people: patient #{other.pk} is no longer suggested."
    )
    return redirect("patient_detail", pk=patient.pk)


urlpatterns = [
    path("patients/<int:pk>/", patient_detail, name="patient_detail"),
    path(
        "patients/<int:pk>/not-duplicate/<int:other_pk>/",
        patient_not_duplicate,
        name="patient_not_duplicate",
    ),
]
