"""The patient page: who the patient is and every referral the practice has for them."""

from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from practices.access import Action, can
from practices.audit import AuditAction, record
from practices.permissions import practice_required

from ..audit_log import recent_about_patient
from ..models import Patient


@practice_required(Action.VIEW_PATIENTS)
@require_GET
def patient_detail(request, pk: int):
    # Inside the request's practice scope: another practice's patient is a 404.
    patient = get_object_or_404(Patient, pk=pk)
    record(request, AuditAction.VIEWED, obj=patient)
    referrals = patient.referrals.select_related("referring_office", "referring_provider").order_by(
        "-received_on", "-id"
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
            # "Who has seen this record": the practice administrator's view of the log.
            "seen_by": (
                recent_about_patient(patient.pk) if can(request, Action.VIEW_AUDIT_LOG) else None
            ),
        },
    )


urlpatterns = [
    path("patients/<int:pk>/", patient_detail, name="patient_detail"),
]
