"""Every page names its icon, so browsers do not ask for a /favicon.ico that is not there."""

import pytest
from django.contrib.staticfiles import finders

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
