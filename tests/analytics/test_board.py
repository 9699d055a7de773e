"""The referrer health board: tabs, search, sorting, totals, money by role, the empty state
and "compute now", and a query count that stays flat with offices and years."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from analytics import tasks
from analytics.models import ReferrerSnapshot
from analytics.nightly import recompute
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

from .health_pages import (
    AS_OF,
    NOW,
    add_earlier_years,
    compute_nights,
    practice_with_history,
    the_articles_practice,
)
from .history import add_monthly, add_referrals, month_list

BOARD = "/referrers/health/"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def article(practice):
    return the_articles_practice(practice)


def rows(html: str) -> list[str]:
    """Office names in the board's rows, top to bottom."""
    return re.findall(r'class="office-link" href="[^"]+">([^<]+)</a>', html)


def get(client, url=BOARD, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_articles_three_offices_are_declining_with_172800_at_risk(admin_client, article):
    html = get(admin_client, status="declining")
    assert sorted(rows(html)) == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    totals = re.search(r'data-testid="risk-total">([^<]+)<', html).group(1)
    assert totals == "$172,800"
    assert html.count('data-testid="risk">$57,600<') == 3
    assert "Declining · 3 offices" in html


def test_the_board_shows_the_date_counts_per_tab_and_every_office(admin_client, article):
    html = get(admin_client)
    assert "As of <strong>Nov 26, 2026</strong>" in html
    assert "computed Nov 26 at" in html
    tabs = dict(re.findall(r'data-testid="tab-(\w+)">.*?<span class="count">(\d+)</span>', html))
    assert tabs == {
        "all": "5",
        "new": "0",
        "active": "1",
        "declining": "3",
        "inactive": "0",
        "lost": "0",
        "prospect": "1",
    }
    # Worst first by default: the declining offices lead, the steady one follows.
    assert rows(html)[:3] == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    assert set(rows(html)) == {"Birch Dental", "Cedar Dental", "Elm Dental", "Steady Smiles"} | {
        "Prospect"
    }


def test_a_row_has_counts_sparkline_last_referral_and_acceptance(admin_client, practice):
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Maple Dental")
        days = [AS_OF.replace(day=1).replace(month=m) for m in range(1, 11)]
        add_referrals(office, days, accepted=4)
        recompute(practice, AS_OF)
    html = get(admin_client)
    row = html[html.index(f'data-office-id="{office.pk}"') :]
    row = row[: row.index("</tr>")]
    cells = re.findall(r'<td class="num[^"]*">(\d+|—|\d+%)</td>', row)
    assert cells[:3] == ["0", "1", "2"]  # Oct 1 is 56 days back, Sep 1 86 days
    assert "Oct 1, 2026" in row
    assert "100%" in row  # 4 accepted, none declined
    assert '<svg class="spark"' in row
    assert "Dec 0, Jan 1, Feb 1" in row  # the sparkline's tooltip: the last 12 months


def test_tabs_filter_by_status(admin_client, article):
    assert rows(get(admin_client, status="active")) == ["Steady Smiles"]
    assert rows(get(admin_client, status="prospect")) == ["Prospect"]
    html = get(admin_client, status="lost")
    assert rows(html) == [] and "No lost offices." in html
    # An unknown status shows everything rather than an error.
    assert len(rows(get(admin_client, status="nonsense"))) == 5


def test_search_narrows_rows_and_tab_counts(admin_client, article):
    html = get(admin_client, q="cedar")
    assert rows(html) == ["Cedar Dental"]
    assert re.search(r'data-testid="tab-declining">.*?<span class="count">1</span>', html)
    assert re.search(r'data-testid="tab-active">.*?<span class="count">0</span>', html)
    html = get(admin_client, q="nobody", status="declining")
    assert "No declining office matches “nobody”." in html


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("office", ["Birch Dental", "Cedar Dental", "Elm Dental", "Prospect", "Steady Smiles"]),
        ("-office", ["Steady Smiles", "Prospect", "Elm Dental", "Cedar Dental", "Birch Dental"]),
        ("status", ["Birch Dental", "Cedar Dental", "Elm Dental", "Steady Smiles", "Prospect"]),
        ("-c90", ["Steady Smiles", "Birch Dental", "Cedar Dental", "Elm Dental", "Prospect"]),
        ("-risk", ["Birch Dental", "Cedar Dental", "Elm Dental", "Prospect", "Steady Smiles"]),
        ("last", ["Birch Dental", "Cedar Dental", "Elm Dental", "Steady Smiles", "Prospect"]),
    ],
)
def test_columns_sort_both_ways_with_empty_values_last(admin_client, article, sort, expected):
    assert rows(get(admin_client, sort=sort)) == expected


