"""Placeholder: replaced by the status_page feature."""

urlpatterns: list = []
