"""Placeholder: replaced by the timeline feature."""

from django.urls import path

from practices.views import coming_soon

urlpatterns: list = []

urlpatterns += [path("cases/", coming_soon, {"section": "cases"}, name="worklist")]