def test_header_links_flip_the_sort(admin_client, article):
    html = get(admin_client, sort="-c90")
    assert 'href="/referrers/health/?sort=c90"' in html  # the sorted column flips
    assert 'href="/referrers/health/?sort=office"' in html  # names start A to Z
    assert 'href="/referrers/health/?sort=-risk"' in html  # money starts with the most
    assert '90 d <span aria-hidden="true">▼</span>' in html


def test_htmx_gets_only_the_results_fragment(admin_client, article):
    response = admin_client.get(
        BOARD, {"status": "declining"}, headers={"HX-Request": "true", "HX-Target": "board-results"}
    )
    html = response.content.decode()
    assert "<html" not in html and 'id="board-filter"' not in html
    assert rows(html) == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    # The search form's status and sort follow the tab the fragment shows.
    assert '<input type="hidden" name="status" value="declining" form="board-filter">' in html
    assert "HX-Request" in response["Vary"]
    # Every htmx link keeps a plain href for a browser without JavaScript.
    for hx_get in re.findall(r'hx-get="([^"]+)"', html):
        assert f'href="{hx_get}"' in html


@pytest.mark.parametrize("user", ["admin_user", "coordinator_user", "clinician_user"])
def test_money_figures_for_roles_that_see_revenue(client, request, article, user):
    client.force_login(request.getfixturevalue(user))
    html = get(client)
    assert "$172,800" in html and "revenue at risk" in html


def test_the_front_desk_sees_the_board_without_money(client, front_desk_user, article):
    client.force_login(front_desk_user)
    html = get(client, status="declining")
    assert sorted(rows(html)) == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    assert "$" not in html
    assert "At risk" not in html and "revenue at risk" not in html
    # Sorting by money is refused quietly: the default order, no figures.
    html = get(client, sort="-risk")
    assert "$" not in html and rows(html)[:3] == ["Birch Dental", "Cedar Dental", "Elm Dental"]


def test_another_practices_member_sees_none_of_ours(client, outsider, article):
    client.force_login(outsider)
    html = get(client)
    assert "Birch Dental" not in html
    assert 'data-testid="board-empty"' in html


def test_an_archived_office_leaves_the_board(admin_client, article):
    office = article["Birch Dental"]
    office.is_archived = True
    with scopes_disabled():
        office.save()
    html = get(admin_client, status="declining")
    assert rows(html) == ["Cedar Dental", "Elm Dental"]
    assert re.search(r'data-testid="risk-total">\$115,200<', html)


def test_the_board_uses_the_latest_run_only(admin_client, practice, article):
    with practice_scope(practice):
        recompute(practice, AS_OF.replace(day=1))  # an older night
        assert ReferrerSnapshot.objects.values("as_of").distinct().count() == 2
    html = get(admin_client)
    assert len(rows(html)) == 5 and "As of <strong>Nov 26, 2026</strong>" in html


def test_a_stale_run_says_so(admin_client, admin_user, article):
    with time_machine.travel("2026-12-03 12:00 -0500", tick=False):
        # Logged in again: a session idle since NOW would have been logged out.
        admin_client.force_login(admin_user)
        html = get(admin_client)
    assert "not updated since" in html


# --- empty state and computing now -------------------------------------------------------


def test_before_the_first_run_the_board_explains_and_offers_admins_to_compute(
    client, admin_user, coordinator_user, practice
):
    client.force_login(admin_user)
    html = get(client)
    assert "Referrer health has not been computed yet" in html
    assert "The nightly job has not run for this practice yet" in html
    assert 'data-testid="recompute-now"' in html
    client.force_login(coordinator_user)
    html = get(client)
    assert 'data-testid="recompute-now"' not in html
    assert "An administrator can compute it now" in html


def test_compute_now_runs_in_the_request_for_a_small_practice(admin_client, practice):
    the_offices = []
    with practice_scope(practice):
        office = OfficeFactory(practice=practice, name="Quick Dental")
        add_referrals(office, [AS_OF.replace(day=2)])
        the_offices.append(office)
    response = admin_client.post(reverse("referrer_recompute"), follow=True)
    html = response.content.decode()
    assert "Referrer health computed as of Nov 26, 2026 for 1 offices." in html
    assert rows(html) == ["Quick Dental"]
    with practice_scope(practice):
        assert ReferrerSnapshot.objects.filter(as_of=AS_OF).count() == 1


