"""Referrals (cases) and their milestone events: intake and the journey, for a PMS.

Both go through referrals.services, so the API applies the same rules as the intake
form and the timeline, and a recorded step queues the same letters to the GP.
"""

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from practices.access import API_KEY, Action, allows
from practices.audit import AuditAction
from referrals import services
from referrals.models import Referral

from ...step_permissions import action_for_step
from ..audit import AuditedApiMixin
from ..base import PracticeApiMixin
from ..filters import ReferralFilter
from ..schema import VALIDATION_ERROR, ConflictSerializer
from ..serializers import (
    MilestoneEventSerializer,
    MilestoneInputSerializer,
    RecordedMilestoneSerializer,
    ReferralDetailSerializer,
    ReferralSerializer,
)

CREATE_EXAMPLE = OpenApiExample(
    "A GP referral with a new patient",
    request_only=True,
    value={
        "patient_data": {
            "first_name": "Pat",
            "last_name": "Example",
            "date_of_birth": "1990-05-17",
            "chart_number": "C000123",
        },
        "source_type": "doctor",
        "referring_office": 12,
        "referring_provider": 34,
        "case_type": "third_molars",
        "urgency": "routine",
        "received_on": "2025-03-03",
        "reason": "Impacted lower third molars.",
    },
)


@extend_schema_view(
    list=extend_schema(summary="List referrals"),
    retrieve=extend_schema(summary="Get a referral, with the steps it may take next"),
    create=extend_schema(
        summary="Create a referral (intake)",
        examples=[CREATE_EXAMPLE],
        request=ReferralSerializer,
        responses={201: ReferralDetailSerializer},
    ),
)
class ReferralViewSet(
    AuditedApiMixin,
    PracticeApiMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Referrals (cases). A referral is created by intake and then moves only by
    milestone events (`POST /referrals/{id}/events/`); its `status` is read-only."""

    required_actions = {
        "list": Action.VIEW_CASES,
        "retrieve": Action.VIEW_CASES,
        "create": Action.INTAKE,
        # The least a step needs; the step's own action is checked once its kind is known.
        "events": {"GET": Action.VIEW_CASES, "POST": Action.RECORD_SCHEDULING},
    }
    queryset = Referral.objects.none()
    filterset_class = ReferralFilter
    conflict_description = (
        "The patient_data's chart number is another person's, or the referring doctor "
        "works at another office; the field is named."
    )
    audit_object_type = "referral"

    def get_queryset(self):
        return Referral.objects.order_by("-received_on", "-id")

    def get_serializer_class(self):
        if self.action == "retrieve":
            return ReferralDetailSerializer
        return ReferralSerializer

    def create(self, request, *args, **kwargs):
        serializer = ReferralSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        referral = serializer.save()
        self.audit_object = referral
        data = ReferralDetailSerializer(referral, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="List a referral's milestone events (oldest first, voided ones included)",
        responses=MilestoneEventSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a milestone: move the referral one step along its journey",
        request=MilestoneInputSerializer,
        responses={
            201: RecordedMilestoneSerializer,
            400: VALIDATION_ERROR,
            409: OpenApiResponse(
                ConflictSerializer,
                description="The step may not follow the referral's current status "
                "(`code` `illegal_transition`, with `current_status` and "
                "`allowed_next_steps`), or it is dated before the referral was received "
                "(`code` `conflict`, with `occurred_at`).",
            ),
        },
        examples=[
            OpenApiExample(
                "Consult booked",
                request_only=True,
                value={"kind": "consult_scheduled", "scheduled_for": "2025-03-10T09:30:00"},
            )
        ],
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def events(self, request, pk=None):
        referral = self.get_object()
        if request.method == "GET":
            self.audit_action = AuditAction.VIEWED
            events = referral.events.order_by("occurred_at", "id")
            return Response(MilestoneEventSerializer(events, many=True).data)
        payload = MilestoneInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        step_needs = action_for_step(payload.validated_data["kind"])
        if step_needs is not None and not allows(API_KEY, step_needs):
            raise PermissionDenied("An API key may not record this step.")
        event = services.record_milestone(
            referral,
            **payload.validated_data,
            historical=referral.is_historical,
        )
        self.audit_action, self.audit_object = AuditAction.CHANGED, event
        return Response(RecordedMilestoneSerializer(event).data, status=status.HTTP_201_CREATED)
