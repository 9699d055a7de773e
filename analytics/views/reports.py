"""Placeholder: replaced by the reports feature."""

urlpatterns: list = []
