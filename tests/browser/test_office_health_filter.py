"""The office list's Health filter in a real browser: choosing "Declining" lists only the
declining offices, puts the filter in the URL, and the next page keeps it."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import ReferrerSnapshot
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def health(practice):
    """101 declining offices (two pages) and two others, as of the latest nightly run."""
    as_of = timezone.localdate() - dt.timedelta(days=1)
    statuses = {f"Declining Dental {n:03d}": "declining" for n in range(101)}
    statuses |= {"Active Smiles": "active", "Aspen New Dental": "new"}
    with practice_scope(practice):
        offices = {name: OfficeFactory(practice=practice, name=name) for name in statuses}
        ReferrerSnapshot.objects.bulk_create(
            ReferrerSnapshot(practice=practice, office=offices[name], as_of=as_of, status=status)
            for name, status in statuses.items()
        )


def test_choosing_declining_lists_only_declining_offices_on_every_page(
    login, live_server, admin_user, health, screenshot
):
    page = login(admin_user)
    page.goto(f"{live_server.url}/referrers/")
    expect(page.get_by_test_id("office-count")).to_contain_text("103 offices")
    page.get_by_label("Health").select_option(label="Declining")

    expect(page.get_by_test_id("office-count")).to_contain_text(
        "101 offices, active, health “Declining”"
    )
    expect(page).to_have_url(
        f"{live_server.url}/referrers/?q=&show=active&sort=name&status=declining"
    )
    rows = page.get_by_test_id("office-row")
    expect(rows).to_have_count(100)
    expect(page.get_by_text("Active Smiles")).to_have_count(0)
    expect(rows.locator(".badge.health-declining")).to_have_count(100)
    screenshot("1-declining")

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(
        f"{live_server.url}/referrers/?q=&show=active&sort=name&status=declining&page=2"
    )
    expect(page.get_by_label("Health")).to_have_value("declining")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Declining Dental 100")
    screenshot("2-declining-page-2")

    page.get_by_label("Health").select_option(label="Any")
    expect(page.get_by_test_id("office-count")).to_contain_text("103 offices")
