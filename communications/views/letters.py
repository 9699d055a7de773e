"""Placeholder: replaced by the letters feature."""

urlpatterns: list = []
