"""Reports: exact figures of each report on a practice built by hand, the filters, CSV and
PDF downloads, money by role, tenant isolation and a query count that stays flat."""

import csv
import datetime as dt
import io
import subprocess
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from analytics.reports.acceptance import case_acceptance
from analytics.reports.filters import Period, ReportFilters
from analytics.reports.trend import rolling_trend
from analytics.reports.volume import referral_volume
from practices.scoping import practice_scope
from referrals.choices import CaseType, SourceType
from tests.factories import OfficeFactory

from .history import add_referrals
from .report_data import NOW, ZONE, crafted_practice, other_practice_data

D = dt.date
PAGE = "/reports/"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def offices(practice):
    with practice_scope(practice):
        return crafted_practice(practice)


@pytest.fixture
def hilltop(other_practice):
    with practice_scope(other_practice):
        return other_practice_data(other_practice)


def year(**kwargs) -> ReportFilters:
    """Nov 2025 – Oct 2026, the default range on NOW."""
    return ReportFilters(first_month=D(2025, 11, 1), last_month=D(2026, 10, 1), **kwargs)


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def pdf_page_size(content: bytes) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", "-"], input=content, capture_output=True, check=True)
    line = next(x for x in info.stdout.decode().splitlines() if x.startswith("Page size"))
    width, _, height = line.split(":")[1].split()[:3]
    return float(width), float(height)


# --- referral volume ---------------------------------------------------------------------


def test_volume_by_quarter_counts_each_referrer_in_each_period(practice, offices, hilltop):
    with practice_scope(practice):
        report = referral_volume(year(period=Period.QUARTER))
    assert [p.label for p in report.periods] == ["Q4 2025", "Q1 2026", "Q2 2026", "Q3 2026"] + [
        "Q4 2026"
    ]
    assert [p.partial for p in report.periods] == [True, False, False, False, True]
    assert [(line.label, line.source) for line in report.lines] == [
        ("Birch Dental", "Doctor (GP)"),
        ("Cedar Dental", "Other specialist"),
        ("Website", "Website"),
        ("Patient self-referral", "Patient self-referral"),
    ]
    per_period = {line.label: line.per_period(report.periods) for line in report.lines}
    assert per_period == {
        "Birch Dental": [2, 3, 0, 1, 1],
        "Cedar Dental": [0, 3, 0, 1, 0],
        "Website": [0, 0, 2, 0, 0],
        "Patient self-referral": [0, 0, 1, 0, 0],
    }
    assert report.totals == [2, 6, 3, 2, 1]
    assert report.total == 14


def test_volume_by_month_and_by_year(practice, offices):
    with practice_scope(practice):
        monthly = referral_volume(year())
        yearly = referral_volume(year(period=Period.YEAR))
    assert len(monthly.periods) == 12
    assert monthly.line("Birch Dental").per_period(monthly.periods) == [
        1, 1, 1, 2, 0, 0, 0, 0, 1, 0, 0, 1,
    ]  # fmt: skip
    assert [p.label for p in yearly.periods] == ["2025", "2026"]
    assert yearly.totals == [2, 12]


def test_volume_filters_and_case_type_breakdown(practice, offices):
    with practice_scope(practice):
        implants = referral_volume(year(case_type=CaseType.IMPLANTS))
        website = referral_volume(year(source_type=SourceType.WEBSITE))
        cedar = referral_volume(year(office=offices["Cedar Dental"]))
        breakdown = referral_volume(year(period=Period.YEAR, by_case_type=True))
    assert [(line.label, line.total) for line in implants.lines] == [("Birch Dental", 3)]
    assert [(line.label, line.total) for line in website.lines] == [("Website", 2)]
    assert [(line.label, line.total) for line in cedar.lines] == [("Cedar Dental", 4)]
    birch = breakdown.line("Birch Dental")
    assert [(c.case_type, c.per_period(breakdown.periods)) for c in birch.case_types] == [
        (CaseType.THIRD_MOLARS, [2, 2]),
        (CaseType.IMPLANTS, [0, 3]),
    ]


