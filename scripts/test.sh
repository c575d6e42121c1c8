#!/usr/bin/env bash
# The test command: installs what is missing, starts Redis if none answers, then lint,
# migrations check, course check and the whole pytest suite (integration and browser included).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PY="$VENV/bin/python"

# System packages the suite needs: Chromium (browser tests) and bubblewrap (the jail).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "Installing ${missing[*]} from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}. Install them (e.g. sudo apt-get install ${missing[*]}) and rerun." >&2
    exit 1
  fi
fi

cleanup() { [ -n "$STARTED_REDIS_PID" ] && kill "$STARTED_REDIS_PID" 2>/dev/null; true; }
trap cleanup EXIT
ensure_redis

say "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
say "migrations"
"$PY" manage.py makemigrations --check --dry-run
say "pytest"
"$VENV/bin/pytest" "$@"
