"""What the API reads and writes. The practice never appears: it is the key's."""

import datetime as dt

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from practices.access import API_KEY, Action, allows
from referrals import services
from referrals.choices import MilestoneKind
from referrals.models import (
    MilestoneEvent,
    Patient,
    Referral,
    ReferringOffice,
    ReferringProvider,
)


class Rfc3339DateTimeField(serializers.DateTimeField):
    # Before zones were standardised (1883 in the US) a zone's offset was local mean time,
    # to the second (-04:56:02 in New York), which RFC 3339 cannot write: such a time is
    # written in UTC. Every other time stays in the practice's zone.
    def enforce_timezone(self, value):
        value = super().enforce_timezone(value)
        offset = value.utcoffset()
        if offset is not None and offset.total_seconds() % 60:
            value = value.astimezone(dt.UTC)
        return value


class ApiModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: Rfc3339DateTimeField,
    }


class PracticeRelatedField(serializers.PrimaryKeyRelatedField):
    """An id of one of the practice's rows. The queryset is built per request, inside
    the practice scope, so another practice's id is simply 'does not exist'."""

    def __init__(self, model, **kwargs):
        self.model = model
        # A placeholder with the right model for the schema; never queried.
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()


def _not_in_future(value: dt.date, what: str) -> dt.date:
    if value > timezone.localdate():
        raise serializers.ValidationError(f"{what} cannot be in the future.")
    return value


def violates_unique(error: IntegrityError, constraint: str, column: str) -> bool:
    """Whether the write was refused by the unique ``constraint`` (on ``column``)."""
    diag = getattr(error.__cause__, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg) names the constraint
        return diag.constraint_name == constraint
    # SQLite (the embedded `make run` default) names the table's columns instead.
    message = str(error)
    return message.startswith("UNIQUE constraint failed") and f".{column}" in message


class UniqueInPracticeMixin:
    # A per-practice unique field (external_id, chart_number): a taken value is a 409 naming
    # the field (referrals/api/base.py maps the "unique" code). Checked before the write for
    # a readable error among the others; and caught at the write, because two requests at
    # once both pass the check and only the database's constraint sees them both. (A comment:
    # the schema would show a docstring as the description of every serializer using it.)

    unique_in_practice: tuple[str, str] = ("", "")
    unique_constraint = ""

    def _check_unique(self, value: str) -> str:
        field, message = self.unique_in_practice
        if value:
            taken = self.Meta.model.objects.filter(**{field: value})
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise serializers.ValidationError(message, code="unique")
        return value

    def save(self, **kwargs):
        field, message = self.unique_in_practice
        try:
            # A savepoint: the refused INSERT or UPDATE leaves nothing behind.
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError as error:
            if not violates_unique(error, self.unique_constraint, field):
                raise
            raise serializers.ValidationError({field: [message]}, code="unique") from error


