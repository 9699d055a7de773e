"""Placeholder: replaced by the offices feature."""

from django.urls import path

from practices.views import coming_soon

urlpatterns: list = []

urlpatterns += [path("referrers/", coming_soon, {"section": "referrers"}, name="office_list")]