def test_volume_csv_has_a_header_row_every_referrer_and_the_totals(admin_client, offices):
    response = admin_client.get(
        reverse("report_csv", args=["referral-volume"]), {"period": "quarter"}
    )
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="referral-volume-2025-11_2026-10.csv"'
    )
    assert csv_rows(response) == [
        [
            "Referrer",
            "Source",
            "Q4 2025 (Nov 2025 – Dec 2025 only)",
            "Q1 2026",
            "Q2 2026",
            "Q3 2026",
            "Q4 2026 (Oct 2026 only)",
            "Total",
        ],
        ["Birch Dental", "Doctor (GP)", "2", "3", "0", "1", "1", "7"],
        ["Cedar Dental", "Other specialist", "0", "3", "0", "1", "0", "4"],
        ["Website", "Website", "0", "0", "2", "0", "0", "2"],
        ["Patient self-referral", "Patient self-referral", "0", "0", "1", "0", "0", "1"],
        ["Total", "", "2", "6", "3", "2", "1", "14"],
    ]


def test_volume_csv_with_the_case_type_breakdown(admin_client, offices):
    response = admin_client.get(
        reverse("report_csv", args=["referral-volume"]),
        {"period": "year", "by_case_type": "1", "office": offices["Birch Dental"].pk},
    )
    assert csv_rows(response) == [
        [
            "Referrer",
            "Source",
            "Case type",
            "2025 (Nov 2025 – Dec 2025 only)",
            "2026 (Jan 2026 – Oct 2026 only)",
            "Total",
        ],
        ["Birch Dental", "Doctor (GP)", "Third molars", "2", "2", "4"],
        ["Birch Dental", "Doctor (GP)", "Implants", "0", "3", "3"],
        ["Total", "", "", "2", "5", "7"],
    ]


def test_an_office_name_that_looks_like_a_formula_stays_text_in_the_csv(
    admin_client, practice, offices
):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name='=HYPERLINK("http://x")')
        add_referrals(office, [D(2026, 3, 3)])
    rows = csv_rows(admin_client.get(reverse("report_csv", args=["referral-volume"])))
    assert rows[3][:2] == ['\'=HYPERLINK("http://x")', "Doctor (GP)"]


# --- case acceptance ---------------------------------------------------------------------


def test_acceptance_by_office_and_by_source_counts_steps_in_their_month(practice, offices, hilltop):
    with practice_scope(practice):
        report = case_acceptance(year(), ZONE)
    birch, cedar = report.office("Birch Dental"), report.office("Cedar Dental")
    assert [line.label for line in report.offices] == ["Birch Dental", "Cedar Dental"]
    assert (birch.consults, birch.accepted, birch.declined, birch.surgeries) == (4, 3, 1, 2)
    assert birch.rate == 0.75
    # The surgery at 23:30 on Oct 31 (New York) is in the range though UTC says November.
    assert birch.production == Decimal("5500.50")
    # The voided consult does not count.
    assert (cedar.consults, cedar.accepted, cedar.declined, cedar.surgeries) == (2, 1, 1, 1)
    assert (cedar.rate, cedar.production) == (0.5, Decimal("1800.00"))
    assert [line.label for line in report.sources] == [
        "Doctor (GP)",
        "Other specialist",
        "Patient self-referral",
    ]
    self_referred = report.source(SourceType.SELF)
    assert (self_referred.consults, self_referred.accepted, self_referred.rate) == (1, 1, 1.0)
    total = report.total
    assert (total.consults, total.accepted, total.declined, total.surgeries) == (7, 5, 2, 3)
    assert total.rate == pytest.approx(5 / 7)
    assert total.production == Decimal("7300.50")


def test_acceptance_follows_the_case_type_filter(practice, offices):
    with practice_scope(practice):
        report = case_acceptance(year(case_type=CaseType.IMPLANTS), ZONE)
    birch = report.office("Birch Dental")
    assert (birch.consults, birch.accepted, birch.surgeries, birch.production) == (
        1,
        1,
        1,
        Decimal("3100.50"),
    )
    assert [line.label for line in report.offices] == ["Birch Dental"]


