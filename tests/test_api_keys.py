"""Settings → API keys: the service and the pages where practice admins manage keys."""

import pytest
from django_scopes import scopes_disabled

from practices.api_keys import active_key_for, create_api_key, hash_key, revoke_api_key
from practices.models import ApiKey
from practices.scoping import practice_scope

from .api_support import client_with

URL = "/settings/api-keys/"


def create_key(practice, name, **kwargs):
    # As the Settings page does: in the practice's scope (row-level security refuses
    # the row anywhere else).
    with practice_scope(practice):
        return create_api_key(practice, name, **kwargs)


def all_keys():
    with scopes_disabled():
        return list(ApiKey.objects.order_by("id"))


# The service


def test_create_api_key_stores_only_a_hash(practice, admin_user):
    created = create_key(practice, "  Dentrix bridge ", created_by=admin_user)
    assert created.raw_key.startswith("oms_")
    assert len(created.raw_key) > 40
    (key,) = all_keys()
    assert key.name == "Dentrix bridge"
    assert key.hashed_key == hash_key(created.raw_key)
    assert key.prefix == created.raw_key[:12]
    assert key.created_by == admin_user
    assert active_key_for(created.raw_key) == key


def test_each_key_is_different(practice):
    assert create_key(practice, "a").raw_key != create_key(practice, "b").raw_key


def test_revoking_twice_keeps_the_first_time(practice, in_practice):
    created = create_key(practice, "PMS")
    first = revoke_api_key(created.api_key).revoked_at
    assert first is not None
    assert revoke_api_key(created.api_key).revoked_at == first
    assert active_key_for(created.raw_key) is None


# The pages


def test_admin_creates_a_key_and_sees_it_once(admin_client):
    response = admin_client.post(URL, {"name": "Dentrix bridge"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    raw_key = response.context["created"].raw_key
    html = response.content.decode()
    assert raw_key in html
    assert "shown only this once" in html
    (key,) = all_keys()
    assert key.hashed_key == hash_key(raw_key)
    # The key works, and it is never shown again.
    assert client_with(raw_key).get("/api/v1/offices/").status_code == 200
    again = admin_client.get(URL).content.decode()
    assert raw_key not in again
    assert "Dentrix bridge" in again
    assert key.prefix in again


def test_a_key_needs_a_name(admin_client):
    response = admin_client.post(URL, {"name": "  "})
    assert response.status_code == 400
    assert "Name the key after what will use it." in response.content.decode()
    assert all_keys() == []


def test_admin_revokes_a_key(admin_client, practice):
    created = create_key(practice, "Old bridge")
    response = admin_client.post(f"{URL}{created.api_key.pk}/revoke/", follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "is revoked; it no longer works" in response.content.decode()
    (key,) = all_keys()
    assert key.revoked_at is not None
    assert client_with(created.raw_key).get("/api/v1/offices/").status_code == 401


def test_revoke_needs_a_post(admin_client, practice):
    created = create_key(practice, "PMS")
    assert admin_client.get(f"{URL}{created.api_key.pk}/revoke/").status_code == 405
    assert all_keys()[0].revoked_at is None


def test_another_practices_key_is_404_on_revoke(admin_client, other_practice):
    theirs = create_key(other_practice, "Their PMS")
    response = admin_client.post(f"{URL}{theirs.api_key.pk}/revoke/")
    assert response.status_code == 404
    assert all_keys()[0].revoked_at is None
    assert active_key_for(theirs.raw_key) is not None


def test_the_list_shows_only_our_keys(admin_client, practice, other_practice):
    create_key(practice, "Our bridge")
    create_key(other_practice, "Their bridge")
    html = admin_client.get(URL).content.decode()
    assert "Our bridge" in html
    assert "Their bridge" not in html


@pytest.mark.parametrize("role_user", ["coordinator_user", "front_desk_user", "clinician_user"])
def test_only_admins_manage_keys(client, practice, role_user, request):
    client.force_login(request.getfixturevalue(role_user))
    created = create_key(practice, "PMS")
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "Sneaky"}).status_code == 403
    assert client.post(f"{URL}{created.api_key.pk}/revoke/").status_code == 403
    keys = all_keys()
    assert [k.name for k in keys] == ["PMS"]
    assert keys[0].revoked_at is None
    # The Settings page itself is open to every role, and says who manages keys.
    settings_page = client.get("/settings/")
    assert settings_page.status_code == 200
    assert "Only a practice administrator" in settings_page.content.decode()


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_settings_page_links_to_api_keys_for_admins(admin_client, practice):
    create_key(practice, "PMS")
    html = admin_client.get("/settings/").content.decode()
    assert 'href="/settings/api-keys/"' in html
    assert "1 active key." in html
    assert 'href="/api/v1/docs/"' in html


def test_outsider_sees_only_their_own_keys(client, outsider, practice, other_practice):
    ours = create_key(practice, "Our bridge")
    client.force_login(outsider)
    html = client.get(URL).content.decode()
    assert "Our bridge" not in html
    assert client.post(f"{URL}{ours.api_key.pk}/revoke/").status_code == 404
    with practice_scope(practice):
        assert ApiKey.objects.get().revoked_at is None
