"""The Settings page leads admins and coordinators to the CSV import."""

import pytest


@pytest.mark.parametrize(
    "user_fixture, shown",
    [
        ("admin_user", True),
        ("coordinator_user", True),
        ("front_desk_user", False),
        ("clinician_user", False),
    ],
)
def test_the_import_is_linked_from_settings_for_those_who_may_import(
    db, client, request, user_fixture, shown
):
    client.force_login(request.getfixturevalue(user_fixture))
    html = client.get("/settings/").content.decode()
    assert ('data-testid="import-link"' in html) is shown
    if shown:
        assert client.get("/imports/").status_code == 200
