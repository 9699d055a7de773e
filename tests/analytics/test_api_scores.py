"""GET /api/v1/referrer-scores/: the nightly scores for a PMS, by status and day."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from analytics.nightly import recompute
from practices.scoping import practice_scope
from tests.api_support import client_with, key_for

from .health_pages import AS_OF, NOW, practice_with_history, the_articles_practice

URL = "/api/v1/referrer-scores/"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def api(practice):
    return client_with(key_for(practice))


@pytest.fixture
def article(practice):
    return the_articles_practice(practice)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_declining_offices_with_every_field(api, article):
    rows = results(api.get(URL, {"status": "declining"}))
    assert sorted(r["office_name"] for r in rows) == ["Birch Dental", "Cedar Dental", "Elm Dental"]
    birch = next(r for r in rows if r["office_name"] == "Birch Dental")
    assert birch == {
        "office": article["Birch Dental"].pk,
        "office_name": "Birch Dental",
        "as_of": "2026-11-26",
        "status": "declining",
        "count_30": 1,
        "count_60": 3,
        "count_90": 5,
        "last_referral_on": "2026-11-10",
        "monthly_counts": [6] * 16 + [2] * 8 + [1],
        "baseline_rate": 6.0,
        "recent_rate": 2.0,
        "same_month_last_year": 6,
        "rolling_12": 6 * 4 + 2 * 8,
        "prior_12": 6 * 12,
        "drop_months": 8,
        "revenue_at_risk": "57600.00",
        "priority": birch["priority"],
        "reason": "Sent 6 a month before March 2026, 2 a month over the 8 months since; "
        "last referral Nov 10, 2026.",
    }
    assert birch["priority"] > 0
    total = sum(Decimal(r["revenue_at_risk"]) for r in rows)
    assert total == Decimal("172800.00")


def test_the_latest_day_by_default_and_any_day_on_request(api, practice, article):
    with practice_scope(practice):
        recompute(practice, dt.date(2026, 6, 30))
    latest = results(api.get(URL))
    assert {r["as_of"] for r in latest} == {"2026-11-26"} and len(latest) == 5
    june = results(api.get(URL, {"as_of": "2026-06-30"}))
    assert {r["as_of"] for r in june} == {"2026-06-30"} and len(june) == 5
    assert results(api.get(URL, {"as_of": "2026-01-01"})) == []


def test_offices_come_by_priority_and_in_pages(api, article):
    page = api.get(URL, {"page_size": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    priorities = [r["priority"] for r in results(api.get(URL))]
    assert priorities == sorted(priorities, reverse=True)


@pytest.mark.parametrize(
    "params, field", [({"status": "sad"}, "status"), ({"as_of": "yesterday"}, "as_of")]
)
def test_bad_filters_are_a_400_naming_the_field(api, article, params, field):
    response = api.get(URL, params)
    assert response.status_code == 400 and field in response.json()


def test_no_key_is_a_401(article):
    assert client_with(None).get(URL).status_code == 401


def test_another_practices_key_sees_none_of_ours(other_practice, article):
    theirs = client_with(key_for(other_practice))
    assert results(theirs.get(URL)) == []
    assert results(theirs.get(URL, {"as_of": AS_OF.isoformat()})) == []


def test_before_the_first_run_the_list_is_empty(api, practice):
    assert results(api.get(URL)) == []


def test_the_schema_documents_the_endpoint(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"][URL]["get"]
    assert operation["summary"] == "List referrer scores"
    assert operation["security"] == [{"ApiKey": []}]
    assert {p["name"] for p in operation["parameters"]} >= {"status", "as_of", "page"}
    component = schema["components"]["schemas"]["ReferrerScore"]["properties"]
    assert {"office", "office_name", "monthly_counts", "revenue_at_risk", "reason"} <= set(
        component
    )


def test_the_score_list_costs_the_same_queries_for_more_offices(
    api, practice, django_assert_max_num_queries
):

    practice_with_history(practice, offices=3, years=2)
    with django_assert_max_num_queries(8):
        assert len(results(api.get(URL))) == 3
    practice_with_history(practice, offices=40, years=2, prefix="More")
    with django_assert_max_num_queries(8):
        assert len(results(api.get(URL))) == 43
