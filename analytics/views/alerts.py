"""Placeholder: replaced by the alerts feature."""

urlpatterns: list = []
