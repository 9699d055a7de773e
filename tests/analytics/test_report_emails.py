"""The monthly referrer review and the quarterly trend report: their figures, the hourly
beat that queues them on each practice's local first-of-the-month morning, one outbox row
per period however often it runs, the PDF attached, and delivery to a real SMTP server."""

import datetime as dt
import subprocess
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_scopes import scopes_disabled

from analytics import report_emails, tasks
from analytics.choices import ReferrerStatus
from analytics.nightly import recompute
from analytics.reports.monthly_review import monthly_review
from analytics.reports.quarterly import quarterly_report
from analytics.reports.tables import Kind, show
from communications.models import EmailKind, OutgoingEmail
from communications.tasks import send_outgoing_email
from practices.models import Role
from practices.scoping import practice_scope
from referrals.choices import SourceType
from tests.communications.letter_cases import tasks_run_inline
from tests.factories import MembershipFactory, OfficeFactory, UserFactory
from tests.smtp import serve_smtp

from .history import add_monthly, add_referrals, month_list
from .report_data import refer

D = dt.date
NEW_YORK = ZoneInfo("America/New_York")


def local(zone, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


@pytest.fixture
def eager_tasks():
    with tasks_run_inline():
        yield


@pytest.fixture
def smtp_server(settings):
    yield from serve_smtp(settings)


def referrer_mix(practice, as_of: dt.date) -> dict:
    """One office in each status as of ``as_of`` (Nov 1 or Oct 1, 2026), computed by the
    nightly job: steady 5 a month, a drop from 9 to 1 a month, quiet since June, gone
    since August 2025, new in October, and one that never referred."""
    months = month_list(D(2024, 10, 1), 24)  # Oct 2024 .. Sep 2026
    with practice_scope(practice):
        offices = {
            name: OfficeFactory(practice=practice, name=name)
            for name in [
                "Steady Smiles",
                "Drifting Dental",
                "Quiet Dental",
                "Gone Dental",
                "Fresh Dental",
                "Prospect Dental",
            ]
        }
        add_monthly(offices["Steady Smiles"], months + [D(2026, 10, 1)], [5] * 25)
        add_monthly(offices["Drifting Dental"], months + [D(2026, 10, 1)], [9] * 16 + [1] * 9)
        add_monthly(offices["Quiet Dental"], month_list(D(2025, 7, 1), 12), [2] * 12)
        add_referrals(offices["Gone Dental"], [D(2025, 6, 3), D(2025, 8, 14)])
        add_referrals(offices["Fresh Dental"], [D(2026, 10, 10)])
        refer(practice, None, D(2026, 10, 20), source=SourceType.WEBSITE)
        refer(practice, None, D(2026, 8, 20), source=SourceType.SELF)
        recompute(practice, as_of)
    return offices


def admins_and_a_coordinator(practice, admin_user) -> list[str]:
    with scopes_disabled():
        second = UserFactory(email="owner@lakeside.test")
        MembershipFactory(practice=practice, user=second, role=Role.ADMIN)
        coordinator = UserFactory(email="coord@lakeside.test")
        MembershipFactory(practice=practice, user=coordinator, role=Role.COORDINATOR)
    return sorted([admin_user.email, second.email])


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    done = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())  # words, whatever the line breaks


def attachment(email: OutgoingEmail) -> bytes:
    with email.attachment.open("rb") as fh:
        return fh.read()


REPORT_KINDS = [EmailKind.MONTHLY_REVIEW, EmailKind.QUARTERLY_REPORT]


def outbox(practice) -> list[OutgoingEmail]:
    """The practice's report emails (the nightly run writes its alert digest too)."""
    with practice_scope(practice):
        return list(OutgoingEmail.objects.filter(kind__in=REPORT_KINDS).order_by("dedupe_key"))


# --- when ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (local(NEW_YORK, 2026, 11, 1, 6, 59), []),
        (local(NEW_YORK, 2026, 11, 1, 7, 0), [(EmailKind.MONTHLY_REVIEW, D(2026, 10, 1))]),
        (local(NEW_YORK, 2026, 11, 3, 15, 0), [(EmailKind.MONTHLY_REVIEW, D(2026, 10, 1))]),
        (local(NEW_YORK, 2026, 11, 4, 9, 0), []),
        (local(NEW_YORK, 2026, 10, 31, 23, 0), []),
        (
            local(NEW_YORK, 2026, 10, 1, 8, 0),
            [
                (EmailKind.MONTHLY_REVIEW, D(2026, 9, 1)),
                (EmailKind.QUARTERLY_REPORT, D(2026, 7, 1)),
            ],
        ),
        (
            local(NEW_YORK, 2027, 1, 1, 9, 0),
            [
                (EmailKind.MONTHLY_REVIEW, D(2026, 12, 1)),
                (EmailKind.QUARTERLY_REPORT, D(2026, 10, 1)),
            ],
        ),
    ],
)
def test_reports_are_due_from_the_morning_of_the_first_with_two_days_to_catch_up(moment, due):
    assert report_emails.due_reports(moment, report_emails.REPORT_HOUR) == due


