"""API key authentication: ``Authorization: Bearer <key>``.

Each key belongs to one practice; the key, not a user, is who calls the API. The
OpenAPI extension below documents the scheme so the docs page offers "Authorize".
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from practices.api_keys import active_key_for, note_key_used
from practices.models import ApiKey
from practices.rate_limits import client_key

from .throttling import ApiKeyRateThrottle


class ApiKeyClient:
    """``request.user`` for a call made with an API key (a program, not a person)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.practice = api_key.practice

    def __str__(self):
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # no key: NotAuthenticated (401) from the permission check
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>' (one key, no spaces)."
            )
        try:
            raw_key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The API key has invalid characters.") from exc
        api_key = active_key_for(raw_key)
        if api_key is None:
            # Someone trying keys: counted per address, like the API's public pages
            # (authentication fails before DRF's throttles would run).
            ApiKeyRateThrottle().count(request, "api_public", client_key(request))
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        note_key_used(api_key)
        return ApiKeyClient(api_key), api_key

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge.
        return f'{self.keyword} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": (
                "A practice's API key, created by a practice administrator under "
                "Settings → API keys. Send it as `Authorization: Bearer <key>`."
            ),
        }
