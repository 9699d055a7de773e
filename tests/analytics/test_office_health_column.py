import datetime as dt

from analytics.nightly import recompute
from tests.factories import OfficeFactory

from .history import add_monthly, add_referrals, month_list


def test_the_office_list_shows_each_offices_latest_status(in_practice, admin_client):
    declining = OfficeFactory(practice=in_practice, name="Birch Dental")
    add_monthly(declining, month_list(dt.date(2024, 11, 1), 24), [6] * 18 + [1] * 6)
    add_referrals(declining, [dt.date(2026, 11, 2)])
    OfficeFactory(practice=in_practice, name="Never Sent")
    html = admin_client.get("/referrers/").content.decode()
    assert "health-declining" not in html  # nothing computed yet: no status invented
    recompute(in_practice, dt.date(2026, 11, 26))
    html = admin_client.get("/referrers/").content.decode()
    assert '<span class="badge health-declining">Declining</span>' in html
    assert '<span class="badge health-prospect">No referrals yet</span>' in html
