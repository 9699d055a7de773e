"""The OpenAPI schema is valid and documents the key; the docs pages work offline."""

import datetime as dt
import re

from django.core.management import call_command
from openapi_spec_validator import validate

from referrals.api.schema import dates_up_to
from referrals.choices import MilestoneKind


def test_schema_is_valid_openapi_3(client, db):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "API key",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    assert "Authorization: Bearer <key>" in schema["info"]["description"]


def test_schema_documents_every_endpoint_and_filter(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    # At least these (other features add their own endpoints under /api/v1/).
    assert set(paths) >= {
        "/api/v1/offices/",
        "/api/v1/offices/{id}/",
        "/api/v1/providers/",
        "/api/v1/providers/{id}/",
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/referrals/",
        "/api/v1/referrals/{id}/",
        "/api/v1/referrals/{id}/events/",
        "/api/v1/referrer-scores/",
    }
    for path in paths.values():
        for operation in path.values():
            assert operation["security"] == [{"ApiKey": []}]
    referral_filters = {p["name"] for p in paths["/api/v1/referrals/"]["get"]["parameters"]}
    assert referral_filters >= {
        "received_after",
        "received_before",
        "office",
        "status",
        "updated_since",
        "page",
        "page_size",
    }
    assert "409" in paths["/api/v1/referrals/{id}/events/"]["post"]["responses"]


def test_schema_generates_without_warnings(db):
    # drf-spectacular's own check: any warning (an untyped field, a guessed parameter)
    # fails the command.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_pages_load_nothing_from_outside(client, db):
    for url in ["/api/v1/docs/"]:
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "https://cdn" not in html
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
        assert "/static/drf_spectacular_sidecar/" in html
        # Swagger UI's validator badge would call swagger.io with our schema's URL. Its
        # settings are in the start-up script, a file of its own (no inline script).
        script = client.get(url, {"script": ""}).content.decode()
        assert '"validatorUrl": null' in script
        assert "https://cdn" not in script


def request_schema(schema, name):
    return schema["components"]["schemas"][name]


def test_schema_states_what_a_referral_needs(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    referral = request_schema(schema, "ReferralRequest")
    patient_rule, source_rule = referral["allOf"]
    assert patient_rule == {"oneOf": [{"required": ["patient"]}, {"required": ["patient_data"]}]}
    by_source = {tuple(v["properties"]["source_type"]["enum"]): v for v in source_rule["oneOf"]}
    doctor = by_source[("doctor", "specialist")]
    assert doctor["required"] == ["referring_office", "referring_provider"]
    assert "nullable" not in doctor["properties"]["referring_office"]
    assert all("required" not in v for k, v in by_source.items() if "doctor" not in k)


def test_schema_states_what_each_milestone_needs(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    variants = request_schema(schema, "MilestoneInputRequest")["oneOf"]
    by_kind = {kind: v for v in variants for kind in v["properties"]["kind"]["enum"]}
    assert set(by_kind) == {k.value for k in MilestoneKind}
    assert "scheduled_for" in by_kind["consult_scheduled"]["required"]
    assert "reason" in by_kind["cancelled"]["required"]
    assert by_kind["cancelled"]["properties"]["reason"]["minLength"] == 1
    assert by_kind["closed"]["properties"]["production"]["enum"] == [None]
    production = by_kind["surgery_completed"]["properties"]["production"]["pattern"]
    assert re.match(production, "1250.50")
    assert not re.match(production, "-1")
    # Appointment years the service accepts whatever the offset (1900 to five years ahead).
    for kind in ("consult_scheduled", "cancelled"):
        years = by_kind[kind]["properties"]["scheduled_for"]["pattern"]
        assert re.match(years, "2025-03-01T09:00:00-05:00")
        assert not re.match(years, "4631-06-17T05:48:59-10:03")
        assert not re.match(years, "1899-12-31T23:00:00Z")


def test_schema_refuses_future_dates_and_a_null_birth_date(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    dob = request_schema(schema, "PatientRequest")["properties"]["date_of_birth"]
    assert "nullable" not in dob
    assert re.match(dob["pattern"], "1990-05-17")
    assert not re.match(dob["pattern"], "2999-01-01")
    received_on = request_schema(schema, "ReferralRequest")["properties"]["received_on"]
    assert received_on["pattern"] == dob["pattern"]


def test_dates_up_to_matches_exactly_the_days_up_to_the_bound():
    bound = dt.date(2026, 3, 9)
    pattern = re.compile(dates_up_to(bound))
    day = dt.date(2024, 1, 1)
    while day < dt.date(2027, 1, 1):
        assert bool(pattern.match(day.isoformat())) == (day <= bound), day
        day += dt.timedelta(days=1)
    assert pattern.match("0001-01-01")
    assert not pattern.match("10000-01-01")


def test_schema_links_create_read_and_milestone(client, db):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    created = paths["/api/v1/referrals/"]["post"]["responses"]["201"]["links"]
    assert created["GetReferral"] == {
        "operationId": "referrals_retrieve",
        "parameters": {"id": "$response.body#/id"},
    }
    assert created["RecordMilestone"]["operationId"] == "referrals_events_create"
    step = paths["/api/v1/referrals/{id}/events/"]["post"]["responses"]["201"]["links"]
    assert step["RecordNextMilestone"]["parameters"] == {"id": "$response.body#/referral"}
    doctor = paths["/api/v1/providers/"]["post"]["responses"]["201"]["links"]
    assert doctor["CreateReferralFromDoctor"]["requestBody"]["referring_office"] == (
        "$response.body#/office"
    )
    operation_ids = {op["operationId"] for p in paths.values() for op in p.values()}
    for path in paths.values():
        for operation in path.values():
            for response in operation["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operation_ids


def test_writes_document_404_and_conflicts_409(client, db):
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    for path, method in [
        ("/api/v1/referrals/", "post"),
        ("/api/v1/offices/", "post"),
        ("/api/v1/offices/{id}/", "put"),
        ("/api/v1/patients/{id}/", "patch"),
    ]:
        assert {"404", "409"} <= set(paths[path][method]["responses"]), (path, method)
    assert "409" not in paths["/api/v1/providers/"]["post"]["responses"]
