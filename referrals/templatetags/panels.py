"""``{% panels "case" referral %}``: the panels that apps above the referral domain placed on
its pages (referrals/panels.py)."""

from django import template

from .. import panels as registry

register = template.Library()


@register.simple_tag(takes_context=True)
def panels(context, place: str, obj):
    return registry.render(place, context, obj)
