"""Settings from the environment: production refuses to start half-configured, and the
development default keeps its generated secret. Each case imports the settings in a fresh
interpreter with a controlled environment, as a server process would."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
SETUP = (
    "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
)
# Reading a setting loads config/settings.py exactly as django.setup() does, without
# importing every app: for the cases that are only about the settings module.
SETTINGS_ONLY = "from django.conf import settings; print(settings.SECRET_KEY)"
# Variables the suite's runner sets that would leak into the child's configuration.
CONFIG_VARS = {
    "APP_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "REDIS_URL",
    "VAR_DIR",
    "DEBUG",
    "ALLOWED_HOSTS",
}
GOOD_SECRET = "k" * 20 + "-a-real-production-secret-0123456789"


def run_setup(tmp_path, code=SETUP, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path / "var"))
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production(**overrides) -> dict:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": GOOD_SECRET,
        "DATABASE_URL": "postgres://app@127.0.0.1:5432/app",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_refuses_to_start_without_its_services(tmp_path, missing):
    result = run_setup(tmp_path, **production(**{missing: None}))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {missing} must be set when APP_ENV=production" in result.stderr


@pytest.mark.parametrize("weak", ["short", "django-insecure-" + "x" * 40])
def test_production_refuses_a_weak_secret_key(tmp_path, weak):
    result = run_setup(tmp_path, SETTINGS_ONLY, **production(SECRET_KEY=weak))
    assert result.returncode != 0
    assert "SECRET_KEY must be a real secret of at least 32 characters" in result.stderr


def test_production_starts_when_configured(tmp_path):
    result = run_setup(tmp_path, **production())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == GOOD_SECRET
    # No generated secret lying around in production.
    assert not (tmp_path / "var" / "secret_key").exists()


def test_an_unknown_app_env_is_refused(tmp_path):
    result = run_setup(tmp_path, SETTINGS_ONLY, APP_ENV="prod")
    assert result.returncode != 0
    assert "APP_ENV must be 'development' or 'production', not 'prod'" in result.stderr


def test_development_generates_its_secret_once_and_reuses_it(tmp_path):
    first = run_setup(tmp_path, SETTINGS_ONLY)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text().strip() == first.stdout.strip()
    assert len(first.stdout.strip()) >= 50
    # Readable by its owner only: it signs sessions.
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = run_setup(tmp_path, SETTINGS_ONLY)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    # Another checkout (another VAR_DIR) gets its own secret.
    other = run_setup(tmp_path / "elsewhere", SETTINGS_ONLY)
    assert other.stdout != first.stdout


def test_development_uses_the_embedded_default(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_RESULT_BACKEND)"
    )
    result = run_setup(tmp_path, code)
    assert result.returncode == 0, result.stderr
    engine, broker, backend = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert broker == "filesystem://"
    assert backend == f"file://{(tmp_path / 'var' / 'celery' / 'results').resolve()}"
