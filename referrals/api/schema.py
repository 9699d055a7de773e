"""The OpenAPI description of the answers every endpoint may give besides success, and of
what the API requires beyond each field's own type (require_what_the_api_requires)."""

import datetime as dt
from zoneinfo import ZoneInfo

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from referrals.choices import OFFICE_SOURCES, MilestoneKind, SourceType

ErrorSerializer = inline_serializer("Error", {"detail": serializers.CharField()})

# A 409: the request is well formed but clashes with what is stored. Field clashes (a taken
# chart number) add the field's messages, keyed by field name, as a 400 would; a step out
# of order adds kind, current_status and allowed_next_steps.
ConflictSerializer = inline_serializer(
    "Conflict",
    {
        "detail": serializers.CharField(help_text="The first message, for people."),
        "code": serializers.CharField(help_text="`conflict` or `illegal_transition`."),
        "kind": serializers.CharField(required=False),
        "current_status": serializers.CharField(required=False),
        "allowed_next_steps": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "Invalid input: an object keyed by field name, each with a list of messages "
        '(`{"referring_office": ["..."]}`; nested for nested fields). A malformed body '
        'or filter answers the same way, or `{"detail": "..."}`.'
    ),
)


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses

        def add(code: str, response: OpenApiResponse) -> None:
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)

        add(
            "429",
            OpenApiResponse(
                ErrorSerializer,
                description="Too many calls with this key (its rate limit): wait the "
                "seconds the `Retry-After` header gives.",
            ),
        )
        writes = self.method in ("POST", "PUT", "PATCH")
        if writes or self._is_list_view():
            add("400", VALIDATION_ERROR)
        conflict = getattr(self.view, "conflict_description", None)
        if writes and conflict:
            add("409", OpenApiResponse(ConflictSerializer, description=conflict))
        add(
            "401",
            OpenApiResponse(
                ErrorSerializer, description="No API key, or an unknown or revoked one."
            ),
        )
        if "{" in self.path or self._is_list_view() or writes:
            add(
                "404",
                OpenApiResponse(
                    ErrorSerializer,
                    description="No such id in this practice (or no such page of a list). "
                    "An id in the body that is not one of this practice's is a 404 too, "
                    'its field named: `{"detail": "...", "code": "not_found", '
                    '"referring_office": ["..."]}`.',
                ),
            )
        return responses


# --- What the API requires, said in the schema ----------------------------------------
# drf-spectacular describes each field on its own. The rules that join fields (a patient
# by id or by data; a doctor referral names office and doctor; what each milestone kind
# needs) and those of the clock (no date in the future) are added here, after generation,
# so that data the schema allows is data the API accepts (schemathesis checks it:
# tests/test_api_fuzz.py). Wired in by SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"].

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; the API refuses it (400)
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"  # DRF trims spaces before "may not be blank"
# Year 1 or 9999 with a UTC offset falls off Python's calendar once converted (a 400).
INNER_YEARS = r"^(?!0001-|9999-)"
MONTH = "(?:0[1-9]|1[0-2])"
DAY = "(?:0[1-9]|[12][0-9]|3[01])"


def _digits_up_to(n: int, width: int) -> str:
    """A regex for the zero-padded numbers 0..n of ``width`` digits."""
    digits = f"{n:0{width}d}"
    options = [digits]
    for i, digit in enumerate(digits):
        if digit != "0":
            lower = "0" if digit == "1" else f"[0-{int(digit) - 1}]"
            options.append(digits[:i] + lower + "[0-9]" * (width - i - 1))
    return "(?:" + "|".join(options) + ")"


def dates_up_to(day: dt.date) -> str:
    """A regex for the ISO dates (YYYY-MM-DD) on or before ``day``."""
    options = [f"{_digits_up_to(day.year - 1, 4)}-{MONTH}-{DAY}"]
    if day.month > 1:
        options.append(f"{day.year:04d}-(?:{_digits_up_to(day.month - 1, 2)})-{DAY}")
    options.append(f"{day.year:04d}-{day.month:02d}-{_digits_up_to(day.day, 2)}")
    return "^(?:" + "|".join(options) + ")$"


