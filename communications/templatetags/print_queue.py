"""The count next to "Print queue" in the navigation: one COUNT query per page."""

from django import template

from practices.scoping import practice_scope

from ..models import Letter, LetterStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def print_queue_count(context) -> int:
    practice = context.get("current_practice")
    if practice is None:
        return 0
    with practice_scope(practice):
        return Letter.objects.filter(status=LetterStatus.PRINT_QUEUED).count()
