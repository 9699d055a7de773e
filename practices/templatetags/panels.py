"""``{% panels "case" referral %}``: the panels that apps placed on a page (practices/panels.py)."""

from django import template

from .. import panels as registry

register = template.Library()


@register.simple_tag(takes_context=True)
def panels(context, place: str, obj=None):
    return registry.render(place, context, obj)
