"""Query filters of the list endpoints. Every list is already limited to the key's
practice by the scope; these only narrow it further."""

import django_filters as filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from referrals.choices import CaseType, SourceType, Status
from referrals.models import Patient, Referral, ReferringOffice, ReferringProvider


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """A row's id (an integer; NumberFilter alone would take and document decimals)."""

    field_class = forms.IntegerField


UPDATED_SINCE_HELP = (
    "Only rows changed at or after this time (ISO 8601), for incremental sync; "
    "combine with ordering=updated_at."
)


class OfficeFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the office name.")
    zip = filters.CharFilter(field_name="zip_code", help_text="ZIP code, exactly.")
    external_id = filters.CharFilter(help_text="The PMS id, exactly.")
    archived = filters.BooleanFilter(field_name="is_archived")
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["name", "updated_at", "id"])

    class Meta:
        model = ReferringOffice
        fields = ["name", "zip", "external_id", "archived", "updated_since"]


class ProviderFilter(filters.FilterSet):
    office = IdFilter(field_name="office_id", help_text="An office id.")
    archived = filters.BooleanFilter(field_name="is_archived")
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["last_name", "updated_at", "id"])

    class Meta:
        model = ReferringProvider
        fields = ["office", "archived", "updated_since"]


class PatientFilter(filters.FilterSet):
    chart_number = filters.CharFilter(help_text="The PMS chart number, exactly.")
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["last_name", "updated_at", "id"])

    class Meta:
        model = Patient
        fields = ["chart_number", "updated_since"]


class ReferralFilter(filters.FilterSet):
    received_after = filters.DateFilter(
        field_name="received_on", lookup_expr="gte", help_text="Received on or after this date."
    )
    received_before = filters.DateFilter(
        field_name="received_on", lookup_expr="lte", help_text="Received on or before this date."
    )
    office = IdFilter(field_name="referring_office_id", help_text="An office id.")
    provider = IdFilter(field_name="referring_provider_id", help_text="A doctor id.")
    patient = IdFilter(field_name="patient_id", help_text="A patient id.")
    status = filters.MultipleChoiceFilter(
        choices=Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    case_type = filters.ChoiceFilter(choices=CaseType.choices)
    source_type = filters.ChoiceFilter(choices=SourceType.choices)
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["received_on", "updated_at", "id"])

    class Meta:
        model = Referral
        fields = [
            "received_after",
            "received_before",
            "office",
            "provider",
            "patient",
            "status",
            "case_type",
            "source_type",
            "updated_since",
        ]
