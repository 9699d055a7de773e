# Sourced by scripts/test.sh and bench/run_with_services.sh: start a private PostgreSQL 15
# and Redis on loopback in a temporary folder, export their URLs, stop them on exit.
# Usage: start_services "<extra postgres -c options>"
as_root() { [ "$(id -u)" = 0 ]; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

start_services() {
  local pg_options=$1
  TMP=$(mktemp -d /tmp/omsref.XXXXXX)
  chmod 755 "$TMP"
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  as_root && chown postgres: "$TMP"
  PG_PORT=$(free_port); REDIS_PORT=$(free_port)
  trap stop_services EXIT
  echo "==> starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT" >&2
  pg "$PG_BIN/initdb" -D "$TMP/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $TMP $pg_options" start >/dev/null
  # The app connects as a plain role that owns its database, never as a superuser:
  # superusers bypass row-level security, so every test must run as a role that does not
  # (docs/security.md "Row-level security"). CREATEDB lets pytest create its test database,
  # which the role then owns (and, on PostgreSQL 15, its public schema with it).
  pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE omsref LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS" \
    -c "CREATE DATABASE omsref OWNER omsref" >/dev/null
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
    --daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export DATABASE_URL="postgres://omsref@127.0.0.1:$PG_PORT/omsref"
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/1"
  export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/2"
  export VAR_DIR="$TMP/var"
  # For bench/faults.py, which stops and starts these servers: the folder holds PostgreSQL's
  # data directory (pg/) and Redis's pid file (redis.pid).
  export SERVICES_DIR="$TMP" PG_BIN
}

stop_services() {
  pg "$PG_BIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true
  rm -rf "$TMP"
}
