"""The pending count next to "Inbox" in the navigation: one COUNT query per page."""

from django import template

from practices.scoping import practice_scope

from ..online_intake import pending_count

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_pending_count(context) -> int:
    practice = context.get("current_practice")
    if practice is None:
        return 0
    with practice_scope(practice):
        return pending_count(practice)