def test_acceptance_csv_writes_money_as_plain_decimals(admin_client, offices):
    rows = csv_rows(admin_client.get(reverse("report_csv", args=["case-acceptance"])))
    assert rows[0] == [
        "Grouping",
        "Referrer or source",
        "Consults completed",
        "Accepted",
        "Declined",
        "Acceptance rate (%)",
        "Surgeries completed",
        "Production",
    ]
    assert rows[1:] == [
        ["Referring office", "Birch Dental", "4", "3", "1", "75.0", "2", "5500.50"],
        ["Referring office", "Cedar Dental", "2", "1", "1", "50.0", "1", "1800.00"],
        ["Source type", "Doctor (GP)", "4", "3", "1", "75.0", "2", "5500.50"],
        ["Source type", "Other specialist", "2", "1", "1", "50.0", "1", "1800.00"],
        ["Source type", "Patient self-referral", "1", "1", "0", "100.0", "0", "0.00"],
        ["Total", "Total", "7", "5", "2", "71.4", "3", "7300.50"],
    ]


# --- the 12-month trend ----------------------------------------------------------------


def test_trend_compares_each_month_s_12_months_with_the_12_before(practice, offices, hilltop):
    with practice_scope(practice):
        report = rolling_trend(year())
    first, last = report.practice.points[0], report.practice.points[-1]
    # Nov 2025: Dec 2024..Nov 2025 (Elm 2, Birch Oct 31 and Nov 10) against Birch Nov 2024.
    assert (first.month, first.rolling, first.prior, first.change) == (D(2025, 11, 1), 4, 1, 300)
    # Oct 2026: the 14 of the range against Birch 2 and Elm 2.
    assert (last.month, last.rolling, last.prior, last.change) == (D(2026, 10, 1), 14, 4, 250)
    assert [(s.label, s.last.rolling, s.last.prior) for s in report.offices] == [
        ("Birch Dental", 7, 2),
        ("Cedar Dental", 4, 0),
        ("Elm Dental", 0, 2),
    ]
    assert report.offices[1].last.change is None  # nothing to compare with
    assert [p.rolling for p in report.offices[0].points] == [
        2, 3, 4, 6, 6, 6, 6, 6, 7, 7, 7, 7,
    ]  # fmt: skip


def test_trend_csv_lists_every_month_of_every_series(admin_client, offices):
    rows = csv_rows(admin_client.get(reverse("report_csv", args=["rolling-trend"])))
    assert rows[0] == [
        "Month",
        "Series",
        "Referrals in the 12 months to this month",
        "Referrals in the 12 months before",
        "Change (%)",
    ]
    assert rows[1] == ["2025-11", "Practice total", "4", "1", "300.0"]
    assert rows[12] == ["2026-10", "Practice total", "14", "4", "250.0"]
    assert ["2026-10", "Cedar Dental", "4", "0", ""] in rows
    assert len(rows) == 1 + 12 * 4


def test_trend_page_draws_a_plotly_chart(admin_client, offices):
    html = admin_client.get(PAGE, {"report": "rolling-trend"}).content.decode()
    assert "js/plotly.min.js" in html  # loaded by the page's script when a chart is shown
    assert 'id="trend-practice-data"' in html
    assert 'data-testid="table-trend-offices"' in html


# --- the page ----------------------------------------------------------------------------


def test_the_page_defaults_to_the_last_12_full_months_by_month(admin_client, offices):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nov 2025 – Oct 2026 · by month · all case types · all sources" in html
    assert 'name="start" id="report-start" value="2025-11"' in html
    assert 'name="end" id="report-end" value="2026-10"' in html
    assert ">Birch Dental</th>" in html
    assert '<a href="/reports/" class="active">Reports</a>' in html


