"""REST API v1 for PMS integrations (placeholder until the API feature lands)."""

urlpatterns: list = []
