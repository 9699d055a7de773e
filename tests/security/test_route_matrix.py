"""Every route, every role, two practices: isolation and the role table, proven.

* coverage: every URL pattern of the site (admin/ and api/v1/ included) is in the matrix,
  or public with a reason; every API operation of the OpenAPI schema too;
* isolation: each route that takes an object id (in its path, query or body), requested
  with the other practice's object by each role of ours, answers 404 (403 for a role
  that may not use the route at all: the same answer it gets for its own practice's
  objects, so it says nothing about the other practice) and never shows their data; the
  API with our key answers 404; the admin as our support staff answers 404;
* roles: each role × route answers as ``practices.access.GRANTS`` and the view's
  ``required_action`` say: allowed → 200 for a GET (a POST is neither 403 nor 404),
  not allowed → 403;
* money: no page, fragment, CSV or PDF shows the front desk a money figure.

The objects are built once for the module (``world``); each test runs in a savepoint
that is rolled back, so a POST that changes something changes it for that test only.
"""

import subprocess

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from practices.access import API_KEY, GRANTS, Action, allows
from practices.models import PracticeSettings, Role
from referrals.step_permissions import STEP_PERMISSION

from .route_matrix import (
    admin_routes,
    api_operations,
    is_admin,
    operation_action,
    required_action_of,
    takes_object,
    uncovered,
    url_of,
)
from .route_world import MONEY_MARKERS, STAFF_ROLES, build_practice
from .routes import PUBLIC, PUBLIC_PREFIXES, ROUTES, Route, report_filters

pytestmark = pytest.mark.django_db


