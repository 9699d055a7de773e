"""Access checks for views, read from the one table in ``practices.access``.

Permission checks live in views, never only in templates. Each view names the action it
needs; the decorator also puts it on the view (``view.required_action``) so the route
matrix tests can read what every URL requires from the table instead of a second list.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .access import Action, can


def practice_required(action: Action):
    """Require a logged-in user working in a practice whose role may do ``action``."""
    if not isinstance(action, Action):
        # A bare @practice_required would silently wrap the view as the "action".
        raise TypeError("practice_required needs an Action: @practice_required(Action.X)")

    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.practice is None:
                return redirect("pick_practice")
            if not can(request, action):
                raise PermissionDenied("Your role does not allow this page.")
            return view_func(request, *args, **kwargs)

        wrapper.required_action = action
        return wrapper

    return decorator


def can_see_revenue(request) -> bool:
    return can(request, Action.VIEW_MONEY)
