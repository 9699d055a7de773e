#!/usr/bin/env bash
# `make run`: the whole app on one machine with nothing but python3.
#   - syncs the Python environment (uv, bootstrapped if missing),
#   - migrates the database and seeds the demo practice if the database is empty,
#   - starts a Celery worker with beat in the background,
#   - serves the app on http://127.0.0.1:8000/ (HOST and PORT override it),
#   - stops the worker when the server stops (Ctrl-C).
# With no DATABASE_URL / CELERY_BROKER_URL this is the embedded default: SQLite and a
# filesystem broker under var/ (VAR_DIR). Set them to use PostgreSQL and Redis instead.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh" # also moves to the repository root

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
URL="http://$HOST:$PORT"
PY=.venv/bin/python
# Job control: the worker and the server each get their own process group, so stopping
# them stops their children too (the pool, beat, the autoreloader's server process).
set -m

if ! "$PY" - "$HOST" "$PORT" <<'EOF'; then
import socket, sys
with socket.socket() as s:
    try:
        s.bind((sys.argv[1], int(sys.argv[2])))
    except OSError:
        sys.exit(1)
EOF
  echo "ERROR: $HOST:$PORT is in use; stop what runs there or pick another port: PORT=8001 make run" >&2
  exit 1
fi

echo "==> migrating the database"
"$PY" manage.py migrate --noinput

echo "==> seeding the demo practice (only on an empty database; the first time takes a while)"
"$PY" manage.py seed_demo --if-empty
# Referrer health as of today, so the board and alerts are not empty before the first night
# (idempotent for a day: alerts are not raised twice).
echo "==> computing referrer health as of today"
"$PY" manage.py compute_referrer_scores

# Where the embedded default keeps its files, whether static files must be collected
# (DEBUG serves them from the source folders), and who can log in.
INFO=$("$PY" - <<'EOF'
import os, shlex
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
from practices.models import User
lines = []
try:
    from referrals.demo import DEMO_PASSWORD, demo_logins
    wanted = {login.email: login for login in demo_logins(20)}
    found = set(User.objects.filter(email__in=wanted).values_list("email", flat=True))
    for email in wanted:
        if email in found:
            login = wanted[email]
            role = login.role.replace("_", " ") + (" (surgeon)" if login.is_surgeon else "")
            lines.append(f"    {email:<34} {DEMO_PASSWORD:<16} {role}")
    # The demo administrators have two-factor: their authenticator key and recovery codes.
    from referrals.management.commands.seed_demo import two_factor_lines
    lines += two_factor_lines(sorted(found))
except ImportError:
    pass
print(f"VAR_DIR={shlex.quote(str(settings.VAR_DIR))}")
print(f"DEBUG={'1' if settings.DEBUG else ''}")
print(f"LOGINS={shlex.quote(chr(10).join(lines))}")
print(f"BROKER={shlex.quote(settings.CELERY_BROKER_URL.split('@')[-1])}")
EOF
)
eval "$INFO"

if [ -z "$DEBUG" ]; then
  echo "==> collecting static files (DEBUG is off)"
  "$PY" manage.py collectstatic --noinput >/dev/null
fi

mkdir -p "$VAR_DIR/log"
WORKER_LOG="$VAR_DIR/log/worker.log"
WORKER_PID=""
SERVER_PID=""

stop() {
  trap - EXIT INT TERM
  set +e # stop everything, whatever already stopped by itself
  echo
  echo "==> stopping the server and the worker"
  [ -n "$SERVER_PID" ] && kill -TERM -- "-$SERVER_PID" 2>/dev/null
  # The worker's own TERM handler is a warm shutdown: it finishes running tasks and stops
  # its pool and beat. Whatever is still there after 15 s is killed.
  [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null
  for _ in $(seq 150); do
    kill -0 "$WORKER_PID" 2>/dev/null || kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  for pid in $WORKER_PID $SERVER_PID; do kill -KILL -- "-$pid" 2>/dev/null; done
  echo "==> stopped"
  return 0
}
trap stop EXIT
# A requested stop (Ctrl-C, TERM) is the normal end of a session, not an error.
trap 'exit 0' INT TERM

echo "==> starting the Celery worker with beat (broker: $BROKER; log: $WORKER_LOG)"
.venv/bin/celery -A config worker -B --concurrency=2 -l info >>"$WORKER_LOG" 2>&1 &
WORKER_PID=$!

echo "==> starting the web server on $URL"
"$PY" manage.py runserver "$HOST:$PORT" &
SERVER_PID=$!

# Announce the address once the app answers, after the server's own start-up lines.
for _ in $(seq 120); do
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "ERROR: the web server stopped" >&2; exit 1; }
  "$PY" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "$URL/healthz" 2>/dev/null && break
  sleep 0.5
done
if ! kill -0 "$WORKER_PID" 2>/dev/null; then
  echo "ERROR: the Celery worker stopped; its log ($WORKER_LOG) ends with:" >&2
  tail -n 20 "$WORKER_LOG" >&2
  exit 1
fi

cat <<EOF

  ------------------------------------------------------------------------------
  OMS Referrals is running:  $URL/
EOF
if [ -n "$LOGINS" ]; then
  echo "  Demo logins (email, password, role):"
  echo "$LOGINS"
else
  echo "  Log in with an account of yours (manage.py create_practice makes one)."
fi
cat <<EOF
  Health: $URL/healthz    Worker log: $WORKER_LOG
  Press Ctrl-C to stop the server and the worker.
  ------------------------------------------------------------------------------

EOF

wait "$SERVER_PID"
