"""Small formatting helpers of the referrer-health pages: money, rates, shares and an
inline SVG sparkline (drawn on the server: no chart library for a 12-point line)."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.html import format_html

from ..choices import OutreachKind
from ..forms import display_name

register = template.Library()

SPARK_MONTHS = 12
OUTREACH_LABELS = dict(OutreachKind.choices)


@register.filter
def money(value) -> str:
    """Whole dollars with thousands separators: Decimal("172800.00") -> "$172,800"."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    sign = "−" if amount < 0 else ""
    return f"{sign}${intcomma(int(abs(amount)))}"


@register.filter
def percent(value) -> str:
    """A share (0..1) as a whole percentage; "—" when there is nothing to divide."""
    if value is None or value == "":
        return "—"
    return f"{round(float(value) * 100)}%"


@register.filter
def rate(value) -> str:
    """Referrals a month, to one decimal where it matters: 6.0 -> "6", 2.25 -> "2.3"."""
    if value is None or value == "":
        return "—"
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


def spark_months(as_of: dt.date) -> list[dt.date]:
    """The 12 full months before ``as_of``'s month, oldest first."""
    current = as_of.replace(day=1)
    return [current - relativedelta(months=SPARK_MONTHS - i) for i in range(SPARK_MONTHS)]


@register.simple_tag
def sparkline(monthly_counts, as_of: dt.date, width: int = 112, height: int = 26) -> str:
    """The last 12 full months of a snapshot's ``monthly_counts`` (whose last entry is the
    current, partial month) as a small SVG line, with the counts in its tooltip."""
    counts = [int(c) for c in (monthly_counts or [])[:-1]][-SPARK_MONTHS:]
    counts = [0] * (SPARK_MONTHS - len(counts)) + counts
    months = spark_months(as_of)
    peak = max(counts) or 1
    pad = 2.5
    step = (width - 2 * pad) / (SPARK_MONTHS - 1)

    def y(count: int) -> float:
        return round(height - pad - (count / peak) * (height - 2 * pad), 1)

    points = [(round(pad + i * step, 1), y(c)) for i, c in enumerate(counts)]
    line = " ".join(f"{x},{yy}" for x, yy in points)
    area = f"{points[0][0]},{height} {line} {points[-1][0]},{height}"
    label = ", ".join(f"{m:%b} {c}" for m, c in zip(months, counts, strict=True))
    last_x, last_y = points[-1]
    return format_html(
        '<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="Referrals a month, last 12 months: {label}">'
        "<title>{label}</title>"
        '<polygon class="spark-area" points="{area}"/>'
        '<polyline class="spark-line" points="{line}"/>'
        '<circle class="spark-dot" cx="{x}" cy="{y}" r="2.2"/>'
        "</svg>",
        w=width,
        h=height,
        label=label,
        area=area,
        line=line,
        x=last_x,
        y=last_y,
    )


@register.filter
def person(user) -> str:
    """A member's name for a page ("" for nobody)."""
    return display_name(user) if user else ""


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def outreach_kind(value: str) -> str:
    return OUTREACH_LABELS.get(value, value)
