#!/usr/bin/env bash
# Run a command against a private PostgreSQL 15 and Redis on loopback, started here in a
# temporary folder (as scripts/test.sh does) and stopped afterwards. Exports DATABASE_URL,
# REDIS_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND and VAR_DIR for the command.
# Usage: bench/run_with_services.sh .venv/bin/python bench/letter_delivery.py [options]
set -euo pipefail
source "$(dirname "$0")/../scripts/bootstrap.sh"
source scripts/services.sh

[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 is missing (scripts/test.sh installs it)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing (scripts/test.sh installs it)" >&2; exit 1; }

# Durable settings (fsync on): a benchmark of a delivery pipeline should pay for its commits.
start_services "-c max_connections=200"
"$@"
