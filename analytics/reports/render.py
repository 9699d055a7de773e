"""Reports as files: CSV (UTF-8, a header row, plain numbers) and PDF (WeasyPrint, on the
practice's letterhead, with the generated-on date and page numbers)."""

import base64
import logging
import mimetypes
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from practices.csv_export import csv_response as shared_csv_response
from practices.models import Practice, settings_for

log = logging.getLogger(__name__)

PRINT_CSS = "css/reports-print.css"


def _rounded(value):
    # Money to the cent, rates and averages to one decimal: still numbers, so the shared
    # writer writes them as numbers (never prefixed, negative ones included).
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, float):
        return round(value, 1)
    return value


def csv_response(filename: str, header: list[str], lines: list[list]) -> HttpResponse:
    """A report as CSV, through the product's one CSV writer (``practices.csv_export``):
    an office named "=HYPERLINK(...)" stays text when the file is opened."""
    return shared_csv_response(filename, header, ([_rounded(v) for v in line] for line in lines))


# --- PDF -------------------------------------------------------------------------------


def letterhead(practice: Practice) -> dict:
    """What heads every report PDF: the practice's name, address, phone and logo."""
    return {
        "name": practice.name,
        "address_lines": [line.strip() for line in practice.address.splitlines() if line.strip()],
        "phone": practice.phone,
        "logo": _logo_data_uri(practice),
    }


def _logo_data_uri(practice: Practice) -> str:
    logo = settings_for(practice).logo
    if not logo:
        return ""
    try:
        with logo.open("rb") as fh:
            content = fh.read()
    except OSError:
        log.warning("practice %s: logo file missing", practice.pk)
        return ""
    kind = mimetypes.guess_type(logo.name)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(content).decode('ascii')}"


@cache
def _pdf_setup():
    """Made once per process: the font configuration (finding the fonts is a good part of
    a render) and the parsed print stylesheet."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    path = finders.find(PRINT_CSS)
    css = Path(path).read_text(encoding="utf-8") if path else ""
    return font_config, CSS(string=css, font_config=font_config)


def render_pdf(
    practice: Practice, template: str, context: dict, *, landscape: bool = False
) -> bytes:
    """Render ``template`` (which extends the PDF base) to PDF bytes."""
    # Imported when needed: about a second to load.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    context = {
        **context,
        "letterhead": letterhead(practice),
        "generated_on": timezone.localtime(),
        "landscape": landscape,
    }
    html = render_to_string(template, context)
    font_config, stylesheet = _pdf_setup()
    # A report needs nothing from outside itself (the logo is inline): no file or
    # network fetches, whatever a template or an office name contains.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[stylesheet], font_config=font_config
    )


def pdf_response(filename: str, content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    # Inline: the browser shows it, with its own print and save buttons.
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
