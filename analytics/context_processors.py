"""The open-alert count next to "Alerts" in the navigation."""

from functools import cache

from practices.scoping import practice_scope

from .inbox import attention_count


def alert_count(request):
    practice = getattr(request, "practice", None)
    if practice is None or not request.user.is_authenticated:
        return {}

    # Lazy and memoised: one COUNT query, and only on pages that render the navigation.
    # The scope is entered here because a template may render after the view has returned.
    @cache
    def count() -> int:
        with practice_scope(practice):
            return attention_count()

    return {"alert_attention_count": count}