class OfficeSerializer(UniqueInPracticeMixin, ApiModelSerializer):
    unique_in_practice = ("external_id", "Another office already has this PMS id.")
    unique_constraint = "office_unique_external_id"

    class Meta:
        model = ReferringOffice
        fields = [
            "id",
            "name",
            "address",
            "city",
            "state",
            "zip_code",
            "phone",
            "fax",
            "email",
            "preferred_channel",
            "external_id",
            "is_archived",
            "first_referral_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["first_referral_on", "created_at", "updated_at"]

    def validate_external_id(self, value):
        return self._check_unique(value)


class ProviderSerializer(ApiModelSerializer):
    office = PracticeRelatedField(ReferringOffice)

    class Meta:
        model = ReferringProvider
        fields = [
            "id",
            "office",
            "first_name",
            "last_name",
            "npi",
            "email",
            "is_archived",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class PatientSerializer(UniqueInPracticeMixin, ApiModelSerializer):
    unique_in_practice = ("chart_number", "Another patient already has this chart number.")
    unique_constraint = "patient_unique_chart_number"

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "chart_number",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate_chart_number(self, value):
        return self._check_unique(value)

    # Read: null when imported history did not know it. Write: required, never null
    # (a patient entered by hand always has one).
    date_of_birth = serializers.DateField(allow_null=True)

    def validate_date_of_birth(self, value):
        if value is None:
            raise serializers.ValidationError("A date of birth is required.")
        return _not_in_future(value, "A date of birth")


class PatientDataSerializer(serializers.Serializer):
    """A patient given inline with a referral: matched by chart number, else created."""

    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    chart_number = serializers.CharField(
        max_length=50,
        required=False,
        allow_blank=True,
        help_text="The PMS chart number. An existing patient with this chart number is "
        "used (its last name and date of birth must match); without one a new patient "
        "is created.",
    )

    def validate_date_of_birth(self, value):
        return _not_in_future(value, "A date of birth")


def match_or_create_patient(practice, data: dict) -> Patient:
    """The patient named by ``data`` (by chart number), or a new one. Runs in the
    practice scope, inside the referral's transaction."""
    chart_number = data.get("chart_number", "")
    if not chart_number:
        return Patient.objects.create(practice=practice, **data)
    existing = Patient.objects.filter(chart_number=chart_number).first()
    if existing is not None:
        return _same_person_or_refuse(existing, data)
    try:
        with transaction.atomic():  # a savepoint: the referral's transaction goes on
            return Patient.objects.create(practice=practice, **data)
    except IntegrityError as error:
        if not violates_unique(error, "patient_unique_chart_number", "chart_number"):
            raise
    # Another request created this chart between our look and our write (two intakes of
    # one patient at once). Its row is committed now (the unique index waited for it), so
    # match it as if it had been there first.
    return _same_person_or_refuse(Patient.objects.get(chart_number=chart_number), data)


def _same_person_or_refuse(existing: Patient, data: dict) -> Patient:
    same_person = (
        existing.last_name.casefold() == data["last_name"].casefold()
        # Unknown on an imported patient: the last name decides, as on import.
        and existing.date_of_birth in (None, data["date_of_birth"])
    )
    if not same_person:
        # Never attach a case to the wrong person's chart. A conflict with a stored
        # patient (409), not a malformed request.
        raise serializers.ValidationError(
            {
                "patient_data": {
                    "chart_number": [
                        "A patient with this chart number has a different last "
                        "name or date of birth."
                    ]
                }
            },
            code="conflict",
        )
    return existing


class ReferralSerializer(ApiModelSerializer):
    """A referral (case). Created through intake; its status moves only by events."""

    patient = PracticeRelatedField(
        Patient,
        required=False,
        help_text="An existing patient's id. Give this or patient_data.",
    )
    patient_data = PatientDataSerializer(
        write_only=True,
        required=False,
        help_text="A patient to match by chart number or create. Give this or patient.",
    )
    referring_office = PracticeRelatedField(
        ReferringOffice,
        required=False,
        allow_null=True,
        help_text="Required when source_type is doctor or specialist.",
    )
    referring_provider = PracticeRelatedField(
        ReferringProvider,
        required=False,
        allow_null=True,
        help_text="The referring doctor; required when source_type is doctor or specialist.",
    )
    received_on = serializers.DateField(
        required=False, help_text="Defaults to today in the practice's time zone."
    )

    class Meta:
        model = Referral
        fields = [
            "id",
            "patient",
            "patient_data",
            "source_type",
            "referring_office",
            "referring_provider",
            "case_type",
            "reason",
            "urgency",
            "received_on",
            "is_historical",
            "status",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "status_changed_at", "created_at", "updated_at"]
        extra_kwargs = {
            "is_historical": {
                "help_text": "An old case imported from the PMS: counted in statistics, "
                "but no letter is sent to the referring office."
            }
        }

    def validate_received_on(self, value):
        return _not_in_future(value, "The received date")

    def validate(self, attrs):
        has_id, has_data = "patient" in attrs, "patient_data" in attrs
        if has_id == has_data:
            raise serializers.ValidationError(
                {"patient": ["Give either patient (an id) or patient_data, not both."]}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        practice = self.context["request"].practice
        patient_data = validated_data.pop("patient_data", None)
        patient = (
            validated_data["patient"]
            if patient_data is None
            else match_or_create_patient(practice, patient_data)
        )
        data = services.ReferralInput(
            patient=patient,
            source_type=validated_data["source_type"],
            case_type=validated_data["case_type"],
            received_on=validated_data.get("received_on") or timezone.localdate(),
            referring_office=validated_data.get("referring_office"),
            referring_provider=validated_data.get("referring_provider"),
            reason=validated_data.get("reason", ""),
            urgency=validated_data.get("urgency", "routine"),
        )
        # The same rules as the intake form (a doctor source names office and doctor);
        # a refusal rolls back a patient created above.
        return services.create_referral(
            practice, data, historical=validated_data.get("is_historical", False)
        )


class ReferralDetailSerializer(ReferralSerializer):
    allowed_next_steps = serializers.SerializerMethodField(
        help_text="The milestone kinds that may be recorded next."
    )

    class Meta(ReferralSerializer.Meta):
        fields = [*ReferralSerializer.Meta.fields, "allowed_next_steps"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_next_steps(self, referral) -> list[str]:
        return services.allowed_next_steps(referral)


class MoneyFieldsMixin:
    """Drops ``money_fields`` from the output unless the API key's column of the role
    table allows ``VIEW_MONEY`` (practices.access), like the pages do for the front desk."""

    money_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not allows(API_KEY, Action.VIEW_MONEY):
            for name in self.money_fields:
                data.pop(name, None)
        return data


class MilestoneEventSerializer(MoneyFieldsMixin, ApiModelSerializer):
    money_fields = ("production",)
    kind = serializers.ChoiceField(choices=MilestoneKind.choices, read_only=True)

    class Meta:
        model = MilestoneEvent
        fields = [
            "id",
            "referral",
            "kind",
            "occurred_at",
            "scheduled_for",
            "note",
            "findings",
            "recommendation",
            "procedure",
            "reason",
            "production",
            "voided_at",
            "void_reason",
            "created_at",
        ]
        read_only_fields = fields


class MilestoneInputSerializer(serializers.Serializer):
    """One step of the journey. Which steps may follow which is the state machine's call."""

    # 'received' is in the list but always refused (409): intake records it.
    kind = serializers.ChoiceField(choices=MilestoneKind.choices)
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When it happened (or was booked); defaults to now."
    )
    scheduled_for = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="The appointment, for consult_scheduled and surgery_scheduled.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")
    findings = serializers.CharField(required=False, allow_blank=True, default="")
    recommendation = serializers.CharField(required=False, allow_blank=True, default="")
    procedure = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=300,
        help_text="Required for treatment_declined and cancelled.",
    )
    production = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Production of a completed surgery only.",
    )


class RecordedMilestoneSerializer(MilestoneEventSerializer):
    """The recorded event, with where it left the referral."""

    referral_status = serializers.CharField(source="referral.status", read_only=True)
    allowed_next_steps = serializers.SerializerMethodField()

    class Meta(MilestoneEventSerializer.Meta):
        fields = [*MilestoneEventSerializer.Meta.fields, "referral_status", "allowed_next_steps"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_next_steps(self, event) -> list[str]:
        return services.allowed_next_steps(event.referral)
