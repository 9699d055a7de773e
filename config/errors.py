"""Error pages: the database being unreachable is a 503 ("back in a moment"), not a 500.

A restarted, failing-over or overloaded PostgreSQL raises OperationalError (connection
refused, terminated by the administrator, too many clients) or InterfaceError (the
connection closed under us). That is the service being unavailable, not a bug: the answer
is 503 with Retry-After, so people, load balancers and API clients know to try again, and
the page says that a form being saved was not saved. Each request opens its connection
again (CONN_MAX_AGE / CONN_HEALTH_CHECKS in settings), so the first request after the
database is back succeeds: the app needs no restart (docs/reliability.md).

Everything else keeps Django's plain 500 page (no traceback: DEBUG is off in production).
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, UNAVAILABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request, *args, **kwargs):
    """handler500: called while the uncaught exception is being handled."""
    exc = sys.exc_info()[1]
    if not database_unavailable(exc):
        return django_server_error(request, *args, **kwargs)
    # The path is left out: Django's request log has it (with status tokens redacted).
    logger.warning("database unavailable (%s): answered 503", type(exc).__name__)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": "The service is unavailable for a moment; try again."}, status=503
        )
    else:
        # No request, so no context processor (they query the database).
        html = loader.render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