def appointment_years(last: int) -> str:
    """A regex for date-times in the years 1901 to ``last`` (2000 <= last <= 2999)."""
    return rf"^(?:19(?:0[1-9]|[1-9][0-9])|2{_digits_up_to(last - 2000, 3)})-"


def _earliest_today() -> dt.date:
    # The API refuses a date after today in the practice's time zone; the schema is the
    # same for every practice, so it promises up to the earliest "today" on Earth (UTC-12).
    return dt.datetime.now(ZoneInfo("Etc/GMT+12")).date()


def _strings(schema, requests_only_of=None):
    """Every string schema in ``schema``, through properties, items and combinators."""
    if isinstance(schema, dict):
        if schema.get("type") == "string":
            yield schema
        for key, value in schema.items():
            if key in ("properties",):
                for sub in value.values():
                    yield from _strings(sub)
            elif key in ("items", "additionalProperties", "schema"):
                yield from _strings(value)
            elif key in ("oneOf", "anyOf", "allOf"):
                for sub in value:
                    yield from _strings(sub)


def _forbid_nul_and_blank(schema: dict) -> None:
    for string in _strings(schema):
        if string.get("format") == "date-time" and "pattern" not in string:
            string["pattern"] = INNER_YEARS
        if "format" in string or "enum" in string or "pattern" in string:
            continue
        string["pattern"] = NOT_BLANK if string.get("minLength", 0) >= 1 else NO_NUL


def _referral_request(schema: dict) -> None:
    office_sources = sorted(OFFICE_SOURCES)
    other_sources = [value for value in SourceType.values if value not in OFFICE_SOURCES]
    schema["allOf"] = [
        # Exactly one of the two: both, or neither, is refused.
        {"oneOf": [{"required": ["patient"]}, {"required": ["patient_data"]}]},
        {
            "oneOf": [
                {
                    "properties": {
                        "source_type": {"enum": office_sources},
                        "referring_office": {"type": "integer"},
                        "referring_provider": {"type": "integer"},
                    },
                    "required": ["referring_office", "referring_provider"],
                },
                {"properties": {"source_type": {"enum": other_sources}}},
            ]
        },
    ]
    schema["description"] += (
        " Give `patient` (an existing patient's id) or `patient_data` (a patient to match by "
        "chart number or create), not both. A `doctor` or `specialist` referral names its "
        "`referring_office` and `referring_provider` (a doctor of that office)."
    )


def _milestone_request(schema: dict) -> None:
    # One variant per group of kinds: what each kind needs, and production only with a
    # completed surgery. The kind's order (which step may follow which) is the referral's
    # state: a step out of order is a 409, as is one dated before the referral's receipt.
    base = schema.pop("properties")
    # The service refuses an appointment before 1900 or more than five years ahead (a year
    # like 9999 is a typo and, shifted to UTC, unreadable); the schema promises the years
    # that are inside that window whatever the offset.
    base["scheduled_for"] = {
        **base["scheduled_for"],
        "pattern": appointment_years(dt.date.today().year + 4),
    }
    no_production = {
        "enum": [None],
        "nullable": True,
        "description": base["production"]["description"],
    }

    def variant(kinds, required=(), **overrides):
        properties = {**base, "kind": {"type": "string", "enum": kinds}, **overrides}
        return {"type": "object", "properties": properties, "required": ["kind", *required]}

    scheduled = [MilestoneKind.CONSULT_SCHEDULED, MilestoneKind.SURGERY_SCHEDULED]
    with_reason = [MilestoneKind.TREATMENT_DECLINED, MilestoneKind.CANCELLED]
    surgery = [MilestoneKind.SURGERY_COMPLETED]
    others = [k for k in MilestoneKind.values if k not in (*scheduled, *with_reason, *surgery)]
    appointment = {**base["scheduled_for"]}
    appointment.pop("nullable", None)
    reason = {**base["reason"], "minLength": 1, "pattern": NOT_BLANK}
    reason.pop("default")  # "" would break its own minLength
    production = {**base["production"], "pattern": r"^[0-9]{1,8}(?:\.[0-9]{1,2})?$"}
    schema.pop("required", None)
    schema["oneOf"] = [
        variant(scheduled, ["scheduled_for"], scheduled_for=appointment, production=no_production),
        variant(with_reason, ["reason"], reason=reason, production=no_production),
        variant(surgery, production=production),
        variant(others, production=no_production),
    ]


