"""Placeholder: replaced by the templates_editor feature."""

urlpatterns: list = []
