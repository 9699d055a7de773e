"""The OpenAPI schema is valid and documents the key; the docs pages work offline."""

import re

from django.core.management import call_command
from openapi_spec_validator import validate


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
