"""Charts of the trend report: a Plotly figure (plain JSON) for the page, and the same
lines as an inline SVG drawn on the server for the PDF (WeasyPrint runs no JavaScript)."""

import math
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .trend import TrendReport

PALETTE = ["#0f5c8c", "#b26b00", "#157f3b", "#6b4fa3", "#b42318", "#0b7a8c"]
PRIOR_COLOR = "#9aa5b4"
FONT = "DejaVu Sans, system-ui, sans-serif"


@dataclass(frozen=True)
class Line:
    label: str
    values: list[int]
    color: str
    dashed: bool = False


def practice_lines(report: TrendReport) -> list[Line]:
    points = report.practice.points
    return [
        Line("12 months before", [p.prior for p in points], PRIOR_COLOR, dashed=True),
        Line("Referrals, 12 months to the month", [p.rolling for p in points], PALETTE[0]),
    ]


def office_lines(report: TrendReport) -> list[Line]:
    return [
        Line(series.label, [p.rolling for p in series.points], PALETTE[i % len(PALETTE)])
        for i, series in enumerate(report.offices)
    ]


# --- Plotly (the page) ------------------------------------------------------------------


def plotly_figure(months, lines: list[Line], height: int = 300) -> dict:
    x = [m.isoformat() for m in months]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": line.label,
            "x": x,
            "y": line.values,
            "line": {"color": line.color, "width": 2, "dash": "dot" if line.dashed else "solid"},
            "marker": {"size": 4},
            "hovertemplate": "%{x|%b %Y}: %{y}<extra>" + escape(line.label) + "</extra>",
        }
        for line in lines
    ]
    layout = {
        "height": height,
        "margin": {"l": 44, "r": 12, "t": 8, "b": 40},
        "font": {"family": FONT, "size": 12, "color": "#1d2733"},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "xaxis": {"type": "date", "tickformat": "%b %y", "showgrid": False},
        # Counts: whole-number ticks, however small the numbers.
        "yaxis": {
            "rangemode": "tozero",
            "gridcolor": "#eef1f5",
            "zeroline": False,
            "tickformat": ",d",
            "dtick": nice_step(max([v for line in lines for v in line.values] or [0])),
        },
        "hovermode": "x unified",
    }
    return {"data": data, "layout": layout}


def trend_figures(report: TrendReport) -> list[dict]:
    figures = [
        {
            "id": "trend-practice-chart",
            "data_id": "trend-practice-data",
            "title": "Practice: rolling 12 months",
            "figure": plotly_figure(report.months, practice_lines(report)),
        }
    ]
    if report.offices:
        figures.append(
            {
                "id": "trend-offices-chart",
                "data_id": "trend-offices-data",
                "title": "Top offices: rolling 12 months",
                "figure": plotly_figure(report.months, office_lines(report)),
            }
        )
    return figures


# --- SVG (the PDF) ------------------------------------------------------------------------


def nice_step(top: float, ticks: int = 4) -> int:
    """A round step (1, 2, 5 x 10^k) that divides 0..top into about ``ticks`` parts."""
    if top <= 0:
        return 1
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return max(1, int(factor * magnitude))
    return max(1, int(10 * magnitude))


def _legend(lines: list[Line], left: int, right_edge: int) -> tuple[list[str], int]:
    """Legend entries laid out left to right, wrapping; returns the SVG and its height."""
    parts, x, row = [], left, 0
    for line in lines:
        width = 28 + int(6.4 * len(line.label))
        if x + width > right_edge and x > left:
            x, row = left, row + 1
        yy = 10 + 14 * row
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 16}" y1="{yy}" y2="{yy}" '
            f'stroke="{line.color}" stroke-width="2"{dash}/>'
            f'<text x="{x + 20}" y="{yy + 3}" fill="#1d2733">{escape(line.label)}</text>'
        )
        x += width
    return parts, 14 * (row + 1) + 8


def svg_line_chart(months, lines: list[Line], width: int = 480, height: int = 210) -> SafeString:
    """A line chart as inline SVG: a y axis from zero with round ticks, month labels, a
    legend above. Labels are escaped; nothing but numbers comes from the data."""
    left, right, bottom = 44, 22, 28
    legend, top = _legend(lines, left, width - right)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for line in lines for v in line.values] or [0])
    step = nice_step(peak)
    y_max = max(step, math.ceil(peak / step) * step)
    n = len(months)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans" '
        'font-size="10.5" role="img">',
        *legend,
    ]
    for value in range(0, y_max + 1, step):
        yy = y(value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{"#c5ccd6" if value == 0 else "#eef1f5"}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{yy + 3:.1f}" text-anchor="end" fill="#5f6b7a">'
            f"{value}</text>"
        )
    every = max(1, math.ceil(n / max(4, width // 70)))
    for i, month in enumerate(months):
        if (n - 1 - i) % every:  # counted from the last month, which is always labelled
            continue
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 14}" text-anchor="middle" '
            f'fill="#5f6b7a">{escape(f"{month:%b %y}")}</text>'
        )
    for line in lines:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{line.color}" '
            f'stroke-width="1.8"{dash}/>'
        )
        for i, v in enumerate(line.values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="1.8" fill="{line.color}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # built above from numbers and escaped labels


def trend_svgs(report: TrendReport, width: int = 480) -> list[dict]:
    """The trend's charts for a PDF: 480 wide fit two to a landscape row, 720 one to a
    portrait row."""
    charts = [
        {
            "title": "Practice: referrals in the 12 months to each month",
            "svg": svg_line_chart(report.months, practice_lines(report), width=width),
        }
    ]
    if report.offices:
        charts.append(
            {
                "title": "Top offices: referrals in the 12 months to each month",
                "svg": svg_line_chart(report.months, office_lines(report), width=width),
            }
        )
    return charts