def test_the_page_serves_the_results_fragment_to_htmx(admin_client, offices):
    response = admin_client.get(
        PAGE,
        {"period": "quarter"},
        headers={"HX-Request": "true", "HX-Target": "report-body"},
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "Q1 2026" in html
    assert "HX-Request" in response["Vary"]


def test_download_links_carry_the_filters(admin_client, offices):
    html = admin_client.get(PAGE, {"period": "quarter", "case_type": "implants"}).content.decode()
    assert (
        'href="/reports/referral-volume.csv?start=2025-11&amp;end=2026-10&amp;period=quarter'
        '&amp;case_type=implants"' in html
    )
    assert 'href="/reports/referral-volume.pdf?start=2025-11&amp;end=2026-10' in html


def test_a_bad_month_is_named_and_the_default_range_shown(admin_client, offices):
    html = admin_client.get(PAGE, {"start": "2026-13"}).content.decode()
    assert "Give a month as YYYY-MM, e.g. 2026-10." in html
    assert "Nov 2025 – Oct 2026" in html


def test_a_range_that_ends_after_this_month_is_refused(admin_client, offices):
    html = admin_client.get(PAGE, {"start": "2026-01", "end": "2027-02"}).content.decode()
    assert "The range cannot end after this month." in html


def test_a_download_with_bad_filters_is_a_400_naming_the_field(admin_client, offices):
    response = admin_client.get(
        reverse("report_csv", args=["referral-volume"]), {"start": "2026-11", "end": "2026-01"}
    )
    assert response.status_code == 400
    assert "From: The range must start before it ends." in response.content.decode()


def test_an_unknown_report_download_is_a_404(admin_client, offices):
    assert admin_client.get("/reports/nothing.csv").status_code == 404


def test_reports_need_a_login(client, practice):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- PDF -----------------------------------------------------------------------------------


def test_volume_pdf_is_a_landscape_letterhead_with_page_numbers(admin_client, practice, offices):
    practice.address = "12 Harbor Road\nLakeside, NY 14450"
    practice.phone = "(585) 555-0100"
    practice.save()
    response = admin_client.get(reverse("report_pdf", args=["referral-volume"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'inline; filename="referral-volume-2025-11_2026-10.pdf"'
    )
    text = pdf_text(response.content)
    for expected in [
        "Lakeside Oral Surgery",
        "12 Harbor Road",
        "Lakeside, NY 14450",
        "Phone (585) 555-0100",
        "Referral volume",
        "Generated November 15, 2026",
        "Birch Dental",
        "Page 1 of 1",
    ]:
        assert expected in text
    width, height = pdf_page_size(response.content)
    assert width > height  # 12 months and more: landscape


def test_acceptance_pdf_is_portrait_with_its_figures(admin_client, offices):
    content = admin_client.get(reverse("report_pdf", args=["case-acceptance"])).content
    text = pdf_text(content)
    assert "$5,501" in text and "$7,301" in text and "71%" in text
    width, height = pdf_page_size(content)
    assert width < height


def test_trend_pdf_draws_its_chart_as_svg_and_lists_the_months(admin_client, offices):
    text = pdf_text(admin_client.get(reverse("report_pdf", args=["rolling-trend"])).content)
    assert "Practice: referrals in the 12 months to each month" in text
    assert "Oct 2026" in text and "+250%" in text


def test_no_patient_information_in_any_report(admin_client, offices):
    for slug in ["referral-volume", "case-acceptance", "rolling-trend"]:
        csv_text = admin_client.get(reverse("report_csv", args=[slug])).content.decode()
        pdf = pdf_text(admin_client.get(reverse("report_pdf", args=[slug])).content)
        page = admin_client.get(PAGE, {"report": slug}).content.decode()
        for text in (csv_text, pdf, page):
            assert "Confidential" not in text  # every patient's last name
            assert "1990" not in text  # their year of birth


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["admin_user", "coordinator_user", "clinician_user"])
def test_managers_and_clinicians_see_production(client, request, offices, member):
    client.force_login(request.getfixturevalue(member))
    page = client.get(PAGE, {"report": "case-acceptance"}).content.decode()
    assert ">Production</th>" in page and "$5,501" in page
    rows = csv_rows(client.get(reverse("report_csv", args=["case-acceptance"])))
    assert rows[0][-1] == "Production"


def test_front_desk_reads_the_reports_without_money(client, front_desk_user, offices):
    client.force_login(front_desk_user)
    page = client.get(PAGE, {"report": "case-acceptance"})
    assert page.status_code == 200
    html = page.content.decode()
    assert ">Birch Dental</th>" in html
    assert "Production</th>" not in html and "$5,501" not in html
    rows = csv_rows(client.get(reverse("report_csv", args=["case-acceptance"])))
    assert "Production" not in rows[0]
    assert rows[1] == ["Referring office", "Birch Dental", "4", "3", "1", "75.0", "2"]
    text = pdf_text(client.get(reverse("report_pdf", args=["case-acceptance"])).content)
    assert "Production" not in text and "$" not in text


# --- tenant isolation ------------------------------------------------------------------------


def test_another_practice_s_rows_never_appear(admin_client, offices, hilltop):
    for slug in ["referral-volume", "case-acceptance", "rolling-trend"]:
        page = admin_client.get(PAGE, {"report": slug}).content.decode()
        csv_text = admin_client.get(reverse("report_csv", args=[slug])).content.decode()
        assert "Hilltop" not in page
        assert "Hilltop Dental" not in csv_text
        assert "9999" not in csv_text and "9,999" not in page
    rows = csv_rows(admin_client.get(reverse("report_csv", args=["referral-volume"])))
    assert rows[-1][-1] == "14"


def test_another_practice_s_office_in_the_filter_is_a_404(admin_client, offices, hilltop):
    other = hilltop["Hilltop Dental"].pk
    assert admin_client.get(PAGE, {"office": other}).status_code == 404
    for name in ["report_csv", "report_pdf"]:
        url = reverse(name, args=["referral-volume"])
        assert admin_client.get(url, {"office": other}).status_code == 404
    assert admin_client.get(PAGE, {"office": "abc"}).status_code == 404


def test_an_outsider_sees_only_their_own_practice(client, outsider, offices, hilltop):
    client.force_login(outsider)
    assert client.get(PAGE, {"office": offices["Birch Dental"].pk}).status_code == 404
    rows = csv_rows(client.get(reverse("report_csv", args=["referral-volume"])))
    assert [row[0] for row in rows[1:]] == ["Hilltop Dental", "Website", "Total"]


# --- queries -------------------------------------------------------------------------------


def _more_offices(practice, count: int) -> None:
    with practice_scope(practice):
        for i in range(count):
            office = OfficeFactory(practice=practice, name=f"Extra Dental {i:03d}")
            add_referrals(office, [D(2025, 12, 3), D(2026, 5, 4), D(2026, 9, 9)], accepted=2)


@pytest.mark.parametrize("slug", ["referral-volume", "case-acceptance", "rolling-trend"])
def test_queries_stay_flat_with_the_number_of_offices(
    admin_client, practice, offices, slug, django_assert_max_num_queries
):
    _more_offices(practice, 40)
    admin_client.get(PAGE)  # the session is saved once, on the first request
    # Session, user, membership, the navigation's counts, the office list, the report.
    with django_assert_max_num_queries(9):
        assert admin_client.get(PAGE, {"report": slug, "period": "quarter"}).status_code == 200
    # The CSV: session, user, membership, the report, and the audit entry of the export.
    with django_assert_max_num_queries(5):
        assert admin_client.get(reverse("report_csv", args=[slug])).status_code == 200


@pytest.mark.parametrize("slug", ["referral-volume", "case-acceptance", "rolling-trend"])
def test_a_practice_without_referrals_gets_empty_reports(admin_client, slug):
    html = admin_client.get(PAGE, {"report": slug}).content.decode()
    assert "No referrals match these filters." in html or "No consults" in html
    rows = csv_rows(admin_client.get(reverse("report_csv", args=[slug])))
    assert len(rows) >= 1
    assert "Lakeside Oral Surgery" in pdf_text(
        admin_client.get(reverse("report_pdf", args=[slug])).content
    )
