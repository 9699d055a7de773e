"""The "Letters" panels of the case page and the office page: the delivery log and the
loop, fed here so those pages only include a tag (their views stay as they are)."""

from django import template

from practices.access import Action, can
from practices.models import settings_for

from .. import loop_closure, status_links

register = template.Library()

OFFICE_LETTERS_SHOWN = 15


def _base(context) -> dict:
    request = context.get("request")
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "next_url": request.get_full_path() if request else "",
    }


@register.inclusion_tag("communications/delivery/_case_panel.html", takes_context=True)
def case_letters(context, referral) -> dict:
    """Every letter of one case (a handful), and its loop: due so far vs sent."""
    rows = list(referral.letters.select_related("event").order_by("due_at", "id"))
    return {
        **_base(context),
        "referral": referral,
        "letters": rows,
        "loop": loop_closure.loop_of_letters(rows),
    }


@register.inclusion_tag("communications/delivery/_office_panel.html", takes_context=True)
def office_letters(context, office) -> dict:
    """An office's latest letters, its loop-closure rate and its status-page links."""
    request = context.get("request")
    practice = office.practice
    rows = list(
        office.letters.select_related("referral__patient").order_by("-due_at", "-id")[
            : OFFICE_LETTERS_SHOWN + 1
        ]
    )
    can_link = request is not None and can(request, Action.STATUS_LINKS)
    return {
        **_base(context),
        "office": office,
        "letters": rows[:OFFICE_LETTERS_SHOWN],
        "more": len(rows) > OFFICE_LETTERS_SHOWN,
        "rate": loop_closure.office_loop_rates(practice, [office.pk]).get(office.pk),
        "overdue": loop_closure.overdue_letters(practice).filter(office=office).count(),
        "grace_days": settings_for(practice).loop_closure_days,
        "can_link": can_link,
        "links": list(status_links.links_of(office)[:20]) if can_link else [],
        "link_days": settings_for(practice).status_link_days,
    }


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
