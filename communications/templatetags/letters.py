"""Letter figures for templates: a status link's liveness, the board's loop-closure rates.
(The "Letters" panels of the case and office pages are communications/panels.py.)"""

from django import template

from .. import loop_closure, status_links

register = template.Library()


@register.filter
def link_live(link) -> bool:
    return status_links.is_live(link)


@register.simple_tag(takes_context=True)
def loop_rates_for(context, rows) -> dict:
    """Loop-closure rates of the offices of a page of board rows (rows have office_id):
    one query for the page, whatever its size."""
    request = context.get("request")
    if request is None or getattr(request, "practice", None) is None:
        return {}
    return loop_closure.office_loop_rates(request.practice, [row.office_id for row in rows])


@register.filter
def rate_of(rates: dict, office_id):
    return rates.get(office_id)
