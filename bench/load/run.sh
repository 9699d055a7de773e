#!/usr/bin/env bash
# The load run (docs/performance.md "Load (issue 10)"): a private PostgreSQL + Redis, then
# bench/load/run.py (seed, sessions, gunicorn + Celery + SMTP sink, locust, letter check).
# Usage: bench/load/run.sh [--users 50] [--duration 3m] [--web-workers 4] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bench/run_with_services.sh .venv/bin/python bench/load/run.py "$@"
