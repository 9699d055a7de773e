"""Who may call the API: a request authenticated with an active practice API key."""

from rest_framework.permissions import BasePermission

from practices.models import ApiKey


class HasPracticeApiKey(BasePermission):
    message = "Send a practice API key as 'Authorization: Bearer <key>'."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)
