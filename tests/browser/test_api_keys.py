import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api_status(live_server, raw_key: str) -> int:
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/offices/", headers={"Authorization": f"Bearer {raw_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_admin_creates_a_key_sees_it_once_and_revokes_it(
    login, admin_user, live_server, screenshot
):
    page = login(admin_user)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    screenshot("1-settings")

    page.get_by_role("link", name="Manage API keys").click()
    expect(page.get_by_test_id("no-keys")).to_be_visible()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("Name the key after what will use it.")).to_be_visible()

    page.get_by_label("Name").fill("Dentrix bridge")
    page.get_by_role("button", name="Create key").click()
    new_key = page.get_by_test_id("new-key")
    expect(new_key).to_contain_text("shown only this once")
    raw_key = page.get_by_test_id("new-key-value").input_value()
    assert raw_key.startswith("oms_")
    rows = page.get_by_test_id("api-key-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Dentrix bridge")
    expect(rows.first).to_contain_text(raw_key[:12])
    expect(rows.first).to_contain_text("Active")
    screenshot("2-key-created")

    assert api_status(live_server, raw_key) == 200

    # Shown once: opening the page again shows only the prefix.
    page.goto(f"{live_server.url}/settings/api-keys/")
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert raw_key not in page.content()
    expect(rows.first).to_contain_text("Dentrix bridge")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke Dentrix bridge").click()
    expect(page.get_by_text("is revoked; it no longer works")).to_be_visible()
    expect(rows.first).to_contain_text("Revoked")
    expect(page.get_by_role("button", name="Revoke Dentrix bridge")).to_have_count(0)
    screenshot("3-key-revoked")

    assert api_status(live_server, raw_key) == 401


def test_api_docs_render_from_local_assets(page, live_server, screenshot):
    outside = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else outside.append(request.url)
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.get_by_text("OMS Referrals API").first).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    expect(page.get_by_text("/api/v1/referrals/{id}/events/").first).to_be_visible()
    screenshot("api-docs")
    assert outside == []
