"""The OpenAPI description of the answers every endpoint may give besides success."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer("Error", {"detail": serializers.CharField()})

VALIDATION_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description=(
        "Invalid input: an object keyed by field name, each with a list of messages "
        '(`{"referring_office": ["..."]}`; nested for nested fields). A malformed body '
        'or filter answers the same way, or `{"detail": "..."}`.'
    ),
)


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses

        def add(code: str, response: OpenApiResponse) -> None:
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code)

        add(
            "429",
            OpenApiResponse(
                ErrorSerializer,
                description="Too many calls with this key (its rate limit): wait the "
                "seconds the `Retry-After` header gives.",
            ),
        )
        writes = self.method in ("POST", "PUT", "PATCH")
        if writes or self._is_list_view():
            add("400", VALIDATION_ERROR)
        add(
            "401",
            OpenApiResponse(
                ErrorSerializer, description="No API key, or an unknown or revoked one."
            ),
        )
        if "{" in self.path or self._is_list_view():
            add(
                "404",
                OpenApiResponse(
                    ErrorSerializer,
                    description="No such id in this practice (or no such page of a list).",
                ),
            )
        return responses
