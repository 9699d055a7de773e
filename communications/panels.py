"""The "Letters" panels of the case page and the office page: the delivery log and the
loop. The referral domain's pages offer the places (practices/panels.py) and
CommunicationsConfig.ready() registers these there: referrals sits below communications and
neither imports nor loads anything of ours (docs/architecture.md)."""

from django.template.loader import render_to_string

from practices.access import Action, can
from practices.models import settings_for

from . import loop_closure, status_links

OFFICE_LETTERS_SHOWN = 15


def _base(context) -> dict:
    request = context.get("request")
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "next_url": request.get_full_path() if request else "",
    }


def case_letters(context, referral) -> str:
    """Every letter of one case (a handful), and its loop: due so far vs sent."""
    rows = list(referral.letters.select_related("event").order_by("due_at", "id"))
    data = {
        **_base(context),
        "referral": referral,
        "letters": rows,
        "loop": loop_closure.loop_of_letters(rows),
    }
    return render_to_string("communications/delivery/_case_panel.html", data)


def office_letters(context, office) -> str:
    """An office's latest letters, its loop-closure rate and its status-page links."""
    request = context.get("request")
    practice = office.practice
    rows = list(
        office.letters.select_related("referral__patient").order_by("-due_at", "-id")[
            : OFFICE_LETTERS_SHOWN + 1
        ]
    )
    can_link = request is not None and can(request, Action.STATUS_LINKS)
    data = {
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
    return render_to_string("communications/delivery/_office_panel.html", data)
