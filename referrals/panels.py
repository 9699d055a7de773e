"""Places on the referral domain's pages that apps above it fill, without it importing them.

The case page and the office page show a "Letters" panel that communications renders, but
the referral domain sits below communications (imports run downward only, template tags
included: docs/architecture.md). So it only offers places and renders whatever was
registered there; an app registers its panels in its ``AppConfig.ready()``::

    panels.register(panels.CASE, case_letters)   # communications/apps.py

A panel is a function ``(context, obj) -> str`` (rendered HTML): the page's template
context and the page's object (the referral, the office).
"""

from collections.abc import Callable

from django.template import Context
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

CASE = "case"  # templates/referrals/timeline/_case.html, after the next step
OFFICE = "office"  # templates/referrals/offices/detail.html, after the recent referrals

Panel = Callable[[Context, object], str]
_registry: dict[str, list[Panel]] = {CASE: [], OFFICE: []}


def register(place: str, panel: Panel) -> None:
    if place not in _registry:
        raise ValueError(f"No panel place {place!r}; the places are {sorted(_registry)}.")
    if panel not in _registry[place]:  # ready() may run twice (tests, autoreload)
        _registry[place].append(panel)


def render(place: str, context: Context, obj) -> SafeString:
    # A panel returns rendered template output (safe); anything else is escaped.
    return mark_safe("".join(conditional_escape(panel(context, obj)) for panel in _registry[place]))
