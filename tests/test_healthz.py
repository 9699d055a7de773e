"""/healthz: what load balancers and docker-compose's health checks ask."""

import socket

import pytest

pytestmark = pytest.mark.django_db


def closed_loopback_port() -> int:
    # Bind to get a free port from the kernel, then close it: nothing listens there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_is_ok_when_the_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_needs_no_login_and_reveals_nothing_else(client):
    response = client.get("/healthz")
    assert set(response.json()) == {"status", "database", "broker"}


def test_healthz_is_503_when_the_broker_is_unreachable(client, monkeypatch):
    # Celery reads CELERY_BROKER_URL from the environment before its own configuration
    # (celery.app.utils.Settings.broker_url), so the environment is where to point it at a
    # port nobody listens on. Connections are made per check, never cached.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{closed_loopback_port()}/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error: ")
    # Back to the real broker: healthy again.
    monkeypatch.undo()
    assert client.get("/healthz").status_code == 200


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
