from django.contrib import admin
from django.urls import include, path

from practices import views as practice_views

urlpatterns = [
    path("healthz", practice_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("referrals.api.urls")),
    path("", include("practices.urls")),
    path("", include("referrals.urls")),
    path("", include("analytics.urls")),
    path("", include("communications.urls")),
]
