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


def test_every_apps_section_is_on_the_settings_page_in_its_order(db, client, admin_user):
    """Each app puts its section on the page through practices/panels.py (the Settings
    page is practices', below the apps whose sections it shows: docs/architecture.md)."""
    client.force_login(admin_user)
    html = client.get("/settings/").content.decode()
    marks = [
        'data-testid="team-section"',
        'data-testid="referrer-health-section"',
        'data-testid="security-section"',
        'data-testid="letters-section"',
        'data-testid="audit-log-link"',
        'data-testid="export-link"',
    ]
    positions = [html.find(mark) for mark in marks]
    assert -1 not in positions, dict(zip(marks, positions, strict=True))
    assert positions == sorted(positions)
    assert html.count('data-testid="letters-section"') == 1  # registered once
