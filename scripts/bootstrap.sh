# Sourced by run.sh and test.sh: make sure uv exists and the environment is in sync
# with the committed lock file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
echo "==> syncing the Python environment (uv sync --locked)"
uv sync --locked --quiet
