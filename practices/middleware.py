"""Resolve the current practice for each request and enter its scope.

The practice a user works in is kept in the session (the header switcher changes it).
With one membership it is chosen automatically. Views then run inside
``practice_scope(request.practice)``, so every tenant query is filtered by the scoped
managers and a forgotten filter cannot leak another practice's rows.

A deactivated membership counts as no membership: its practice can no longer be entered,
and a person whose every membership is deactivated is logged out at their next request
(their sessions are also deleted when they are deactivated, see ``practices.team``).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import Membership, Practice, Role
from .scoping import practice_scope

SESSION_KEY = "practice_id"


def memberships_of(user) -> list[Membership]:
    """The user's active memberships, with each practice and its settings (the idle-logout
    limit is read from them on every request, so they come in the same query)."""
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, is_active=True)
            # The settings come along: the two-factor policy and idle limit, read per request.
            .select_related("practice", "practice__settings")
            .order_by("practice__name")
        )


def _only_deactivated(user) -> bool:
    # Asked only when a user has no active membership: the rare path.
    if user.is_superuser:
        return False
    with scopes_disabled():
        return Membership.objects.filter(user=user, is_active=False).exists()


def resolve_practice(request) -> tuple[Practice | None, Membership | None]:
    user = request.user
    if not user.is_authenticated:
        return None, None
    memberships = memberships_of(user)
    request.active_memberships = memberships
    chosen = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.practice_id == chosen:
            return membership.practice, membership
    if chosen and user.is_superuser:
        # Platform operators may enter any practice (support), acting as its admin.
        practice = Practice.objects.filter(pk=chosen).first()
        if practice:
            return practice, None
    if len(memberships) == 1:
        request.session[SESSION_KEY] = memberships[0].practice_id
        return memberships[0].practice, memberships[0]
    return None, None


class PracticeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.active_memberships = []
        practice, membership = resolve_practice(request)
        if (
            practice is None
            and request.user.is_authenticated
            and not request.active_memberships
            and _only_deactivated(request.user)
        ):
            logout(request)
            messages.error(
                request,
                "Your access to the practice has ended. Ask its administrator if this is a "
                "mistake.",
            )
            if getattr(request, "htmx", False):
                # htmx would swap the login page into a fragment: make it navigate instead.
                response = HttpResponse()
                response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
                return response
            return redirect_to_login(request.get_full_path())
        request.practice = practice
        request.membership = membership
        if membership is not None:
            request.role = membership.role
        elif practice is not None:
            request.role = Role.ADMIN  # superuser in support mode
        else:
            request.role = None
        if practice is None:
            return self.get_response(request)
        # Dates on pages are the practice's dates, not the server's.
        with practice_scope(practice), timezone.override(practice.time_zone):
            return self.get_response(request)
