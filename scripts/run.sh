#!/usr/bin/env bash
# Set up and run Chatsite in the embedded mode (SQLite, in-memory channel layer).
# Usage: ./scripts/run.sh   (HOST and PORT override 127.0.0.1:8000; SERVER=daphne for daphne)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py collectstatic --noinput -v0

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

# The Web Push queue's worker (django-tasks' database backend) runs beside the server and
# stops with it.
.venv/bin/python manage.py db_worker --queue-name push --no-reload &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null; wait "$WORKER" 2>/dev/null' EXIT INT TERM

echo "Chatsite is running at http://$HOST:$PORT/  (Ctrl+C to stop)"
if [ "${SERVER:-uvicorn}" = daphne ]; then
  .venv/bin/daphne -b "$HOST" -p "$PORT" chatsite.asgi:application
else
  # The faster server of docs/benchmarks.md, as docs/deploy.md runs it.
  .venv/bin/uvicorn --host "$HOST" --port "$PORT" --loop uvloop --http httptools \
    --ws chatsite.uvicorn_ws:CoalescingWebSocketProtocol --ws-per-message-deflate false \
    --lifespan off chatsite.asgi:application
fi
