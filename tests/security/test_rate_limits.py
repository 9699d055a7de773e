"""Rate limits on every door a stranger can knock on (settings.RATE_LIMITS): login, password
reset, the public referral form, the GP status page and the API per key. Each answers 429
with Retry-After and a message a person (a page) or a program (JSON) understands, counts in
the real Redis cache of the test run, lets through what stays under the limit, and counts
each client address or API key on its own. Small limits are set per test."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client, override_settings
from django_scopes import scopes_disabled

from communications.status_links import create_status_link
from practices.scoping import practice_scope
from referrals.models import OnlineReferral, ReferringOffice

from ..api_support import client_with, key_for
from ..communications.letter_cases import make_case
from ..conftest import PASSWORD, totp_code
from ..online_referral_helpers import form_data

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def fresh_counts():
    # The counts live in the run's Redis, shared by every test: start from none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def limits(settings):
    """Set small limits by name, as an operator would with RATE_LIMIT_<NAME>."""

    def set_limits(**rates):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}
        # allauth reads its own setting, which config/settings.py derives from RATE_LIMITS.
        account = dict(settings.ACCOUNT_RATE_LIMITS)
        if "login" in rates:
            account["login"] = f"{rates['login']}/ip"
        if "password_reset" in rates or "password_reset_per_email" in rates:
            account["reset_password"] = (
                f"{settings.RATE_LIMITS['password_reset']}/ip,"
                f"{settings.RATE_LIMITS['password_reset_per_email']}/key"
            )
        if "two_factor" in rates:
            account["login_failed"] = f"{rates['two_factor']}/key"
        if "password_reset_link" in rates:
            account["reset_password_from_key"] = f"{rates['password_reset_link']}/ip"
        settings.ACCOUNT_RATE_LIMITS = account

    return set_limits


def retry_after(response, most: int) -> int:
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= most
    return seconds


def test_the_counts_are_kept_in_redis():
    # Shared by every web process: a per-process memory cache would multiply each limit.
    assert isinstance(caches["default"], RedisCache)


# --- login and password reset (allauth) ---------------------------------------------------


def test_login_answers_429_after_the_limit_even_with_the_right_password(limits, admin_user):
    limits(login="3/m")
    office = Client(REMOTE_ADDR="203.0.113.20")
    for n in range(3):
        wrong = office.post("/login/", {"login": f"nobody{n}@x.test", "password": "nope"})
        assert wrong.status_code == 200  # the form again, with its error
    refused = office.post("/login/", {"login": admin_user.email, "password": PASSWORD})
    assert refused.status_code == 429
    assert retry_after(refused, 60) == 60
    page = refused.content.decode()
    assert "There were too many login attempts from your network" in page
    assert 'Please wait <strong data-testid="retry-after">1 minute</strong>' in page
    # Another network is not held back by this one.
    other = Client(REMOTE_ADDR="198.51.100.20")
    ok = other.post("/login/", {"login": admin_user.email, "password": PASSWORD})
    assert ok.status_code == 302
    # The login page itself still opens (only posts count).
    assert office.get("/login/").status_code == 200


def test_wrong_second_factor_codes_are_limited_per_account(limits, admin_user):
    # Someone who has the password must not try the million codes: axes never sees them.
    limits(two_factor="3/5m")
    thief = Client(REMOTE_ADDR="203.0.113.30")
    assert (
        thief.post("/login/", {"login": admin_user.email, "password": PASSWORD}).status_code == 302
    )
    for _ in range(3):
        wrong = thief.post("/accounts/2fa/authenticate/", {"code": "000000"})
        assert "Incorrect code." in wrong.text
    # From now on even the right code is refused, from any address, with a message.
    for client in (thief, Client(REMOTE_ADDR="198.51.100.30")):
        client.post("/login/", {"login": admin_user.email, "password": PASSWORD})
        refused = client.post("/accounts/2fa/authenticate/", {"code": totp_code()})
        assert refused.status_code == 200
        assert "Too many wrong codes for this account." in refused.text
        assert client.get("/")["Location"].startswith("/login/")  # not logged in


def test_password_reset_is_limited_per_address_and_per_email(limits, admin_user):
    limits(password_reset="3/h", password_reset_per_email="1/h")
    stranger = Client(REMOTE_ADDR="203.0.113.21")
    first = stranger.post("/accounts/password/reset/", {"email": admin_user.email})
    assert first.status_code == 302
    # The same person's inbox gets one mail an hour, whoever asks.
    again = Client(REMOTE_ADDR="198.51.100.21").post(
        "/accounts/password/reset/", {"email": admin_user.email}
    )
    assert again.status_code == 429
    assert retry_after(again, 3600) == 3600
    assert "too many password-reset requests" in again.content.decode()
    assert len(mail.outbox) == 1
    # One address asking for many people is stopped at the address's limit.
    for n in range(2):
        ok = stranger.post("/accounts/password/reset/", {"email": f"someone{n}@x.test"})
        assert ok.status_code == 302
    over = stranger.post("/accounts/password/reset/", {"email": "someone9@x.test"})
    assert over.status_code == 429
    assert 'Please wait <strong data-testid="retry-after">1 hour</strong>' in over.text


def test_the_reset_link_page_is_limited_per_address(limits):
    limits(password_reset_link="2/m")
    guesser = Client(REMOTE_ADDR="203.0.113.22")
    data = {"password1": "a-new-pass-42", "password2": "a-new-pass-42"}
    for n in range(2):
        bad = guesser.post(f"/accounts/password/reset/key/1-guess{n}/", data)
        assert bad.status_code == 200  # "the link is invalid"
    over = guesser.post("/accounts/password/reset/key/1-guess9/", data)
    assert over.status_code == 429
    assert retry_after(over, 60) == 60
    assert "password-reset page was opened too many times" in over.text


# --- the public referral form -------------------------------------------------------------


def test_the_referral_form_follows_its_setting(limits, practice):
    limits(online_referral="2/h")
    office = Client(REMOTE_ADDR="203.0.113.23")
    for _ in range(2):
        assert office.post("/refer/lakeside/", form_data()).status_code == 302
    over = office.post("/refer/lakeside/", form_data())
    assert over.status_code == 429
    retry_after(over, 3600)
    assert "What you just sent was not saved." in over.text
    with practice_scope(practice):
        assert OnlineReferral.objects.count() == 2


# --- the GP status page -------------------------------------------------------------------


@pytest.fixture
def status_token(practice):
    with practice_scope(practice):
        referral = make_case(practice, first_name="Robin", last_name="Quill")
        _, token = create_status_link(referral.referring_office)
    return token


def test_the_status_page_answers_429_after_the_limit(limits, status_token):
    limits(status_page="3/10m")
    office = Client(REMOTE_ADDR="203.0.113.24")
    # Guessed tokens count like good ones: guessing costs the guesser time.
    assert office.get("/status/not-a-token/").status_code == 404
    for _ in range(2):
        assert office.get(f"/status/{status_token}/").status_code == 200
    over = office.get(f"/status/{status_token}/")
    assert over.status_code == 429
    retry_after(over, 600)
    assert "This secure status page was opened too many times" in over.text
    assert "R. Q." not in over.text  # nothing of the page's content
    # Private like the page itself: no cache, no referrer carrying the token.
    assert over["Referrer-Policy"] == "no-referrer"
    assert "no-store" in over["Cache-Control"]
    # The letter PDFs behind the same link share the count.
    assert office.get(f"/status/{status_token}/letters/1.pdf").status_code == 429
    # Another office's network still opens its page.
    assert Client(REMOTE_ADDR="198.51.100.24").get(f"/status/{status_token}/").status_code == 200


# --- the API, per key ---------------------------------------------------------------------


def test_one_key_over_its_limit_does_not_limit_another(limits, practice, other_practice):
    limits(api="3/m")
    busy = client_with(key_for(practice, "Busy PMS"))
    quiet = client_with(key_for(practice, "Second system"))
    elsewhere = client_with(key_for(other_practice))
    for _ in range(3):
        assert busy.get("/api/v1/offices/").status_code == 200
    over = busy.get("/api/v1/offices/")
    assert over.status_code == 429
    assert over["Content-Type"] == "application/json"
    wait = retry_after(over, 60)
    assert over.json() == {
        "detail": f"Too many requests for this API key: at most 3 per minute. "
        f"Try again in {wait} second{'s' if wait != 1 else ''}."
    }
    # Writes are refused too, and nothing is stored.
    refused = busy.post("/api/v1/offices/", {"name": "Should Not Exist"}, format="json")
    assert refused.status_code == 429
    with scopes_disabled():
        assert not ReferringOffice.objects.filter(name="Should Not Exist").exists()
    # Another key of the same practice, and another practice's key, have their own counts.
    assert quiet.get("/api/v1/offices/").status_code == 200
    assert elsewhere.get("/api/v1/offices/").status_code == 200


def test_the_schema_tells_integrators_about_the_limit(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "429" in operation["responses"], (method, path)


def test_the_api_counts_calls_in_a_sliding_window(limits, practice):
    limits(api="2/m")
    busy = client_with(key_for(practice))
    with time_machine.travel(dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        assert busy.get("/api/v1/offices/").status_code == 200
        clock.shift(dt.timedelta(seconds=20))
        assert busy.get("/api/v1/offices/").status_code == 200
        over = busy.get("/api/v1/offices/")
        # The first call leaves the window 40 seconds from now.
        assert over.status_code == 429 and over["Retry-After"] == "40"
        clock.shift(dt.timedelta(seconds=41))
        assert busy.get("/api/v1/offices/").status_code == 200


def test_the_public_schema_is_limited_per_address(limits):
    limits(api_public="2/m")
    reader = Client(REMOTE_ADDR="203.0.113.25")
    for _ in range(2):
        assert reader.get("/api/v1/schema/").status_code == 200
    over = reader.get("/api/v1/schema/")
    assert over.status_code == 429
    retry_after(over, 60)
    assert over["Content-Type"] == "application/json"  # not the schema's YAML
    assert over.json()["detail"].startswith(
        "Too many requests for your address: at most 2 per minute. Try again in"
    )


def test_someone_trying_keys_is_limited_per_address(limits, practice):
    limits(api_public="2/m")
    for n in range(2):
        guess = client_with(f"oms_guess{n}")
        assert guess.get("/api/v1/offices/", REMOTE_ADDR="203.0.113.27").status_code == 401
    over = client_with("oms_guess9").get("/api/v1/offices/", REMOTE_ADDR="203.0.113.27")
    assert over.status_code == 429
    retry_after(over, 60)
    assert over.json()["detail"].startswith("Too many requests for your address: at most 2")
    # A real key is counted on its own, whatever its address did.
    key = client_with(key_for(practice))
    assert key.get("/api/v1/offices/", REMOTE_ADDR="203.0.113.27").status_code == 200


# --- when Redis is down, nobody is locked out -----------------------------------------------


def test_without_redis_every_limited_door_still_serves(
    limits, settings, practice, admin_user, status_token
):
    limits(
        login="1/m",
        password_reset="1/h",
        api="1/m",
        online_referral="1/h",
        status_page="1/10m",
    )
    key = key_for(practice)
    # The backend the settings configure for Redis, pointed at the discard port, where
    # nothing listens: Redis is down.
    unreachable = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/0"}}
    assert unreachable["default"]["BACKEND"] == "config.cache.TolerantRedisCache"
    office = Client(REMOTE_ADDR="203.0.113.26")
    with override_settings(CACHES=unreachable):
        for _ in range(2):
            login = Client().post("/login/", {"login": admin_user.email, "password": PASSWORD})
            assert login["Location"] == "/accounts/2fa/authenticate/"
            assert (
                office.post("/accounts/password/reset/", {"email": "a@x.test"}).status_code == 302
            )
            assert office.post("/refer/lakeside/", form_data()).status_code == 302
            assert office.get(f"/status/{status_token}/").status_code == 200
            assert client_with(key).get("/api/v1/offices/").status_code == 200
    with practice_scope(practice):
        assert OnlineReferral.objects.count() == 2


# --- the settings -------------------------------------------------------------------------


def test_the_defaults_and_allauths_copy_of_them(settings):
    from django.conf import settings as live

    defaults = _settings_in_fresh_interpreter({})
    assert defaults["RATE_LIMITS"] == {
        "login": "30/m",
        "password_reset": "10/h",
        "password_reset_per_email": "3/h",
        "password_reset_link": "20/m",
        "two_factor": "5/5m",
        "online_referral": "5/10m",
        "status_page": "60/10m",
        "api": "600/m",
        "api_public": "60/m",
    }
    assert defaults["ACCOUNT_RATE_LIMITS"] == {
        "login_failed": "5/5m/key",  # second-factor codes only: axes counts passwords
        "login": "30/m/ip",
        "reset_password": "10/h/ip,3/h/key",
        "reset_password_from_key": "20/m/ip",
    }
    assert live.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "referrals.api.throttling.ApiKeyRateThrottle"
    ]


def test_each_limit_is_set_or_switched_off_from_the_environment():
    changed = _settings_in_fresh_interpreter({"RATE_LIMIT_API": "1200/m", "RATE_LIMIT_LOGIN": ""})
    assert changed["RATE_LIMITS"]["api"] == "1200/m"
    assert changed["RATE_LIMITS"]["login"] is None
    assert changed["ACCOUNT_RATE_LIMITS"]["login"] is None


def test_a_malformed_limit_stops_the_start():
    with pytest.raises(subprocess.CalledProcessError) as refused:
        _settings_in_fresh_interpreter({"RATE_LIMIT_API": "600 per minute"})
    assert "RATE_LIMIT_API must be COUNT/PERIOD, e.g. 600/m or 5/10m" in refused.value.stderr


def _settings_in_fresh_interpreter(environment: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RATE_LIMIT_")}
    env.update(environment, DJANGO_SETTINGS_MODULE="config.settings")
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'RATE_LIMITS': s.RATE_LIMITS, "
        "'ACCOUNT_RATE_LIMITS': s.ACCOUNT_RATE_LIMITS}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)
