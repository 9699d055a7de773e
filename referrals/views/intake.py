"""Placeholder: replaced by the intake feature."""

from django.urls import path

from practices.views import coming_soon

urlpatterns: list = []

urlpatterns += [path("intake/", coming_soon, {"section": "intake"}, name="intake")]