@override_settings(REFERRER_RECOMPUTE_SYNC_MAX_REFERRALS=0)
def test_compute_now_for_a_big_practice_is_a_celery_task_with_progress(admin_client, practice):
    with practice_scope(practice):
        add_referrals(OfficeFactory(practice=practice, name="Big Dental"), [AS_OF.replace(day=2)])
    html = admin_client.post(reverse("referrer_recompute"), follow=True).content.decode()
    assert "Computing referrer health…" in html
    assert 'hx-trigger="every 2s"' in html
    progress = admin_client.get(reverse("referrer_recompute"), headers={"HX-Request": "true"})
    assert "Computing referrer health…" in progress.content.decode()
    with practice_scope(practice):
        assert not ReferrerSnapshot.objects.exists()

    tasks.recompute_practice.apply(args=(practice.pk, AS_OF.isoformat())).get()

    done = admin_client.get(reverse("referrer_recompute"), headers={"HX-Request": "true"})
    assert done["HX-Redirect"] == BOARD
    html = get(admin_client)
    assert rows(html) == ["Big Dental"] and "Computing" not in html
    # Without htmx the progress URL is the board itself.
    assert admin_client.get(reverse("referrer_recompute"))["Location"] == BOARD


@pytest.mark.parametrize("user", ["coordinator_user", "front_desk_user", "clinician_user"])
def test_only_administrators_compute_now(client, request, practice, user):
    client.force_login(request.getfixturevalue(user))
    assert client.post(reverse("referrer_recompute")).status_code == 403
    with practice_scope(practice):
        assert not ReferrerSnapshot.objects.exists()


def test_the_nav_leads_to_the_board_and_the_board_to_the_offices(admin_client, article):
    html = get(admin_client)
    assert '<a href="/referrers/health/" class="active">Referrers</a>' in html
    assert 'href="/referrers/">Manage offices</a>' in html
    assert 'href="/referrers/outreach/">Outreach plan</a>' in html


# --- the query count does not grow with offices or years ---------------------------------

# Whatever the session, navigation and context processors cost, the board itself reads
# the latest date, one GROUP BY and one page of snapshots.
BOARD_QUERIES_AT_MOST = 20
VIEWS = [{}, {"status": "declining", "q": "office", "sort": "-acceptance"}]


def queries_for(client, params) -> int:
    with CaptureQueriesContext(connection) as queries:
        get(client, **params)
    assert len(queries) <= BOARD_QUERIES_AT_MOST
    return len(queries)


def test_twelve_times_the_offices_costs_no_more_queries(
    admin_client, practice, django_assert_max_num_queries
):
    practice_with_history(practice, offices=5, years=2)
    counts = [queries_for(admin_client, params) for params in VIEWS]
    practice_with_history(practice, offices=55, years=2, prefix="More")
    compute_nights(practice, 3)
    for params, count in zip(VIEWS, counts, strict=True):
        with django_assert_max_num_queries(count):
            html = get(admin_client, **params)
        assert "Office 000" in html
    assert len(rows(get(admin_client))) == 60


def test_ten_years_of_history_cost_no_more_queries_than_two(
    admin_client, practice, django_assert_max_num_queries
):
    offices = practice_with_history(practice, offices=5, years=2)
    counts = [queries_for(admin_client, params) for params in VIEWS]
    add_earlier_years(practice, offices, years=8, before_years=2)
    compute_nights(practice, 3)
    for params, count in zip(VIEWS, counts, strict=True):
        with django_assert_max_num_queries(count):
            html = get(admin_client, **params)
        assert "Office 000" in html


def test_a_practice_wide_slowdown_is_a_banner_not_a_board_of_declines(admin_client, practice):
    """Every office at half its pace since July (a surgeon on leave): the board says so once,
    with its figures, and no office is blamed for it."""
    months = month_list(dt.date(2022, 11, 1), 48)  # Nov 2022 .. Oct 2026
    with practice_scope(practice):
        for i, rate in enumerate((4, 6, 6, 8, 10, 4)):
            office = OfficeFactory(practice=practice, name=f"Office {i}")
            add_monthly(office, months, [rate] * 44 + [rate // 2] * 4)
            add_referrals(office, [dt.date(2026, 11, 10)])
        recompute(practice, AS_OF)
        statuses = set(ReferrerSnapshot.objects.values_list("status", flat=True))
    assert statuses == {"active"}
    html = get(admin_client)
    banner = re.search(r'data-testid="practice-slowdown">(.+?)</p>', html).group(1)
    assert "The whole practice has slowed down since July 2026: 76 referrals where " in banner
    assert "the typical office is at 50% of its usual rate" in banner


def test_a_declining_row_carries_its_evidence(admin_client, article):
    html = get(admin_client, status="declining")
    evidence = re.findall(r'data-testid="row-evidence">([^<]+)<', html)
    assert len(evidence) == 3
    assert re.fullmatch(
        r"Since March 2026: 16 referrals where 4\d were expected \(80% band \d\d-\d\d\)\.",
        evidence[0],
    )
    assert 'data-testid="practice-slowdown"' not in html
