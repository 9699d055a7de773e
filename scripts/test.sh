#!/usr/bin/env bash
# The whole test suite against a real PostgreSQL 15 and a real Redis that this script
# starts on loopback in a temporary folder and stops afterwards.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"

source scripts/services.sh  # bootstrap.sh moved us to the project root

apt_install() {
  if as_root; then
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing: $* (install them with your package manager)" >&2; exit 1
  fi
}
[ -x "$PG_BIN/initdb" ] || { echo "==> installing PostgreSQL 15"; apt_install postgresql-15; }
command -v redis-server >/dev/null || { echo "==> installing redis-server"; apt_install redis-server; }
CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/lib/chromium/chromium}
[ -x "$CHROMIUM_PATH" ] || { echo "==> installing chromium"; apt_install chromium; }
command -v pdftoppm >/dev/null || apt_install poppler-utils
# A real spreadsheet opens every CSV download in tests/security/test_csv_formulas.py.
command -v soffice >/dev/null || { echo "==> installing LibreOffice Calc"; apt_install libreoffice-calc-nogui; }
export CHROMIUM_PATH

start_services "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
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
