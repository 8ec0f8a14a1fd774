#!/usr/bin/env bash
# The local scenario, linear: start Envoy with the filter (front 127.0.0.1:10000, admin :9901),
# show the split over many users, show that a user is sticky and that a rule wins, then leave
# Envoy running. `demo.sh stop` ends it. Run from anywhere; paths are relative to the repo root.
set -euo pipefail
cd "$(dirname "$0")/../.."

ENVOY=${ENVOY:-.venv/bin/envoy}
FRONT=http://127.0.0.1:10000
ADMIN=http://127.0.0.1:9901
PIDFILE=build/demo-envoy.pid
LOG=build/demo-envoy.log

stop() {
  if [[ -f $PIDFILE ]] && kill "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "stopped the demo Envoy (pid $(cat "$PIDFILE"))"
  fi
  rm -f "$PIDFILE"
}

start() {
  stop
  mkdir -p build
  "$ENVOY" -c envoy/local/envoy.yaml --use-dynamic-base-id --concurrency 1 \
    --file-flush-interval-msec 100 --log-level warn --component-log-level wasm:info \
    >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 100); do
    curl -fs "$ADMIN/ready" >/dev/null 2>&1 && return 0
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "Envoy did not start; its log ($LOG):" >&2
  cat "$LOG" >&2
  rm -f "$PIDFILE"
  exit 1
}

source envoy/local/requests.sh

show() {
  echo "== split: 500 distinct users (x-user-id: user-1..500), configured v1=90 v2=10"
  count_split 500
  echo "   v1 (page A): $SPLIT_V1   v2 (page B): $SPLIT_V2"
  echo
  echo "== stickiness: the same user, five times each"
  for u in alice bob user-7 user-42; do
    printf '   %-8s' "$u"
    for _ in 1 2 3 4 5; do printf ' %s' "$(served_by -H "x-user-id: $u")"; done
    echo
  done
  echo
  echo "== a content rule wins over hashing: alice with 'x-canary: true' -> $(served_by -H 'x-user-id: alice' -H 'x-canary: true')"
  echo "== a forged routing header is overwritten: alice with 'x-canary-subset: v2' -> $(served_by -H 'x-user-id: alice' -H 'x-canary-subset: v2')"
  echo
  echo "== counters ($ADMIN/stats?filter=sticky_canary)"
  sleep 1.5 # the filter hands its counts to Envoy once a second
  curl -fs "$ADMIN/stats?filter=sticky_canary" | sed 's/^/   /'
  echo
  echo "The demo is running (pid $(cat "$PIDFILE"), log $LOG):"
  echo "   curl -i -H 'x-user-id: alice' $FRONT/        # page A or B, with x-served-by"
  echo "   open  $FRONT/?uid=alice                       # in a browser"
  echo "   open  $ADMIN/stats/prometheus                 # metrics"
  echo "Change the weights in envoy/local/envoy.yaml and run 'make demo' again; 'make demo-stop' ends it."
}

case "${1:-start}" in
  start) start; show ;;
  show) show ;;
  stop) stop ;;
  *) echo "usage: $0 [start|show|stop]" >&2; exit 2 ;;
esac
