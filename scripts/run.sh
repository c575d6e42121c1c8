#!/usr/bin/env bash
# Run the whole site locally: Redis, a Celery worker and the web server. Ctrl-C stops all.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PY="$VENV/bin/python"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

children=()
cleanup() {
  trap - INT TERM EXIT
  say "Stopping"
  for pid in "${children[@]}" $STARTED_REDIS_PID; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

ensure_redis
"$PY" manage.py migrate --no-input | grep -v '^  No migrations' || true
"$PY" manage.py sync_course
"$PY" manage.py create_demo_users > var/demo-users.txt

# The worker refuses to grade without namespace isolation. On a machine without bubblewrap, the
# local run command allows it for this machine only, and every exercise page says so.
if ! "$PY" manage.py jail_selftest; then
  if [ "${COLDSTART_STRICT_JAIL:-0}" = "1" ]; then
    echo "The jail self-test failed and COLDSTART_STRICT_JAIL=1: not starting." >&2
    exit 1
  fi
  export SANDBOX_ALLOW_UNISOLATED=1
  printf '\033[1;33m!! No working jail here: learner code runs UNISOLATED (local development only).\n!! Install bubblewrap (apt-get install bubblewrap) for the real sandbox.\033[0m\n'
fi

"$VENV/bin/celery" -A config worker --loglevel INFO --concurrency "${WORKERS:-2}" \
  -Q grading,regrade,interactive --hostname "local@%h" > var/worker.log 2>&1 &
children+=($!)
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
children+=($!)
sleep 1.5
cat <<MSG

  Coldstart is running:   http://$HOST:$PORT/
$(sed 's/^/  /' var/demo-users.txt)
  Worker log:             var/worker.log
  Stop everything:        Ctrl-C

MSG
wait -n "${children[@]}"
