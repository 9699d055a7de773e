"""Places on a page that apps above the page's own app fill, without the page importing them.

Imports run downward only, template tags and includes too (docs/architecture.md): a page of
a lower app cannot include a section of a higher one. So the page offers a *place* and
renders whatever was registered there; each app registers its panels in its
``AppConfig.ready()``. The places:

============  =====================================================  =========================
place         page (template)                                        panels registered by
============  =====================================================  =========================
``settings``  Settings (templates/practices/api_keys_settings.html)  every app: its section
``case``      a case (templates/referrals/timeline/_case.html)       communications: Letters
``office``    an office (templates/referrals/offices/detail.html)    communications: Letters
============  =====================================================  =========================

In the template: ``{% load panels %}{% panels "case" referral %}``. A panel is a function
``(context, obj) -> str`` (rendered HTML) of the page's template context and the page's
object; :func:`template` makes one that renders a template like ``{% include %}`` would.
"""

from collections.abc import Callable

from django.template import Context
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

SETTINGS = "settings"
CASE = "case"
OFFICE = "office"

Panel = Callable[[Context, object], str]
_registry: dict[str, dict[str, tuple[int, Panel]]] = {SETTINGS: {}, CASE: {}, OFFICE: {}}


def register(place: str, panel: Panel, *, order: int = 100, key: str | None = None) -> None:
    """Show ``panel`` at ``place``, panels in ascending ``order``. Registering the same key
    again replaces it (``ready()`` may run more than once)."""
    if place not in _registry:
        raise ValueError(f"No panel place {place!r}; the places are {sorted(_registry)}.")
    _registry[place][key or f"{panel.__module__}.{panel.__qualname__}"] = (order, panel)


def template(name: str) -> Panel:
    """A panel that renders the template ``name`` with the page's own context, as
    ``{% include name %}`` in the page would."""

    def render(context: Context, obj=None) -> str:
        included = context.template.engine.get_template(name)
        with context.push():
            return included.render(context)

    render.__qualname__ = f"template:{name}"
    return render


def render(place: str, context: Context, obj=None) -> SafeString:
    panels = sorted(_registry[place].values(), key=lambda entry: entry[0])
    # A panel returns rendered template output (safe); anything else is escaped.
    return mark_safe("".join(conditional_escape(panel(context, obj)) for _, panel in panels))
