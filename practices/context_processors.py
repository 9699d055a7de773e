from .access import Action, can
from .middleware import memberships_of
from .permissions import can_see_revenue


def current_practice(request):
    practice = getattr(request, "practice", None)
    if not request.user.is_authenticated:
        return {"current_practice": practice}
    return {
        "current_practice": practice,
        "current_role": getattr(request, "role", None),
        # Lazily evaluated: only pages that render the switcher pay for the query.
        "user_memberships": lambda: memberships_of(request.user),
        "can_see_revenue": can_see_revenue(request),
        # What the role may do, by action (practices.access): {% if may.import %}. For
        # links and sections only; each view checks its own action again.
        "may": {action.value: can(request, action) for action in Action},
    }
