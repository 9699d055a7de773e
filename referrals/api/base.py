"""What every API view shares: key authentication, the practice scope, errors, pages.

The practice middleware resolves a practice from the session, which an API call does
not have; DRF authenticates the key only inside the view. So the view enters the key's
practice scope itself, right after authentication, and leaves it only once the response
is rendered: every query, including those made while serializing, is scoped.
"""

from contextlib import ExitStack

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from practices.scoping import practice_scope
from referrals.workflow import IllegalTransition

from .authentication import ApiKeyAuthentication
from .permissions import HasPracticeApiKey
from .schema import ApiAutoSchema


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@csrf_exempt  # a program's POST to a wrong path gets the 404, not a CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer JSON too, not the site's HTML 404 page."""
    return JsonResponse({"detail": "Not found."}, status=404)


# What an invalid request's error codes say about it: every error an id that is not one
# of this practice's -> 404; every error a clash with a stored row (a taken chart number,
# a doctor of another office) -> 409; anything else (or a mix) is malformed input -> 400.
NOT_FOUND_CODES = frozenset({"does_not_exist"})
CONFLICT_CODES = frozenset({"unique", "conflict"})


def _leaves(codes):
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _leaves(value)
    elif isinstance(codes, list):
        for value in codes:
            yield from _leaves(value)
    else:
        yield codes


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        return _first_message(next(iter(detail.values())))
    if isinstance(detail, list):
        return _first_message(detail[0])
    return str(detail)


def _classified(exc: exceptions.ValidationError) -> Response | None:
    """A 404 or 409 for a request that is well formed but names what is not there or
    clashes with what is; None for a 400. The field errors stay in the body, with a
    ``detail`` (the first message) and a ``code``, so the field is always named."""
    if not isinstance(exc.detail, dict):
        return None
    codes = set(_leaves(exc.get_codes()))
    if not codes or not codes <= NOT_FOUND_CODES | CONFLICT_CODES:
        return None
    if codes & NOT_FOUND_CODES:
        code, status_code = "not_found", status.HTTP_404_NOT_FOUND
    else:
        code, status_code = "conflict", status.HTTP_409_CONFLICT
    body = {"detail": _first_message(exc.detail), "code": code, **exc.detail}
    return Response(body, status=status_code)


def api_exception_handler(exc, context):
    """DRF's handler, plus the domain's errors as JSON: a refused step is a 409 that
    names the current status and the allowed steps; a service's ValidationError is
    keyed by field, like a serializer's; an unknown id in the body is a 404 and a clash
    with a stored row a 409, both naming the field (see _classified)."""
    if isinstance(exc, IllegalTransition):
        return Response(
            {
                "detail": str(exc),
                "code": "illegal_transition",
                "kind": exc.kind,
                "current_status": exc.status,
                "allowed_next_steps": exc.allowed,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, exceptions.ValidationError):
        classified = _classified(exc)
        if classified is not None:
            return classified
    return exception_handler(exc, context)


class PracticeApiMixin:
    # Mixed into every API view, before the DRF base class. (A comment, not a docstring:
    # the schema would show a docstring as each endpoint's description.)

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasPracticeApiKey]
    pagination_class = ApiPagination
    filter_backends = [DjangoFilterBackend]
    # JSON in, JSON out: nested patient data has no form encoding.
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    schema = ApiAutoSchema()

    def dispatch(self, request, *args, **kwargs):
        with ExitStack() as scope_stack:
            self._scope_stack = scope_stack
            response = super().dispatch(request, *args, **kwargs)
            # DRF renders lazily, after the view returns; render here, still in scope.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions
        practice = request.auth.practice
        request.practice = practice
        request._request.practice = practice
        self._scope_stack.enter_context(practice_scope(practice))
        # Dates without a time (received_on, "today") are the practice's dates.
        self._scope_stack.enter_context(timezone.override(practice.time_zone))

    def get_exception_handler(self):
        return api_exception_handler