def test_the_keys_name_the_period():
    assert report_emails.monthly_review_key(D(2026, 10, 1)) == "monthly-review:2026-10"
    assert report_emails.quarterly_report_key(D(2026, 7, 1)) == "quarterly-report:2026-Q3"


# --- the figures ----------------------------------------------------------------------------


def test_the_monthly_review_counts_statuses_and_lists_offices_with_reasons(practice):
    referrer_mix(practice, D(2026, 11, 1))
    with practice_scope(practice):
        review = monthly_review(D(2026, 10, 1), D(2026, 11, 1))
    assert review.as_of == D(2026, 11, 1)
    assert review.counts == {
        ReferrerStatus.ACTIVE: 1,
        ReferrerStatus.DECLINING: 1,
        ReferrerStatus.INACTIVE: 1,
        ReferrerStatus.LOST: 1,
        ReferrerStatus.NEW: 1,
        ReferrerStatus.PROSPECT: 1,
    }
    assert (review.referring, review.not_referring) == (3, 2)
    assert review.referrals == 5 + 1 + 1 + 1  # Steady, Drifting, Fresh, the website's
    names = {status: [o.name for o in offices] for status, offices in review.lists.items()}
    assert names == {
        ReferrerStatus.NEW: ["Fresh Dental"],
        ReferrerStatus.DECLINING: ["Drifting Dental"],
        ReferrerStatus.INACTIVE: ["Quiet Dental"],
        ReferrerStatus.LOST: ["Gone Dental"],
    }
    (drifting,) = review.lists[ReferrerStatus.DECLINING]
    assert drifting.reason and drifting.revenue_at_risk > 0
    assert [(t.name, t.month, t.year) for t in review.top] == [
        ("Steady Smiles", 5, 60),
        ("Drifting Dental", 1, 3 * 9 + 9),
        ("Fresh Dental", 1, 1),
    ]


def test_the_quarterly_report_compares_the_quarter_by_office_and_source(practice):
    referrer_mix(practice, D(2026, 10, 1))
    with practice_scope(practice):
        report = quarterly_report(D(2026, 7, 1))
    assert report.label == "Q3 2026"
    rows = {(line.label, line.this, line.previous, line.last_year) for line in report.offices}
    assert rows == {
        ("Steady Smiles", 15, 15, 15),
        ("Drifting Dental", 3, 3, 27),
        ("Quiet Dental", 0, 6, 6),
        ("Gone Dental", 0, 0, 1),
    }
    assert report.offices[0].label == "Steady Smiles"
    drifting = report.office("Drifting Dental")
    assert (drifting.change_previous, drifting.change_last_year) == (0, pytest.approx(-88.89, 0.01))
    assert [(line.label, line.this) for line in report.sources] == [("Patient self-referral", 1)]
    total = report.total
    assert (total.this, total.previous, total.last_year) == (19, 24, 49)
    # The rolling 12 months to September 2026: Steady, Drifting, Quiet and the self-referral.
    last = report.trend.practice.last
    assert (last.month, last.rolling) == (D(2026, 9, 1), 60 + (4 * 9 + 8) + 9 * 2 + 1)


# --- the beat and the outbox ------------------------------------------------------------------


def test_the_beat_writes_one_monthly_review_however_often_it_runs(
    practice, admin_user, eager_tasks
):
    recipients = admins_and_a_coordinator(practice, admin_user)
    referrer_mix(practice, D(2026, 11, 1))
    with time_machine.travel(local(NEW_YORK, 2026, 11, 1, 8, 5), tick=False):
        assert tasks.schedule_report_emails() == 1
        assert tasks.schedule_report_emails() == 0
    with time_machine.travel(local(NEW_YORK, 2026, 11, 2, 9, 5), tick=False):
        assert tasks.schedule_report_emails() == 0  # the catch-up day finds it sent
    (email,) = outbox(practice)
    assert email.kind == EmailKind.MONTHLY_REVIEW
    assert email.dedupe_key == "monthly-review:2026-10"
    assert email.to == recipients  # administrators only
    assert email.subject == "Referrer review for October 2026 — Lakeside Oral Surgery"
    assert "3 offices referring, 2 not referring" in email.body_text
    assert email.attachment_name == "monthly-review-2026-10.pdf"
    text = pdf_text(attachment(email))
    for expected in [
        "Lakeside Oral Surgery",
        "Monthly referrer review",
        "October 2026",
        "Top referrers in October 2026",
        "Steady Smiles",
        "Drifting Dental",
        "Quiet Dental",
        "Gone Dental",
        "Fresh Dental",
        "Page 1 of",
    ]:
        assert expected in text
    assert "Test Patient" not in text and "Patient1" not in text


def test_nothing_is_written_before_the_practice_s_morning(practice, admin_user, eager_tasks):
    referrer_mix(practice, D(2026, 11, 1))
    with time_machine.travel(local(NEW_YORK, 2026, 11, 1, 6, 30), tick=False):
        assert tasks.schedule_report_emails() == 0
    assert outbox(practice) == []


