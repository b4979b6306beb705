#!/usr/bin/env bash
# Restart the Chatsite processes of this machine one at a time: each is restarted (SIGTERM:
# it drains, docs/operations.md) and the next waits until it answers 200 on /readyz, so the
# others carry the users meanwhile and never more than one process is out.
#
# Usage: scripts/rolling-restart.sh [PORT...]
#   PORT...          the instances' ports (default: every running chatsite@ / chatsite-daphne@ unit)
#   UNIT             the systemd template (default chatsite, on uvicorn; chatsite-daphne for daphne)
#   RESTART_COMMAND  how to restart one instance, {port} replaced (default: systemctl restart UNIT@{port})
#   READY_TIMEOUT    seconds to wait for /readyz after a restart before giving up (default 60)
#   SETTLE           seconds to wait after /readyz is 200, for the load balancer to see it (default 2)
set -euo pipefail

UNIT=${UNIT:-chatsite}
RESTART_COMMAND=${RESTART_COMMAND:-"systemctl restart $UNIT@{port}"}
READY_TIMEOUT=${READY_TIMEOUT:-60}
SETTLE=${SETTLE:-2}

ports=("$@")
if [ ${#ports[@]} -eq 0 ]; then
  mapfile -t ports < <(systemctl list-units --type=service --state=running --no-legend --plain \
    "$UNIT@*.service" | sed -E "s/^$UNIT@([0-9]+)\.service.*/\1/")
fi
if [ ${#ports[@]} -eq 0 ]; then
  echo "rolling-restart: no running $UNIT@ instance found; pass the ports" >&2
  exit 2
fi

ready() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/readyz")" = 200 ]
}

for port in "${ports[@]}"; do
  echo "rolling-restart: restarting the process on port $port"
  bash -c "${RESTART_COMMAND//\{port\}/$port}"
  deadline=$((SECONDS + READY_TIMEOUT))
  until ready "$port"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "rolling-restart: port $port not ready after ${READY_TIMEOUT}s; stopping here" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "rolling-restart: port $port is ready"
  sleep "$SETTLE"
done
echo "rolling-restart: done (${#ports[@]} processes)"
