#!/usr/bin/env bash
# Set up and run the whole suite: lint, then the tests on the embedded default (SQLite +
# in-memory layer) and again on PostgreSQL + Redis. Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt

# Debian's chromium for the browser tests (Playwright cannot download browsers here) and
# nginx for the live test behind it (tests/ops/test_nginx_restarts.py).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null
    apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
  else
    echo "${missing[*]} missing: run 'sudo apt-get install ${missing[*]}' first" >&2
    exit 1
  fi
fi

# PostgreSQL and Redis for the scale-out run: start them if they are down.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== mypy"
env -u DATABASE_URL -u REDIS_URL .venv/bin/mypy .

echo "== import contracts (pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports --no-logo

echo "== migrations are up to date"
env -u DATABASE_URL -u REDIS_URL .venv/bin/python manage.py makemigrations --check --dry-run -v0

# The two runs go side by side (most of a run is waiting on servers, browsers and sleeps;
# together they take little longer than the slower one alone). Each has its own pytest
# temporary root; the embedded run's multi-process tests use Redis database 0 under prefixes
# of their own, the scale-out run database 1 (which its cache clears) and PostgreSQL.
# CHATSITE_TEST_SERIAL=1 runs them one after the other instead.
sqlite_run() {
  env -u DATABASE_URL -u REDIS_URL -u SECRET_KEY -u DEBUG PYTEST_DEBUG_TEMPROOT="$1" \
    timeout 1800 .venv/bin/python -m pytest "${@:2}"
}
pg_run() {
  local run_id="t$$"
  env -u SECRET_KEY -u DEBUG PYTEST_DEBUG_TEMPROOT="$1" \
    DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/chatsite}" \
    REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/1}" \
    CHANNEL_PREFIX="chatsite-$run_id" CACHE_PREFIX="chatsite-$run_id" \
    timeout 1800 .venv/bin/python -m pytest "${@:2}"
}
roots=$(mktemp -d)
trap 'rm -rf "$roots"' EXIT
mkdir "$roots/sqlite" "$roots/pg"

if [ "${CHATSITE_TEST_SERIAL:-}" = 1 ]; then
  echo "== suite 1/2: embedded default (SQLite, in-memory channel layer)"
  sqlite_run "$roots/sqlite" "$@"
  echo "== suite 2/2: PostgreSQL + Redis"
  pg_run "$roots/pg" "$@"
  exit 0
fi

echo "== suites 1/2 (embedded default: SQLite, in-memory channel layer) and 2/2 (PostgreSQL +"
echo "   Redis) side by side; 2/2's output follows 1/2's"
started=$SECONDS
pg_run "$roots/pg" "$@" >"$roots/pg.log" 2>&1 &
pg_pid=$!
echo "== suite 1/2: embedded default (SQLite, in-memory channel layer)"
sqlite_status=0
sqlite_run "$roots/sqlite" "$@" || sqlite_status=$?
echo "== suite 1/2 ended (status $sqlite_status) after $((SECONDS - started)) s"
pg_status=0
wait "$pg_pid" || pg_status=$?
echo "== suite 2/2: PostgreSQL + Redis (status $pg_status, $((SECONDS - started)) s in all)"
cat "$roots/pg.log"
[ "$sqlite_status" = 0 ] && [ "$pg_status" = 0 ]
