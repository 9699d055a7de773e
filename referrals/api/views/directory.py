"""Referring offices and their doctors: the PMS keeps them in sync with its own lists."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from practices.access import Action
from referrals.models import ReferringOffice, ReferringProvider

from ..base import PracticeApiMixin
from ..filters import OfficeFilter, ProviderFilter
from ..serializers import OfficeSerializer, ProviderSerializer


class ListCreateRetrieveUpdateViewSet(
    PracticeApiMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    # No deletes: referrals point at these rows; archive an office or doctor instead.

    def perform_create(self, serializer):
        serializer.save(practice=self.request.practice)


# What each operation needs of the API key's column in the role table (practices.access).
DIRECTORY_ACTIONS = {
    "list": Action.VIEW_REFERRERS,
    "retrieve": Action.VIEW_REFERRERS,
    "create": Action.MANAGE_OFFICES,
    "update": Action.MANAGE_OFFICES,
    "partial_update": Action.MANAGE_OFFICES,
}


@extend_schema_view(
    list=extend_schema(summary="List referring offices"),
    create=extend_schema(summary="Create a referring office"),
    retrieve=extend_schema(summary="Get a referring office"),
    update=extend_schema(summary="Replace a referring office"),
    partial_update=extend_schema(summary="Update a referring office"),
)
class OfficeViewSet(ListCreateRetrieveUpdateViewSet):
    """The general dentists' (and specialists') offices that refer patients. Offices are
    never deleted: set `is_archived` instead. `external_id` is your PMS's id, unique
    within the practice."""

    required_actions = DIRECTORY_ACTIONS
    conflict_description = 'Another office already has this external_id: `{"external_id": [...]}`.'
    # An empty placeholder that names the model for the schema; get_queryset is the real one.
    queryset = ReferringOffice.objects.none()
    serializer_class = OfficeSerializer
    filterset_class = OfficeFilter

    def get_queryset(self):
        return ReferringOffice.objects.order_by("name", "id")


@extend_schema_view(
    list=extend_schema(summary="List referring doctors"),
    create=extend_schema(summary="Create a referring doctor"),
    retrieve=extend_schema(summary="Get a referring doctor"),
    update=extend_schema(summary="Replace a referring doctor"),
    partial_update=extend_schema(summary="Update a referring doctor"),
)
class ProviderViewSet(ListCreateRetrieveUpdateViewSet):
    """The doctors at referring offices. Never deleted: set `is_archived` instead."""

    required_actions = DIRECTORY_ACTIONS
    queryset = ReferringProvider.objects.none()
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilter

    def get_queryset(self):
        return ReferringProvider.objects.order_by("last_name", "first_name", "id")
