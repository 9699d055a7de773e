"""/favicon.ico: browsers ask for it on every page, whatever the page's <link rel="icon">
says (a PDF tab, a bookmark, an old browser). It answers with a redirect to the SVG icon in
static/ rather than a second copy of the icon.

Not a permanent redirect: in production the static file's name carries a hash of its
content (ManifestStaticFilesStorage), so a new icon gets a new address and a browser must
not remember the old one for ever; a day's cache spares the repeated asks.
"""

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

ICON = "img/favicon.svg"
CACHE_SECONDS = 24 * 60 * 60


@require_safe
def favicon(request):
    response = HttpResponseRedirect(static(ICON))
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response
