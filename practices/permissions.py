"""Role checks for views. Permission checks live in views, never only in templates."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .models import Role

ALL_ROLES = frozenset(Role.values)
# Who may see revenue and production figures: the front desk works intake, not money.
FINANCIAL_ROLES = frozenset({Role.ADMIN, Role.COORDINATOR, Role.CLINICIAN})


def practice_required(view=None, *, roles=ALL_ROLES):
    """Require a logged-in user working in a practice, with one of ``roles``."""

    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.practice is None:
                return redirect("pick_practice")
            if request.role not in roles:
                raise PermissionDenied("Your role does not allow this page.")
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


def can_see_revenue(request) -> bool:
    return request.role in FINANCIAL_ROLES
