from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path

from config.favicon import favicon
from practices import views as practice_views

# The admin has no login form of its own: operators log in like everyone else, with the
# second factor and the lockout (the admin's form would skip both).
admin.site.login = login_required(admin.site.login)

# A database that cannot be reached answers 503 "back in a moment", not a 500 (issue 10).
handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", practice_views.healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Before the API's own URLs (their catch-all answers unknown paths with a JSON 404).
    path("api/v1/referrer-scores/", include("analytics.api")),
    path("api/v1/", include("referrals.api.urls")),
    path("", include("practices.urls")),
    path("", include("referrals.urls")),
    path("", include("analytics.urls")),
    path("", include("communications.urls")),
    path("", include("portability.urls")),
]

# allauth answers its own rate limits (login, password reset) with this view, when the
# URLconf names one: our 429 page with a Retry-After header (practices/rate_limits.py).
handler429 = "practices.rate_limits.handler429"
