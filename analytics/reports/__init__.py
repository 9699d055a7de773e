"""The practice's reports: one module per report (its query, its tables, its CSV), shared
filters, tables, charts and CSV/PDF rendering. PHI never appears: only offices, source
types, case types and counts.

Every query runs in the caller's practice scope and costs a fixed number of statements,
whatever the number of offices.
"""

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from practices.models import Practice

from .acceptance import acceptance_csv, acceptance_tables, case_acceptance
from .charts import trend_figures, trend_svgs
from .filters import ReportFilters
from .tables import Table
from .trend import rolling_trend, trend_csv, trend_tables
from .volume import referral_volume, volume_csv, volume_tables


@dataclass(frozen=True)
class ReportKind:
    slug: str
    title: str
    summary: str
    build: Callable[[ReportFilters, Practice], object]
    tables: Callable[[object], list[Table]]
    csv: Callable[[object, bool], tuple[list[str], list[list]]]
    figures: Callable[[object], list[dict]] | None = None  # Plotly, for the page
    svgs: Callable[[object], list[dict]] | None = None  # the same charts, for the PDF
    uses_period: bool = True

    def scope(self, filters: ReportFilters) -> str:
        """What the report covers, in words: the period only where it groups the figures."""
        return filters.describe(with_period=self.uses_period)

    def file_name(self, filters: ReportFilters, extension: str) -> str:
        return f"{self.slug}-{filters.slug}.{extension}"


REPORTS: dict[str, ReportKind] = {
    kind.slug: kind
    for kind in [
        ReportKind(
            slug="referral-volume",
            title="Referral volume",
            summary="Referrals received from each referrer in each period.",
            build=lambda filters, practice: referral_volume(filters),
            tables=volume_tables,
            csv=volume_csv,
        ),
        ReportKind(
            slug="case-acceptance",
            title="Case acceptance",
            summary=(
                "Consults completed, treatment accepted and declined, surgeries and "
                "production, by referring office and by source type."
            ),
            build=lambda filters, practice: case_acceptance(filters, ZoneInfo(practice.time_zone)),
            tables=acceptance_tables,
            csv=acceptance_csv,
            uses_period=False,
        ),
        ReportKind(
            slug="rolling-trend",
            title="12-month trend",
            summary=(
                "For each month, referrals in the 12 months to that month against the 12 "
                "months before: the practice and its top offices."
            ),
            build=lambda filters, practice: rolling_trend(filters),
            tables=trend_tables,
            csv=trend_csv,
            figures=trend_figures,
            svgs=trend_svgs,
            uses_period=False,
        ),
    ]
}
DEFAULT_REPORT = "referral-volume"
