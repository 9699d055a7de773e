"""Every page names its icon, and /favicon.ico (which browsers ask for anyway) leads to it."""

import pytest
from django.contrib.staticfiles import finders

from communications.status_links import create_status_link
from practices.scoping import practice_scope
from tests.factories import OfficeFactory

pytestmark = pytest.mark.django_db

ICON = '<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">'


def test_the_login_the_app_and_the_public_form_link_the_icon(client, admin_client, practice):
    assert finders.find("img/favicon.svg")
    assert ICON in admin_client.get("/").content.decode()
    client.logout()
    assert ICON in client.get("/login/").content.decode()
    public = client.get(f"/refer/{practice.slug}/")
    assert public.status_code == 200
    assert ICON in public.content.decode()


def test_the_gps_status_page_links_the_icon(client, practice):
    with practice_scope(practice):
        _, token = create_status_link(OfficeFactory(practice=practice))
    page = client.get(f"/status/{token}/")
    assert page.status_code == 200
    assert ICON in page.content.decode()


def test_favicon_ico_sends_the_browser_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"
    # A day, not for ever: a new icon gets a new hashed name in production.
    assert "max-age=86400" in response["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 302
    assert client.post("/favicon.ico").status_code == 405
