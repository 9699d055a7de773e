"""The embedded default, end to end: no database server, no broker, nothing but a folder.

What a newcomer's `make run` does, in a fresh VAR_DIR and with none of the suite's
PostgreSQL/Redis variables: migrate SQLite, seed a small demo practice, render a page as
the demo administrator, and have a real Celery worker execute a task sent through the
filesystem broker, its result coming back through the file result backend.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything that would point the child at the suite's servers instead of the defaults.
SERVER_VARS = {
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "REDIS_URL",
    "EMAIL_URL",
    "VAR_DIR",
    "DEBUG",
    "ALLOWED_HOSTS",
}

RENDER_HOME = """
import json, sys
import django
django.setup()
from django.test import Client
from practices.models import Membership
from django_scopes import scopes_disabled

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
import time

email, password, secret = sys.argv[1], sys.argv[2], sys.argv[3]
client = Client(HTTP_HOST="localhost")
first = client.post("/login/", {"login": email, "password": password})
# The second step with the printed key, as an authenticator app would compute it.
code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
login = client.post("/accounts/2fa/authenticate/", {"code": code})
home = client.get("/")
with scopes_disabled():
    practice = Membership.objects.select_related("practice").get(user__email=email).practice
print(json.dumps({
    "first_step": first.get("Location"),
    "login_status": login.status_code,
    "login_location": login.get("Location"),
    "home_status": home.status_code,
    "home": home.content.decode(),
    "practice_id": practice.pk,
    "practice_name": practice.name,
    "practice_slug": practice.slug,
}))
"""

RUN_TASK = """
import json, sys
import django
django.setup()
from practices.models import Practice
from practices.scoping import practice_scope
from referrals.tasks import practice_heartbeat
from referrals.models import ReferringOffice

practice = Practice.objects.get(pk=int(sys.argv[1]))
with practice_scope(practice):
    expected = ReferringOffice.objects.filter(is_archived=False).count()
result = practice_heartbeat.delay(practice.pk)
print(json.dumps({"result": result.get(timeout=90), "expected": expected}))
"""


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARS}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path / "var"))
    return env


def run(env, *args, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def worker(embedded_env, tmp_path):
    """`celery -A config worker -B` as `make run` starts it, in its own process group."""
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-B"]
        + ["--concurrency=1", "-l", "info"],
        cwd=BASE_DIR,
        env=embedded_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    # Warm shutdown first (the worker stops its pool and beat), then make sure.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def test_the_embedded_default_migrates_seeds_serves_and_runs_tasks(embedded_env, tmp_path, worker):
    var = tmp_path / "var"
    run(embedded_env, "manage.py", "migrate", "--noinput")
    assert (var / "db.sqlite3").exists()

    seeded = run(embedded_env, "manage.py", "seed_demo", "--offices", "5", "--years", "1")
    # The demo's printed logins are what a newcomer types: use them as printed.
    match = re.search(r"^\s*(\S+@\S+)\s+(\S+)\s+admin\s*$", seeded.stdout, re.MULTILINE)
    assert match, seeded.stdout
    email, password = match.groups()
    secret = re.search(
        rf"Two-factor for {re.escape(email)}: the authenticator key (\w+)", seeded.stdout
    )[1]

    page = json.loads(run(embedded_env, "-c", RENDER_HOME, email, password, secret).stdout)
    assert page["first_step"] == "/accounts/2fa/authenticate/"
    assert page["login_status"] == 302
    assert page["login_location"] == "/"
    assert page["home_status"] == 200
    assert page["practice_name"].replace("&", "&amp;") in page["home"]

    # The worker has been starting alongside: a task sent through the filesystem broker
    # runs in it and its result comes back through the file result backend.
    outcome = json.loads(
        run(embedded_env, "-c", RUN_TASK, str(page["practice_id"]), timeout=180).stdout
    )
    assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    assert outcome["result"]["practice"] == page["practice_slug"]
    assert outcome["result"]["offices"] == outcome["expected"] > 0
    assert f'data-testid="office-count">{outcome["expected"]}<' in page["home"]
    assert list((var / "celery" / "results").iterdir())
    log = (tmp_path / "worker.log").read_text()
    assert "referrals.tasks.practice_heartbeat" in log
    assert "succeeded" in log

    # Every later `make run` seeds with --if-empty: nothing happens.
    again = run(embedded_env, "manage.py", "seed_demo", "--if-empty")
    assert "not seeding" in again.stdout
