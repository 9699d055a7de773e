"""Who may call the API: an active practice API key, for what the key's column of the
role table (``practices.access.GRANTS[API_KEY]``) allows.

Every API view names the action each of its operations needs in ``required_actions``
(by viewset action, or by HTTP method for a plain view; a dict by method where one
action answers two methods). An operation that names none is refused: a new endpoint
is closed until someone decides who may call it.
"""

from rest_framework.permissions import BasePermission

from practices.access import API_KEY, Action, allows
from practices.models import ApiKey


def required_action(view, method: str) -> Action | None:
    """The action ``method`` on ``view`` needs, from the view's ``required_actions``."""
    method = "GET" if method.upper() == "HEAD" else method.upper()  # HEAD is a GET's headers
    table = getattr(view, "required_actions", {})
    name = getattr(view, "action", None) or method.lower()
    entry = table.get(name)
    if isinstance(entry, dict):
        entry = entry.get(method)
    return entry


def handles(view, method: str) -> bool:
    """Whether ``view`` has a handler for ``method`` (a viewset: in its action map)."""
    method = method.lower()
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method in action_map or (method == "head" and "get" in action_map)
    return method in view.http_method_names and hasattr(view, method)


class HasPracticeApiKey(BasePermission):
    message = "Send a practice API key as 'Authorization: Bearer <key>'."

    def has_permission(self, request, view) -> bool:
        # Without a key DRF answers 401 (the authenticator gives a challenge); with a key
        # that may not do this, 403.
        if not isinstance(request.auth, ApiKey):
            return False
        if not handles(view, request.method):
            return True  # nothing to protect: the view answers 405 Method Not Allowed
        action = required_action(view, request.method)
        if action is None or not allows(API_KEY, action):
            self.message = "An API key may not do this."
            return False
        return True
