"""Idle logout: a session with no activity for the practice's ``idle_logout_minutes`` ends.

The last activity time lives in the session. Every request of a logged-in person is
checked against it first, so a request that comes too late (a click, a poll, a keep-alive)
logs the person out instead of reviving the session. What counts as activity is what a
person does: background requests (htmx polling, which ``static/js/idle.js`` marks with the
``X-Idle-Background`` header, and the warning's own keep-alive endpoint) do not, except the
explicit "Stay logged in" button, whose view records activity itself.

The time is written back at most every ``WRITE_EVERY_SECONDS``, so an active person costs
one session write per half minute instead of one per request. The page is told how many
seconds it has left from the stored time, so the browser's warning and the server agree.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import reverse

from .audit import AuditAction, record_account_event
from .models import Practice, PracticeSettings

LAST_ACTIVITY_KEY = "idle_last_activity"
BACKGROUND_HEADER = "HTTP_X_IDLE_BACKGROUND"
WRITE_EVERY_SECONDS = 30
DEFAULT_MINUTES: int = PracticeSettings._meta.get_field("idle_logout_minutes").default
# Requests to these never count as activity (the keep-alive view records the activity
# itself: it is the explicit "Stay logged in").
BACKGROUND_URL_NAMES = ("idle_keep_alive",)


def _minutes_of(practice: Practice) -> int:
    # PracticeMiddleware loaded the settings with the memberships: no query here. A practice
    # without its settings row yet has the default (read only: a GET creates nothing).
    try:
        return practice.settings.idle_logout_minutes
    except PracticeSettings.DoesNotExist:
        return DEFAULT_MINUTES


def idle_limit_minutes(request) -> int:
    """The current practice's limit; with none chosen yet, the strictest of the person's
    practices (the practice picker is a page too)."""
    practice = getattr(request, "practice", None)
    if practice is not None:
        return _minutes_of(practice)
    memberships = getattr(request, "active_memberships", None) or []
    limits = [_minutes_of(m.practice) for m in memberships]
    return min(limits) if limits else DEFAULT_MINUTES


def is_background(request) -> bool:
    if request.META.get(BACKGROUND_HEADER):
        return True
    return request.path_info in {reverse(name) for name in BACKGROUND_URL_NAMES}


def mark_active(request, now: float | None = None) -> None:
    request.session[LAST_ACTIVITY_KEY] = time.time() if now is None else now


def seconds_left(request, limit_minutes: int, now: float | None = None) -> int:
    now = time.time() if now is None else now
    last = request.session.get(LAST_ACTIVITY_KEY, now)
    return max(0, int(limit_minutes * 60 - (now - last)))


@receiver(user_logged_in, dispatch_uid="practices.idle.start_clock")
def start_clock(sender, request, user, **kwargs) -> None:
    # Written with the login's own session save: no extra write on the first page.
    if getattr(request, "session", None) is not None:
        mark_active(request)


def _logged_out_response(request, minutes: int) -> HttpResponse:
    login_url = resolve_url(settings.LOGIN_URL)
    if getattr(request, "htmx", False):
        # htmx swaps a redirect's body into the page; this makes it navigate instead.
        response = HttpResponse(status=200)
        response["HX-Redirect"] = login_url
        return response
    if is_background(request) or request.method != "GET":
        # A script asked (keep-alive, polling without htmx): it navigates by itself, and a
        # followed redirect would spend the message on a page nobody sees.
        return JsonResponse({"logged_out": True, "login_url": login_url}, status=401)
    if request.path == login_url:
        # The warning's own navigation to the login page: show it, without a nested ?next=.
        return HttpResponseRedirect(request.get_full_path())
    return redirect_to_login(request.get_full_path(), login_url)


class IdleLogoutMiddleware:
    """After ``PracticeMiddleware`` (it needs the practice's limit)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated:
            return self.get_response(request)
        minutes = idle_limit_minutes(request)
        now = time.time()
        last: Any = request.session.get(LAST_ACTIVITY_KEY)
        if isinstance(last, int | float) and now - last > minutes * 60:
            user = request.user
            # Lets an account-event listener on user_logged_out tell this apart from a click.
            request.idle_logout = True
            record_account_event(
                request,
                AuditAction.IDLE_LOGOUT,
                user=user,
                summary=f"After {minutes} minutes without activity",
            )
            logout(request)
            messages.info(request, f"You were logged out after {minutes} minutes without activity.")
            return _logged_out_response(request, minutes)
        if not isinstance(last, int | float) or (
            not is_background(request) and now - last >= WRITE_EVERY_SECONDS
        ):
            mark_active(request, now)
        # For the page's warning (templates/includes/idle_logout.html) and, on every
        # answer, for static/js/idle.js to follow activity made through htmx.
        request.idle_seconds_left = seconds_left(request, minutes, now)
        response = self.get_response(request)
        if request.user.is_authenticated:
            response["X-Idle-Seconds-Left"] = str(request.idle_seconds_left)
        return response
