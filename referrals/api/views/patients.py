"""Patients. PHI: the API returns them to the practice's own key only; nothing is written to
the application log, and every call leaves an audit entry (referrals/api/audit.py)."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from practices.access import Action
from referrals.models import Patient

from ..audit import AuditedApiMixin
from ..filters import PatientFilter
from ..serializers import PatientSerializer
from .directory import ListCreateRetrieveUpdateViewSet


@extend_schema_view(
    list=extend_schema(summary="List patients"),
    create=extend_schema(summary="Create a patient"),
    retrieve=extend_schema(summary="Get a patient"),
    update=extend_schema(summary="Replace a patient"),
    partial_update=extend_schema(summary="Update a patient"),
)
class PatientViewSet(AuditedApiMixin, ListCreateRetrieveUpdateViewSet):
    """The practice's patients. `chart_number` is your PMS's chart number, unique within
    the practice."""

    required_actions = {
        "list": Action.VIEW_PATIENTS,
        "retrieve": Action.VIEW_PATIENTS,
        # Patients are entered with referrals: the same right as intake.
        "create": Action.INTAKE,
        "update": Action.INTAKE,
        "partial_update": Action.INTAKE,
    }
    queryset = Patient.objects.none()
    audit_object_type = "patient"
    conflict_description = (
        'Another patient already has this chart_number: `{"chart_number": [...]}`.'
    )
    serializer_class = PatientSerializer
    filterset_class = PatientFilter

    def get_queryset(self):
        return Patient.objects.order_by("last_name", "first_name", "id")
