"""The running stack for the load and fault benches: gunicorn (several workers) and a real
Celery worker (with beat) as subprocesses, and an SMTP sink (aiosmtpd, in this process) on
loopback, against the PostgreSQL and Redis of the environment (bench/run_with_services.sh).

Each subprocess gets its own process group, so stopping it stops its children too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_services(script: str) -> None:
    db = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not db.startswith("postgres") or not broker.startswith("redis"):
        sys.exit(
            f"This bench needs PostgreSQL and Redis: run it as\n"
            f"  bench/run_with_services.sh .venv/bin/python {script}\n"
            "or set DATABASE_URL (postgres://...), REDIS_URL and CELERY_BROKER_URL (redis://...)."
        )


class Process:
    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("a")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Stack:
    """gunicorn + a Celery worker with beat, sending through ``smtp_url``."""

    def __init__(
        self,
        log_dir: Path,
        smtp_url: str,
        *,
        web_workers: int = 4,
        worker_concurrency: int = 2,
        extra_env: dict | None = None,
    ):
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web_workers = web_workers
        self.worker_concurrency = worker_concurrency
        self.env = {
            **os.environ,
            "EMAIL_URL": smtp_url,
            "EMAIL_TIMEOUT": "10",
            # As in production: no debug pages (and no per-request query log in memory).
            "DEBUG": "false",
            "SITE_URL": self.url,
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        self.web: Process | None = None
        self.worker: Process | None = None

    def start(self) -> Stack:
        self.start_worker()
        self.start_web()
        return self

    def start_web(self) -> None:
        self.web = Process(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                # As the container runs it: the redacted access log (into gunicorn.log).
                "--config=config/gunicorn.conf.py",
                f"--workers={self.web_workers}",
                f"--bind=127.0.0.1:{self.port}",
                "--timeout=60",
                "--graceful-timeout=10",
            ],
            self.env,
            self.log_dir,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.web.alive():
                raise SystemExit(f"gunicorn stopped:\n{self.web.tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer in 60 s:\n{self.web.tail()}")

    def start_worker(self) -> None:
        self.worker = Process(
            "celery",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-B",
                "--pool=prefork",
                f"--concurrency={self.worker_concurrency}",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
                "-s",
                str(self.log_dir / "celerybeat-schedule"),
            ],
            self.env,
            self.log_dir,
        )

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process is not None:
                process.stop()
