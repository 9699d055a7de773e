"""Query filters of the list endpoints. Every list is already limited to the key's
practice by the scope; these only narrow it further."""

import datetime as dt

import django_filters as filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from referrals.choices import CaseType, SourceType, Status
from referrals.models import Patient, Referral, ReferringOffice, ReferringProvider


class IdField(forms.IntegerField):
    # Bounded like the id columns: a larger number is a 400, not a database overflow.
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    """A row's id (an integer; NumberFilter alone would take and document decimals)."""

    field_class = IdField


def id_filter(field_name: str, help_text: str) -> IdFilter:
    schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1, "description": help_text}
    return extend_schema_field(schema)(IdFilter(field_name=field_name, help_text=help_text))


class UtcIsoDateTimeField(IsoDateTimeField):
    # PostgreSQL refuses a UTC offset beyond 15:59 that ISO 8601 allows (up to 23:59), and
    # year 1 or 9999 with an offset falls off the calendar in UTC. Compare in UTC; a time
    # off either end of the calendar is the calendar's first or last moment (everything,
    # or nothing, changed since), not an error.
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            edge = dt.datetime.min if value.year == dt.MINYEAR else dt.datetime.max
            return edge.replace(tzinfo=dt.UTC)


class UpdatedSinceFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


UPDATED_SINCE_HELP = (
    "Only rows changed at or after this time (ISO 8601), for incremental sync; "
    "combine with ordering=updated_at."
)


class OfficeFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the office name.")
    zip = filters.CharFilter(field_name="zip_code", help_text="ZIP code, exactly.")
    external_id = filters.CharFilter(help_text="The PMS id, exactly.")
    archived = filters.BooleanFilter(field_name="is_archived")
    updated_since = UpdatedSinceFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["name", "updated_at", "id"])

    class Meta:
        model = ReferringOffice
        fields = ["name", "zip", "external_id", "archived", "updated_since"]


class ProviderFilter(filters.FilterSet):
    office = id_filter("office_id", "An office id.")
    archived = filters.BooleanFilter(field_name="is_archived")
    updated_since = UpdatedSinceFilter(
        field_name="updated_at", lookup_expr="gte", help_text=UPDATED_SINCE_HELP
    )
    ordering = filters.OrderingFilter(fields=["last_name", "updated_at", "id"])

    class Meta:
        model = ReferringProvider
        fields = ["office", "archived", "updated_since"]


class PatientFilter(filters.FilterSet):
    chart_number = filters.CharFilter(help_text="The PMS chart number, exactly.")
    updated_since = UpdatedSinceFilter(
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
    office = id_filter("referring_office_id", "An office id.")
    provider = id_filter("referring_provider_id", "A doctor id.")
    patient = id_filter("patient_id", "A patient id.")
    status = filters.MultipleChoiceFilter(
        choices=Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    case_type = filters.ChoiceFilter(choices=CaseType.choices)
    source_type = filters.ChoiceFilter(choices=SourceType.choices)
    updated_since = UpdatedSinceFilter(
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