class World:
    def __init__(self, ours, theirs):
        self.ours = ours
        self.theirs = theirs
        # The sessions below live for the whole module while each test's requests (and the
        # idle clock they move) are rolled back: the longest idle limit keeps them open.
        with scopes_disabled():
            PracticeSettings.objects.update_or_create(
                practice=ours.practice, defaults={"idle_logout_minutes": 480}
            )
        # One session per person for the whole module: logging in again for each of the
        # matrix's hundreds of requests would cost more than the requests.
        self.sessions = {}
        for user in [*ours.members.values(), ours.support]:
            login = Client()
            login.force_login(user)
            self.sessions[user.pk] = login.cookies[settings.SESSION_COOKIE_NAME].value

    def login(self, client, user) -> None:
        client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[user.pk]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("route-matrix-media")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with (
        override_settings(MEDIA_ROOT=media, PASSWORD_HASHERS=fast),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield World(build_practice("Lakeside", "lakeside"), build_practice("Hilltop", "hilltop"))
        transaction.set_rollback(True)


def _request(client, method: str, url: str, spec, objects, *, htmx: bool = False):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx or spec.htmx else {}
    if method == "GET":
        return client.get(url, spec.query(objects), **headers)
    return client.post(url + _query_string(spec, objects), spec.data(objects), **headers)


def _query_string(spec, objects) -> str:
    from urllib.parse import urlencode

    query = spec.query(objects)
    return "?" + urlencode(query, doseq=True) if query else ""


def _text(response) -> str:
    """What a person would read: the HTML/CSV/JSON body, or a PDF's text."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/pdf"):
        return subprocess.run(
            ["pdftotext", "-", "-"], input=body, capture_output=True, check=True
        ).stdout.decode()
    return body.decode(errors="replace")


def _leaks(text: str, objects) -> list[str]:
    return [s for s in objects.identifying if s in text]


STAFF_ROUTES = sorted(name for name, spec in ROUTES.items() if not spec.api)
OBJECT_ROUTES = [name for name in STAFF_ROUTES if takes_object(ROUTES[name])]
GET_ROUTES = [name for name in STAFF_ROUTES if ROUTES[name].method == "GET"]
ROLES = [Role(role) for role in STAFF_ROLES]


# --- coverage -------------------------------------------------------------------------------


def test_every_route_is_in_the_matrix_or_public_with_a_reason():
    assert uncovered() == []
    assert all(reason.strip() for reason in [*PUBLIC.values(), *PUBLIC_PREFIXES.values()])


@override_settings(ROOT_URLCONF="tests.security.fake_urls")
def test_a_new_route_without_coverage_fails_the_matrix(monkeypatch):
    # Listed in the table, but its view names no action: fails too.
    monkeypatch.setitem(ROUTES, "secret_listed_without_action", Route())
    problems = uncovered()
    assert len(problems) == 3, problems
    assert any(p.startswith("secret_unprotected ") and "ROUTES" in p for p in problems)
    assert any(p.startswith("secret_not_listed ") and "ROUTES" in p for p in problems)
    assert any(
        p.startswith("secret_listed_without_action:") and "practice_required" in p for p in problems
    )


def test_every_api_operation_is_in_the_matrix_with_an_action():
    operations = api_operations()
    assert {(op.path, op.method) for op in operations} >= {
        ("/api/v1/referrals/{id}/events/", "POST"),
        ("/api/v1/referrer-scores/", "GET"),
    }
    for operation in operations:
        assert operation.url_name in ROUTES, f"{operation}: add {operation.url_name} to ROUTES"
        assert ROUTES[operation.url_name].api
        assert operation_action(operation) is not None, f"{operation}: no required action"


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", STAFF_ROUTES)
def test_role_gets_what_the_table_grants(client, world, name, role):
    ours, spec = world.ours, ROUTES[name]
    action = required_action_of(name, spec, ours)
    world.login(client, ours.members[role])
    response = _request(client, spec.method, url_of(name, spec, ours), spec, ours)
    if not allows(role, action):
        assert response.status_code == 403, f"{role} may not {action}"
    elif spec.method == "GET":
        assert response.status_code == spec.ok, f"{role} may {action}"
    else:
        assert response.status_code not in (403, 404), f"{role} may {action}"
        assert response.status_code < 500
    assert _leaks(_text(response), world.theirs) == []


def test_a_practices_own_pages_show_its_identifying_strings(client, world):
    # Guards the "never their data" checks: the strings they look for do show on pages.
    ours = world.ours
    world.login(client, ours.members[Role.ADMIN])
    seen = set()
    for name in ("referral_detail", "online_inbox_item", "import_detail", "outreach_list"):
        spec = ROUTES[name]
        text = _text(_request(client, "GET", url_of(name, spec, ours), spec, ours))
        seen |= {s for s in ours.identifying if s in text}
    assert seen >= {
        "Lakeside Oral Surgery",
        "Lakeside Family Dental",
        "Lakesidepatient",
        "Lakesidedoc",
        "Lakesideonline",
        "Lakeside-history.csv",
    }


# --- isolation ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", OBJECT_ROUTES)
def test_another_practices_object_is_not_found(client, world, name, role):
    ours, theirs, spec = world.ours, world.theirs, ROUTES[name]
    action = required_action_of(name, spec, ours)
    before = spec.untouched(theirs) if spec.untouched else None
    world.login(client, ours.members[role])
    response = _request(client, spec.method, url_of(name, spec, theirs), spec, theirs)
    if not allows(role, action):
        assert response.status_code == 403
    elif spec.untouched:
        # Ids in a POST body: another practice's simply match nothing here.
        assert response.status_code < 500
        assert spec.untouched(theirs) == before
    else:
        assert response.status_code == 404
    assert _leaks(_text(response), theirs) == []


# --- money ----------------------------------------------------------------------------------


def _money(text: str) -> list[str]:
    return [marker for marker in MONEY_MARKERS if marker in text]


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_the_front_desk_sees_no_money_anywhere(client, world, htmx):
    ours = world.ours
    world.login(client, ours.members[Role.FRONT_DESK])
    shown = {}
    for name in GET_ROUTES:
        spec = ROUTES[name]
        response = _request(client, "GET", url_of(name, spec, ours), spec, ours, htmx=htmx)
        if response.status_code == 200 and _money(_text(response)):
            shown[name] = _money(_text(response))
    assert shown == {}


def test_money_is_on_the_pages_for_the_roles_that_may_see_it(client, world):
    # Guards the test above: the figures it looks for do appear where money is allowed.
    ours = world.ours
    world.login(client, ours.members[Role.CLINICIAN])
    for name in ("referral_detail", "referrer_board", "referrer_detail", "outreach_list"):
        spec = ROUTES[name]
        response = _request(client, "GET", url_of(name, spec, ours), spec, ours)
        assert _money(_text(response)), name


@pytest.mark.parametrize("kind", ["csv", "pdf"])
def test_no_report_export_shows_the_front_desk_money(client, world, kind):
    from analytics.reports import REPORTS

    ours = world.ours
    for role, sees_money in ((Role.FRONT_DESK, False), (Role.ADMIN, True)):
        world.login(client, ours.members[role])
        shown = set()
        for slug in REPORTS:
            url = reverse(f"report_{kind}", args=[slug])
            response = client.get(url, report_filters(ours))
            assert response.status_code == 200, slug
            shown |= set(_money(_text(response)))
        assert bool(shown) == sees_money, (role, shown)


# --- the API --------------------------------------------------------------------------------

OPERATIONS = api_operations()


def _api_call(client, operation, objects, key: str | None):
    spec = ROUTES[operation.url_name]
    url = url_of(operation.url_name, spec, objects)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    call = getattr(client, operation.method.lower())
    if operation.method == "GET":
        return call(url, **headers)
    return call(url, data="{}", content_type="application/json", **headers)


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{op.method} {op.path}" for op in OPERATIONS]
)
def test_api_key_gets_what_its_column_grants(client, world, operation):
    ours = world.ours
    action = operation_action(operation)
    response = _api_call(client, operation, ours, ours.raw_api_key)
    if not allows(API_KEY, action):
        assert response.status_code == 403
    elif operation.method in ("GET", "PATCH"):
        assert response.status_code == 200  # (an empty PATCH changes nothing)
    else:
        assert response.status_code == 400  # an empty body: refused by the serializer
    assert _leaks(_text(response), world.theirs) == []


@pytest.mark.parametrize(
    "operation",
    [op for op in OPERATIONS if op.takes_object],
    ids=[f"{op.method} {op.path}" for op in OPERATIONS if op.takes_object],
)
def test_api_key_cannot_reach_another_practices_object(client, world, operation):
    response = _api_call(client, operation, world.theirs, world.ours.raw_api_key)
    assert response.status_code == 404
    assert _leaks(_text(response), world.theirs) == []


@pytest.mark.parametrize("role", ROLES)
def test_a_logged_in_person_is_no_api_client(client, world, role):
    # The API is key-only: a session (any role, the front desk included) gets nothing.
    world.login(client, world.ours.members[role])
    for operation in OPERATIONS:
        assert _api_call(client, operation, world.ours, None).status_code == 401, operation


def test_the_api_key_table_matches_its_operations():
    # A key may do nothing the API does not offer, and reaches no staff-only area.
    # (view_money decides which fields the answers carry; a milestone's own action is
    # checked once its kind is known.)
    offered = {operation_action(op) for op in OPERATIONS}
    assert GRANTS[API_KEY] <= offered | {Action.VIEW_MONEY} | set(STEP_PERMISSION.values())


# --- the Django admin -----------------------------------------------------------------------

ADMIN = {key: url for key, url in admin_routes().items() if url is not None}


@pytest.mark.parametrize("role", ROLES)
def test_practice_roles_are_not_admin_users(client, world, role):
    # The admin is for support staff (is_staff), whatever the practice role.
    world.login(client, world.ours.members[role])
    for key, url in ADMIN.items():
        response = client.get(url(world.ours))
        assert response.status_code == 302, key
        assert response["Location"].startswith(reverse("admin:login")), key


@pytest.mark.parametrize("key", sorted(ADMIN))
def test_support_staff_see_only_the_practice_they_work_in(client, world, key):
    ours, theirs = world.ours, world.theirs
    world.login(client, ours.support)
    url = ADMIN[key]
    mine = client.get(url(ours))
    # 403: an add or delete the admin refuses; 404: "view on site" of a model that has no
    # page on the site (none has: staff pages are not linked from the admin).
    expected = (404,) if key == "admin:view_on_site" else (200, 302, 403)
    assert mine.status_code in expected, key
    assert _leaks(_text(mine), theirs) == []
    if url(ours) == url(theirs):
        return  # a page without an object: its lists were checked just above
    other = client.get(url(theirs))
    if key.startswith("admin/"):
        # /admin/<app>/<model>/<id>/ only redirects to .../change/, which is a 404 above.
        assert other.status_code == 302 and other["Location"].endswith("/change/")
    else:
        assert other.status_code == 404, key
    assert _leaks(_text(other), theirs) == []


def test_admin_keys_are_admin_routes():
    assert all(is_admin(key) for key in ADMIN)
