"""Placeholder: replaced by the board feature."""

urlpatterns: list = []
