"""Resolve the current practice for each request and enter its scope.

The practice a user works in is kept in the session (the header switcher changes it).
With one membership it is chosen automatically. Views then run inside
``practice_scope(request.practice)``, so every tenant query is filtered by the scoped
managers and a forgotten filter cannot leak another practice's rows.
"""

from django.utils import timezone
from django_scopes import scopes_disabled

from .models import Membership, Practice, Role
from .scoping import practice_scope

SESSION_KEY = "practice_id"


def memberships_of(user) -> list[Membership]:
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user)
            # The settings come along: the two-factor policy is read on every request.
            .select_related("practice", "practice__settings")
            .order_by("practice__name")
        )


def resolve_practice(request) -> tuple[Practice | None, Membership | None]:
    user = request.user
    if not user.is_authenticated:
        return None, None
    memberships = memberships_of(user)
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
        practice, membership = resolve_practice(request)
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