def _patient_request(schema: dict, bound: str) -> None:
    dob = schema["properties"].get("date_of_birth")
    if dob is not None:
        # Null on an imported patient's record, never accepted from a client.
        dob.pop("nullable", None)
        dob["pattern"] = bound
        dob["description"] = "Not after today."


LINKS = {
    # (path, method, status): {link name: link}. The stateful phase of schemathesis follows
    # these: create a referral, read it, record its steps; create an office, a doctor there,
    # a patient, and a referral from them.
    ("/api/v1/referrals/", "post", "201"): {
        "GetReferral": {
            "operationId": "referrals_retrieve",
            "parameters": {"id": "$response.body#/id"},
        },
        "RecordMilestone": {
            "operationId": "referrals_events_create",
            "parameters": {"id": "$response.body#/id"},
        },
        "ListMilestones": {
            "operationId": "referrals_events_list",
            "parameters": {"id": "$response.body#/id"},
        },
    },
    ("/api/v1/referrals/{id}/events/", "post", "201"): {
        "GetReferral": {
            "operationId": "referrals_retrieve",
            "parameters": {"id": "$response.body#/referral"},
        },
        "RecordNextMilestone": {
            "operationId": "referrals_events_create",
            "parameters": {"id": "$response.body#/referral"},
        },
    },
    ("/api/v1/offices/", "post", "201"): {
        "GetOffice": {
            "operationId": "offices_retrieve",
            "parameters": {"id": "$response.body#/id"},
        },
        "UpdateOffice": {
            "operationId": "offices_partial_update",
            "parameters": {"id": "$response.body#/id"},
        },
        "CreateDoctorAtOffice": {
            "operationId": "providers_create",
            "requestBody": {"office": "$response.body#/id"},
        },
    },
    ("/api/v1/providers/", "post", "201"): {
        "GetDoctor": {
            "operationId": "providers_retrieve",
            "parameters": {"id": "$response.body#/id"},
        },
        "CreateReferralFromDoctor": {
            "operationId": "referrals_create",
            "requestBody": {
                "source_type": "doctor",
                "referring_office": "$response.body#/office",
                "referring_provider": "$response.body#/id",
            },
        },
    },
    ("/api/v1/patients/", "post", "201"): {
        "GetPatient": {
            "operationId": "patients_retrieve",
            "parameters": {"id": "$response.body#/id"},
        },
        "UpdatePatient": {
            "operationId": "patients_partial_update",
            "parameters": {"id": "$response.body#/id"},
        },
    },
}


def require_what_the_api_requires(result, generator, request, public):
    """drf-spectacular postprocessing hook: the joined rules, the clock and the links."""
    schemas = result.get("components", {}).get("schemas", {})
    not_future = dates_up_to(_earliest_today())
    if "ReferralRequest" in schemas:
        _referral_request(schemas["ReferralRequest"])
        received_on = schemas["ReferralRequest"]["properties"]["received_on"]
        received_on["pattern"] = not_future
        received_on["description"] += " Not after today."
    if "MilestoneInputRequest" in schemas:
        _milestone_request(schemas["MilestoneInputRequest"])
    for name in ("PatientRequest", "PatchedPatientRequest", "PatientDataRequest"):
        if name in schemas:
            _patient_request(schemas[name], not_future)
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _forbid_nul_and_blank(schema)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _forbid_nul_and_blank(parameter.get("schema", {}))
            for status_code, response in operation.get("responses", {}).items():
                links = LINKS.get((path, method, status_code))
                if links:
                    response["links"] = links
    return result
