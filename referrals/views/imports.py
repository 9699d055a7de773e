"""Placeholder: replaced by the imports feature."""

urlpatterns: list = []
