"""The monthly referrer review and the quarterly trend report, emailed as PDF attachments
to the practice's administrators through the outbox.

Each email has a dedupe key naming its period ("monthly-review:2026-10",
"quarterly-report:2026-Q3"): the outbox keeps one row per key and practice, so a retried
task, a second beat or two workers at once never send a period twice.
"""

import datetime as dt
import logging

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from communications.models import EmailKind, OutgoingEmail
from communications.outbox import queue_email
from practices.models import Membership, Practice, PracticeSettings, Role

from .reports.charts import trend_svgs
from .reports.filters import add_months, month_label
from .reports.monthly_review import MonthlyReview, monthly_review, review_tables, status_tiles
from .reports.quarterly import QuarterlyReport, quarterly_report, quarterly_tables
from .reports.render import render_pdf
from .reports.trend import trend_tables

log = logging.getLogger(__name__)

# Practice-local hour from which the reports go out on the first of the month, unless the
# nightly recompute runs later (the review should read that night's statuses).
REPORT_HOUR = 7
# A beat missed on the 1st (worker down, deploy) still sends the reports on the 2nd or 3rd.
CATCH_UP_DAYS = 3
QUARTER_FIRST_MONTHS = (1, 4, 7, 10)


def monthly_review_key(month: dt.date) -> str:
    return f"monthly-review:{month:%Y-%m}"


def quarterly_report_key(quarter: dt.date) -> str:
    return f"quarterly-report:{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"


def report_hour(settings: PracticeSettings) -> int:
    return max(REPORT_HOUR, settings.nightly_hour + 1)


def in_report_days(local_now: dt.datetime) -> bool:
    return local_now.day <= CATCH_UP_DAYS


def due_reports(local_now: dt.datetime, hour: int) -> list[tuple[str, dt.date]]:
    """The reports due at the practice-local ``local_now``: ("monthly", month reviewed) and,
    at the start of a quarter, ("quarterly", the quarter that ended)."""
    if not in_report_days(local_now) or (local_now.day == 1 and local_now.hour < hour):
        return []
    month = add_months(local_now.date().replace(day=1), -1)
    due = [(EmailKind.MONTHLY_REVIEW, month)]
    if local_now.month in QUARTER_FIRST_MONTHS:
        due.append((EmailKind.QUARTERLY_REPORT, add_months(month, -2)))
    return due


def dedupe_key(kind: str, period: dt.date) -> str:
    if kind == EmailKind.MONTHLY_REVIEW:
        return monthly_review_key(period)
    return quarterly_report_key(period)


def report_recipients(practice: Practice) -> list[str]:
    """The practice's administrators (the scope picks the practice)."""
    return sorted(
        Membership.objects.filter(role=Role.ADMIN, user__is_active=True).values_list(
            "user__email", flat=True
        )
    )


def _queue(practice: Practice, *, kind: str, key: str, build) -> OutgoingEmail | None:
    """Write the report email once: nothing is rendered when its row exists already."""
    existing = OutgoingEmail.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing
    recipients = report_recipients(practice)
    if not recipients:
        log.info("practice %s: no administrator to send %s to", practice.pk, key)
        return None
    message = build()
    if message is None:
        return None
    try:
        # A savepoint: losing the race to a concurrent run must not break the caller's
        # transaction.
        with transaction.atomic():
            email, _ = queue_email(practice, kind=kind, dedupe_key=key, to=recipients, **message)
    except IntegrityError:
        return OutgoingEmail.objects.get(dedupe_key=key)
    return email


def _context(practice: Practice, **extra) -> dict:
    return {"practice": practice, "base_url": getattr(django_settings, "SITE_URL", ""), **extra}


# --- the monthly review ------------------------------------------------------------------


def monthly_review_pdf(practice: Practice, review: MonthlyReview) -> bytes:
    return render_pdf(
        practice,
        "analytics/reports/pdf/monthly_review.html",
        {
            "title": "Monthly referrer review",
            "subtitle": review.label,
            "review": review,
            "tiles": status_tiles(review),
            "tables": review_tables(review),
        },
    )


def queue_monthly_review(
    practice: Practice, month: dt.date, *, today: dt.date
) -> OutgoingEmail | None:
    """Write the review of ``month`` to the outbox (in the caller's practice scope), with
    the statuses of the latest snapshot up to ``today``. None when there is nothing to
    review yet (no nightly run) or nobody to send it to."""

    def build():
        review = monthly_review(month, today)
        if review.as_of is None:
            return None
        context = _context(practice, review=review)
        return {
            "subject": f"Referrer review for {review.label} — {practice.name}",
            "body_text": render_to_string("analytics/reports/email/monthly_review.txt", context),
            "body_html": render_to_string("analytics/reports/email/monthly_review.html", context),
            "attachment_name": f"{monthly_review_key(month).replace(':', '-')}.pdf",
            "attachment_content": monthly_review_pdf(practice, review),
        }

    return _queue(
        practice, kind=EmailKind.MONTHLY_REVIEW, key=monthly_review_key(month), build=build
    )


# --- the quarterly report ----------------------------------------------------------------


def quarterly_report_pdf(practice: Practice, report: QuarterlyReport) -> bytes:
    trend = trend_tables(report.trend)[:1]  # the practice's; offices are in the comparison
    return render_pdf(
        practice,
        "analytics/reports/pdf/quarterly_report.html",
        {
            "title": "Quarterly referral trends",
            "subtitle": f"{report.label} · the 12 months to {month_label(report.trend.months[-1])}",
            "report": report,
            "tables": quarterly_tables(report),
            "trend_tables": trend,
            "charts": trend_svgs(report.trend, width=720),
        },
    )


def queue_quarterly_report(practice: Practice, quarter: dt.date) -> OutgoingEmail | None:
    def build():
        report = quarterly_report(quarter)
        if not report.offices and not report.sources and not report.trend.practice.last.prior:
            return None  # a practice with no history yet: nothing to compare
        context = _context(practice, report=report, total=report.total)
        return {
            "subject": f"Referral trends for {report.label} — {practice.name}",
            "body_text": render_to_string("analytics/reports/email/quarterly_report.txt", context),
            "body_html": render_to_string("analytics/reports/email/quarterly_report.html", context),
            "attachment_name": f"{quarterly_report_key(report.quarter).replace(':', '-')}.pdf",
            "attachment_content": quarterly_report_pdf(practice, report),
        }

    return _queue(
        practice, kind=EmailKind.QUARTERLY_REPORT, key=quarterly_report_key(quarter), build=build
    )
