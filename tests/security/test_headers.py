"""The browser's walls (docs/security.md, "The browser"): a strict Content-Security-Policy on
staff pages, the public referral form and the GP status page; the referrer policy
(same-origin, the status page no-referrer); Permissions-Policy; no inline script or inline
handler in any page; production's cookies, HSTS and https redirect, read from the settings
in a fresh interpreter as a server would load them; ``check --deploy`` clean."""

import base64
import hashlib
import html
import json
import os
import re
import subprocess
import sys

import pytest
import time_machine
from django.urls import get_resolver, reverse

from communications.rendering import letter_css
from communications.status_links import create_status_link
from practices.scoping import practice_scope
from tests.communications.cases import NOW, add_surgeon, walk_case
from tests.communications.letter_cases import make_case
from tests.factories import OfficeFactory
from tests.test_settings import BASE_DIR, CONFIG_VARS, production

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(response):
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"], "no inline script, no eval, nothing from elsewhere"
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


def assert_no_inline_code(page: str):
    for attributes, body in SCRIPT_TAG.findall(page):
        if "application/json" in attributes:  # json_script data, never run
            continue
        assert "src=" in attributes and not body.strip(), f"inline script: {body[:80]!r}"
    assert not INLINE_HANDLER.search(page), INLINE_HANDLER.search(page).group(0)
    assert "hx-on" not in page and "js:" not in page


@pytest.fixture
def office(in_practice):
    return OfficeFactory(practice=in_practice, name="Maple Street Dental")


@pytest.fixture
def status_token(practice):
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        _, token = create_status_link(referral.referring_office)
    return token


def test_a_staff_page_has_the_strict_policy_and_a_same_origin_referrer(admin_client):
    response = admin_client.get(reverse("home"))
    assert response.status_code == 200
    assert_strict(response)
    assert response["Referrer-Policy"] == "same-origin"


@pytest.fixture
def referral(in_practice):
    return make_case(in_practice)


@pytest.mark.parametrize(
    "name",
    [
        "home",
        "referrer_board",
        "reports",
        "intake",
        "api_keys",
        "referrer_detail",
        "office_detail",
        "referral_detail",
        "patient_detail",
        "letters",
    ],
)
def test_staff_pages_carry_no_inline_script_or_handler(admin_client, referral, name):
    office, patient = referral.referring_office, referral.patient
    url = {
        "referrer_detail": reverse("referrer_detail", args=[office.pk]),
        "office_detail": reverse("office_detail", args=[office.pk]),
        "referral_detail": reverse("referral_detail", args=[referral.pk]),
        "patient_detail": reverse("patient_detail", args=[patient.pk]),
        "letters": reverse("letter_template_edit", args=["consult_completed"]),
    }.get(name) or reverse(name)
    response = admin_client.get(url)
    assert response.status_code == 200, url
    assert_strict(response)
    assert_no_inline_code(response.content.decode())


def pages_without_arguments() -> list[str]:
    """Every named route of ours that takes no argument."""
    names = []
    for key, entries in get_resolver().reverse_dict.lists():
        if isinstance(key, str) and all(not params for _, params in entries[0][0]):
            names.append(key)
    return sorted(set(names))


def test_no_page_carries_inline_script_handler_or_style(admin_client, office):
    """A new page with an inline <script>, onclick= or style="" would be refused by the
    browser: caught here for every page that needs no argument."""
    checked = []
    for name in pages_without_arguments():
        response = admin_client.get(reverse(name))
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = response.content.decode()
        assert_no_inline_code(page)
        assert not re.search(r"<[^>]+\sstyle\s*=", page), name
        assert "<style" not in page.split("<noscript>")[0], name
        checked.append(name)
    assert {"home", "intake", "reports", "referrer_board", "api_keys"} <= set(checked)


def test_the_new_status_link_page_has_no_inline_code(admin_client, referral):
    response = admin_client.post(reverse("status_link_create", args=[referral.referring_office_id]))
    assert response.status_code == 200
    page = response.content.decode()
    assert_no_inline_code(page)
    assert 'data-copy="#status-url"' in page  # the Copy button, done by static/js/app.js


def test_the_public_referral_form_has_the_strict_policy(client, practice):
    response = client.get("/refer/lakeside/")
    assert response.status_code == 200
    assert_strict(response)
    assert response["Referrer-Policy"] == "same-origin"
    assert_no_inline_code(response.content.decode())
    # Its CSRF cookie is SameSite=Lax in every environment (Secure in production, below).
    assert response.cookies["csrftoken"]["samesite"] == "Lax"


