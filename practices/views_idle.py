"""The "Stay logged in" button of the idle warning (static/js/idle.js)."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import resolve_url
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .idle import idle_limit_minutes, mark_active, seconds_left


@never_cache
@require_POST
def keep_alive(request):
    """The explicit action that counts as activity. A session already past its limit never
    gets here: IdleLogoutMiddleware has logged it out and answered 401."""
    if not request.user.is_authenticated:
        return JsonResponse(
            {"logged_out": True, "login_url": resolve_url(settings.LOGIN_URL)}, status=401
        )
    mark_active(request)
    return JsonResponse({"seconds_left": seconds_left(request, idle_limit_minutes(request))})


urlpatterns = [
    path("session/keep-alive/", keep_alive, name="idle_keep_alive"),
]
