"""Placeholder: replaced by the online feature."""

urlpatterns: list = []
