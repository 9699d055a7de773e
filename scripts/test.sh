#!/usr/bin/env bash
# The whole test suite against a real PostgreSQL 15 and a real Redis that this script
# starts on loopback in a temporary folder and stops afterwards.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"

as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if as_root; then
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing: $* (install them with your package manager)" >&2; exit 1
  fi
}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] || { echo "==> installing PostgreSQL 15"; apt_install postgresql-15; }
command -v redis-server >/dev/null || { echo "==> installing redis-server"; apt_install redis-server; }
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/lib/chromium/chromium}
[ -x "$CHROMIUM_PATH" ] || { echo "==> installing chromium"; apt_install chromium; }
command -v pdftoppm >/dev/null || apt_install poppler-utils
export CHROMIUM_PATH

TMP=$(mktemp -d /tmp/omsref-test.XXXXXX)
chmod 755 "$TMP"
PG_PORT=$(free_port); REDIS_PORT=$(free_port)
pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_root && chown postgres: "$TMP"

cleanup() {
  pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "==> starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT"
pg "$PG_BIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
  --daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/1"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/2"
export VAR_DIR="$TMP/var"
export DJANGO_ALLOW_ASYNC_UNSAFE=true

echo "==> running the test suite"
set +e
uv run --locked pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  # pytest's "no tests collected": a suite that ran nothing has proven nothing.
  echo "ERROR: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
