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


# --- the Health filter (issue 11 item 5) --------------------------------------------------

AS_OF = dt.date(2026, 11, 26)


def snapshots(practice, statuses: dict[str, str], as_of=AS_OF):
    from analytics.models import ReferrerSnapshot

    offices = {name: OfficeFactory(practice=practice, name=name) for name in statuses}
    ReferrerSnapshot.objects.bulk_create(
        ReferrerSnapshot(practice=practice, office=offices[name], as_of=as_of, status=status)
        for name, status in statuses.items()
    )
    return offices


def listed(html: str) -> list[str]:
    import re

    return re.findall(r'<td><a href="/referrers/\d+/">([^<]+)</a>', html)


def test_the_health_filter_lists_only_offices_in_that_status(in_practice, admin_client):
    snapshots(
        in_practice,
        {"Birch Dental": "declining", "Cedar Smiles": "active", "Elm Dentistry": "declining"},
    )
    # An older run said Cedar was declining: only the latest run counts.
    from analytics.models import ReferrerSnapshot
    from referrals.models import ReferringOffice

    cedar = ReferringOffice.objects.get(name="Cedar Smiles")
    ReferrerSnapshot.objects.create(
        practice=in_practice, office=cedar, as_of=AS_OF - dt.timedelta(days=1), status="declining"
    )
    response = admin_client.get("/referrers/", {"status": "declining"})
    html = response.content.decode()
    assert listed(html) == ["Birch Dental", "Elm Dentistry"]
    assert "2 offices, active, health “Declining”" in html
    assert '<option value="declining" selected>Declining</option>' in html
    assert listed(admin_client.get("/referrers/", {"status": "active"}).content.decode()) == [
        "Cedar Smiles"
    ]
    # An unknown status is ignored (a stale link still shows the list).
    assert len(listed(admin_client.get("/referrers/", {"status": "nope"}).content.decode())) == 3
    lost = admin_client.get("/referrers/", {"status": "lost"}).content.decode()
    assert "No office has the health “Lost” in the latest nightly run." in lost


def test_before_any_run_the_filter_finds_nothing_rather_than_inventing(in_practice, admin_client):
    OfficeFactory(practice=in_practice, name="Birch Dental")
    html = admin_client.get("/referrers/", {"status": "declining"}).content.decode()
    assert listed(html) == []


def test_the_health_filter_is_kept_in_the_pages_links(in_practice, admin_client):
    statuses = {f"Office {n:03d}": "declining" for n in range(101)}
    statuses["Zed Active Dental"] = "active"
    snapshots(in_practice, statuses)
    first = admin_client.get("/referrers/", {"status": "declining"}).content.decode()
    assert "101 offices, active, health “Declining”" in first
    assert "&status=declining&page=2" in first
    second = admin_client.get("/referrers/", {"status": "declining", "page": 2}).content.decode()
    assert listed(second) == ["Office 100"]
    assert "&status=declining&page=1" in second


def test_the_health_filter_never_shows_another_practices_offices(
    in_practice, other_practice, admin_client
):
    from practices.scoping import practice_scope

    snapshots(in_practice, {"Birch Dental": "declining"})
    with practice_scope(other_practice):
        snapshots(other_practice, {"Hilltop Declining Dental": "declining"})
    html = admin_client.get("/referrers/", {"status": "declining"}).content.decode()
    assert listed(html) == ["Birch Dental"]