def test_a_quarter_s_first_day_brings_the_quarterly_report_too(practice, admin_user, eager_tasks):
    referrer_mix(practice, D(2026, 10, 1))
    with time_machine.travel(local(NEW_YORK, 2026, 10, 1, 9, 0), tick=False):
        assert tasks.schedule_report_emails() == 2
        assert tasks.schedule_report_emails() == 0
    monthly, quarterly = outbox(practice)
    assert monthly.dedupe_key == "monthly-review:2026-09"
    assert quarterly.dedupe_key == "quarterly-report:2026-Q3"
    assert quarterly.kind == EmailKind.QUARTERLY_REPORT
    assert quarterly.attachment_name == "quarterly-report-2026-Q3.pdf"
    assert quarterly.subject == "Referral trends for Q3 2026 — Lakeside Oral Surgery"
    assert "19 referrals in Q3 2026; 24 the quarter before; 49 in the same quarter" in (
        quarterly.body_text
    )
    text = pdf_text(attachment(quarterly))
    for expected in [
        "Quarterly referral trends",
        "Q3 2026 against the quarter before and a year earlier",
        "Steady Smiles",
        "Rolling 12 months",
        "Sep 2026",
    ]:
        assert expected in text


def test_each_practice_gets_its_reports_on_its_own_clock(
    practice, other_practice, admin_user, outsider, eager_tasks
):
    other_practice.time_zone = "Pacific/Honolulu"
    other_practice.save()
    referrer_mix(practice, D(2026, 11, 1))
    with practice_scope(other_practice):
        hilltop = OfficeFactory(practice=other_practice, name="Hilltop Dental")
        add_referrals(hilltop, [D(2026, 10, 5), D(2026, 10, 6)])
        recompute(other_practice, D(2026, 11, 1))
    utc = ZoneInfo("UTC")
    with time_machine.travel(local(utc, 2026, 11, 1, 13, 0), tick=False):  # 8:00 / 3:00
        assert tasks.schedule_report_emails() == 1
    assert outbox(other_practice) == []
    with time_machine.travel(local(utc, 2026, 11, 1, 18, 0), tick=False):  # 13:00 / 8:00
        assert tasks.schedule_report_emails() == 1
    (ours,) = outbox(practice)
    (theirs,) = outbox(other_practice)
    assert ours.to == [admin_user.email] and theirs.to == [outsider.email]
    assert "Hilltop Dental" not in pdf_text(attachment(ours))
    their_text = pdf_text(attachment(theirs))
    assert "Hilltop Dental" in their_text and "Steady Smiles" not in their_text


def test_a_repeated_send_task_writes_the_review_once(practice, admin_user):
    referrer_mix(practice, D(2026, 11, 1))
    for _ in range(2):
        tasks.send_monthly_review.apply(args=(practice.pk, "2026-10-01", "2026-11-01")).get()
    (email,) = outbox(practice)
    assert email.dedupe_key == "monthly-review:2026-10"


def test_no_review_before_the_first_nightly_run(practice, admin_user):
    with practice_scope(practice):
        add_referrals(OfficeFactory(practice=practice), [D(2026, 10, 3)])
    result = tasks.send_monthly_review.apply(args=(practice.pk, "2026-10-01", "2026-11-01"))
    assert result.get() is None
    assert outbox(practice) == []


def test_no_report_without_an_administrator_to_read_it(practice, coordinator_user):
    referrer_mix(practice, D(2026, 11, 1))
    tasks.send_monthly_review.apply(args=(practice.pk, "2026-10-01", "2026-11-01")).get()
    assert outbox(practice) == []


def test_the_review_reaches_the_administrator_with_its_pdf(practice, admin_user, smtp_server):
    referrer_mix(practice, D(2026, 11, 1))
    email_id = tasks.send_monthly_review.apply(args=(practice.pk, "2026-10-01", "2026-11-01")).get()
    assert send_outgoing_email.apply(args=(practice.pk, email_id)).get() == "sent"
    (message,) = smtp_server.messages
    assert message["To"] == admin_user.email
    # (A long non-ASCII subject is folded: the parsed header keeps the fold's space.)
    assert message["Subject"].strip() == "Referrer review for October 2026 — Lakeside Oral Surgery"
    (pdf,) = [part for part in message.iter_attachments()]
    assert pdf.get_filename() == "monthly-review-2026-10.pdf"
    assert pdf.get_content_type() == "application/pdf"
    assert "Monthly referrer review" in pdf_text(pdf.get_content())


def test_money_in_the_review_is_the_nightly_job_s(practice, admin_user):
    referrer_mix(practice, D(2026, 11, 1))
    with practice_scope(practice):
        review = monthly_review(D(2026, 10, 1), D(2026, 11, 1))
        (drifting,) = review.lists[ReferrerStatus.DECLINING]
        assert isinstance(drifting.revenue_at_risk, Decimal)
        email = report_emails.queue_monthly_review(practice, D(2026, 10, 1), today=D(2026, 11, 1))
    text = pdf_text(attachment(email))
    assert show(drifting.revenue_at_risk, Kind.MONEY) in text
