#!/usr/bin/env bash
# The benchmark (make bench): warm jails against a cold process, the grading service, and the
# whole stack over HTTP. Starts and stops everything it uses; figures in bench/results/latest.json.
#   scripts/bench.sh [--db sqlite|postgres] [--phases abcd] [--levels 1,8,32] [--duration 30] [--no-profile]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PY="$VENV/bin/python"

command -v bwrap >/dev/null || { echo "The benchmark measures the real jail: install bubblewrap (apt-get install bubblewrap)." >&2; exit 1; }
if ! "$VENV/bin/py-spy" --version >/dev/null 2>&1 || ! "$PY" -c 'import pyinstrument' 2>/dev/null; then
  say "Installing the profilers (bench/requirements.txt)"
  "$PY" -m pip install --quiet -r bench/requirements.txt
fi

# Redis db 13: never a developer's queue (db 0) nor the tests' (db 14). Flushed before and after.
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}"
export BENCH_REDIS_URL="$REDIS_URL"
cleanup() { [ -n "$STARTED_REDIS_PID" ] && kill "$STARTED_REDIS_PID" 2>/dev/null; true; }
trap cleanup EXIT
ensure_redis

say "Benchmark (a few minutes; the machine should be otherwise idle)"
"$PY" -m bench.run "$@"
