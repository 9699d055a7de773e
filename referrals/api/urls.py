"""REST API v1 for PMS integrations, mounted at /api/v1/ (see docs/api.md)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from .base import api_not_found
from .views.directory import OfficeViewSet, ProviderViewSet
from .views.patients import PatientViewSet
from .views.referrals import ReferralViewSet

API_DESCRIPTION = """
Referrals, milestones and referring offices of one practice, for PMS integrations.

**Authentication.** Every call sends a practice API key:
`Authorization: Bearer <key>`. A practice administrator creates and revokes keys under
Settings → API keys; a key is shown once, when it is created. A key sees its own
practice only: another practice's ids answer 404.

**Errors** are JSON. Invalid input is a 400 keyed by field name
(`{"referring_office": ["..."]}`); a missing, unknown or revoked key is a 401; an
unknown id is a 404; a milestone that may not follow the referral's current status is
a 409 naming the current status and the allowed next steps.

**Lists** are paginated (`page`, `page_size` up to 200, 50 by default) and answer
`{"count", "next", "previous", "results"}`. For incremental sync, ask for
`updated_since=<ISO time>&ordering=updated_at`.
""".strip()

router = SimpleRouter()
router.register("offices", OfficeViewSet, basename="api-office")
router.register("providers", ProviderViewSet, basename="api-provider")
router.register("patients", PatientViewSet, basename="api-patient")
router.register("referrals", ReferralViewSet, basename="api-referral")

urlpatterns = [
    # The schema and docs are public: they describe the API, they hold no practice data.
    # Their scripts and styles come from drf-spectacular-sidecar, served as our own
    # static files, so the docs work where the browser cannot reach a CDN.
    path(
        "schema/",
        SpectacularAPIView.as_view(custom_settings={"DESCRIPTION": API_DESCRIPTION}),
        name="api-schema",
    ),
    # The split view serves Swagger UI's start-up code as a script file (?script=), not
    # inline: the Content-Security-Policy allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
    # /api/v1/referrer-scores/ is analytics' (analytics/api.py), mounted by config/urls.py
    # ahead of this module: referrals does not reach up into analytics, not even by string.
    re_path(r"^.*/$", api_not_found),
]
