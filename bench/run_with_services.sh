#!/usr/bin/env bash
# Run a command against a private PostgreSQL 15 and Redis on loopback, started here in a
# temporary folder (as scripts/test.sh does) and stopped afterwards. Exports DATABASE_URL,
# REDIS_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND and VAR_DIR for the command.
# Usage: bench/run_with_services.sh .venv/bin/python bench/letter_delivery.py [options]
set -euo pipefail
source "$(dirname "$0")/../scripts/bootstrap.sh"

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
as_root() { [ "$(id -u)" = 0 ]; }
pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 is missing (scripts/test.sh installs it)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is missing (scripts/test.sh installs it)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/omsref-bench.XXXXXX)
chmod 755 "$TMP"
as_root && chown postgres: "$TMP"
PG_PORT=$(free_port); REDIS_PORT=$(free_port)
cleanup() {
  pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "==> PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT" >&2
pg "$PG_BIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
# Durable settings (fsync on): a benchmark of a delivery pipeline should pay for its commits.
pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $TMP -c max_connections=200" start >/dev/null
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
  --daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/1"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/2"
export VAR_DIR="$TMP/var"
"$@"