def test_the_status_page_has_the_strict_policy_and_sends_no_referrer(client, status_token):
    response = client.get(reverse("status_page", args=[status_token]))
    assert response.status_code == 200
    assert_strict(response)
    # The token is in the URL: a link the GP follows must not carry it elsewhere.
    assert response["Referrer-Policy"] == "no-referrer"
    assert_no_inline_code(response.content.decode())


def test_the_api_docs_load_their_code_from_files(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert_strict(response)
    page = response.content.decode()
    assert_no_inline_code(page)
    assert "<style" not in page
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_letter_editor_allows_exactly_the_letters_own_stylesheet(admin_client, practice):
    with time_machine.travel(NOW, tick=False):
        with practice_scope(practice):
            walk_case(practice, surgeon=add_surgeon(practice))
        response = admin_client.get(reverse("letter_template_edit", args=["consult_completed"]))
    assert response.status_code == 200
    # The preview's srcdoc document takes this page's policy: its <style> must match a hash.
    frame = html.unescape(response.content.decode().split('srcdoc="', 1)[1].split('"', 1)[0])
    style = frame.split("<style>", 1)[1].split("</style>", 1)[0]
    assert style == letter_css()
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy(response)["style-src"] == ["'self'", f"'sha256-{digest}'"]
    assert_strict(response)
    # Other pages do not allow it.
    assert policy(admin_client.get(reverse("home")))["style-src"] == ["'self'"]


# --- production ------------------------------------------------------------------------


def run_production(tmp_path, code: str, **overrides) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with production's environment and nothing of the
    test runner's (its DJANGO_ALLOW_ASYNC_UNSAFE would be a deploy error of its own)."""
    leaks = CONFIG_VARS | {"DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in leaks}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path / "var"))
    env.update(production(**overrides))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({n: getattr(s, n, None) for n in ["
    "'SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', "
    "'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_SAMESITE', 'SECURE_SSL_REDIRECT', "
    "'SECURE_REDIRECT_EXEMPT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SILENCED_SYSTEM_CHECKS', 'SECURE_PROXY_SSL_HEADER']}))"
)


def production_settings(tmp_path, **overrides) -> dict:
    result = run_production(tmp_path, PRODUCTION_SETTINGS, **overrides)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_cookies_are_secure_lax_and_hidden_from_scripts(tmp_path):
    values = production_settings(tmp_path)
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_SAMESITE"] == "Lax"
    # One year of HSTS for every subdomain; preload only when the operator asks for it.
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is False
    assert values["SECURE_SSL_REDIRECT"] is True


def test_production_hsts_and_redirect_follow_the_environment(tmp_path):
    values = production_settings(
        tmp_path, SECURE_HSTS_SECONDS="600", SECURE_HSTS_PRELOAD="true", SECURE_SSL_REDIRECT="off"
    )
    assert values["SECURE_HSTS_SECONDS"] == 600
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert "security.W021" not in (values["SILENCED_SYSTEM_CHECKS"] or [])
    assert values["SECURE_SSL_REDIRECT"] is False


def test_production_redirects_to_https_but_not_the_health_check(
    tmp_path, client, settings, practice
):
    values = production_settings(tmp_path)
    settings.SECURE_SSL_REDIRECT = values["SECURE_SSL_REDIRECT"]
    settings.SECURE_REDIRECT_EXEMPT = values["SECURE_REDIRECT_EXEMPT"]
    settings.SECURE_HSTS_SECONDS = values["SECURE_HSTS_SECONDS"]
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = values["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    settings.SECURE_PROXY_SSL_HEADER = tuple(values["SECURE_PROXY_SSL_HEADER"])
    settings.CSRF_COOKIE_SECURE = values["CSRF_COOKIE_SECURE"]

    response = client.get("/refer/lakeside/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/refer/lakeside/"
    # The load balancer checks health over plain http.
    assert client.get("/healthz").status_code != 301
    # Behind the proxy, over https: the page, HSTS, and a Secure CSRF cookie.
    response = client.get("/refer/lakeside/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response.cookies["csrftoken"]["secure"] is True


def test_check_deploy_is_clean_in_production(tmp_path):
    result = run_production(
        tmp_path,
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy'])",
        ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr
