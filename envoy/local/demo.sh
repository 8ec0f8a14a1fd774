#!/usr/bin/env bash
# The local scenario in the foreground, like `docker compose up`: starts Envoy with the filter
# and envoy/local/envoy.yaml (front 127.0.0.1:10000, admin :9901), shows the split over many
# users, that a user is sticky, that a rule wins and that a forged routing header is overwritten,
# prints what to open, then serves (logging each request) until Ctrl-C or SIGTERM, when it stops
# Envoy and leaves nothing running. Envoy must stay this script's child anyway: the pinned build
# sets PR_SET_PDEATHSIG, so it dies when its parent exits.
#
# `make demo` builds the module first; run directly, the script takes the module as it finds it.
# ENVOY (default .venv/bin/envoy) and STICKY_CANARY_WASM (default build/sticky_canary.wasm)
# choose the binaries; FRONT_PORT, V1_PORT, V2_PORT, ADMIN_PORT the ports (see ports.sh).
# Run from anywhere; paths are relative to the repo root.
set -euo pipefail
cd "$(dirname "$0")/../.."

source envoy/local/ports.sh
source envoy/local/requests.sh

ENVOY=${ENVOY:-.venv/bin/envoy}
WASM=${STICKY_CANARY_WASM:-build/sticky_canary.wasm}
# Another front port is another demo (the tests run one beside yours): it keeps its own files.
DIR=build/demo
[[ $FRONT_PORT == 10000 ]] || DIR=build/demo-$FRONT_PORT
LOG=$DIR/envoy.log
ENVOY_PID=
TAIL_PID=

# Whether PID is still running (a child that exited but is not reaped yet is not).
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

# Stops what this script started: the log follower, then Envoy (SIGTERM, which it answers by
# draining and exiting; SIGKILL if it has not exited after 15 s).
stop_children() {
  if [[ -n $TAIL_PID ]]; then
    kill "$TAIL_PID" 2>/dev/null || true
    wait "$TAIL_PID" 2>/dev/null || true
    TAIL_PID=
  fi
  if [[ -n $ENVOY_PID ]]; then
    kill -TERM "$ENVOY_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do
      running "$ENVOY_PID" || break
      sleep 0.1
    done
    kill -KILL "$ENVOY_PID" 2>/dev/null || true
    wait "$ENVOY_PID" 2>/dev/null || true
    ENVOY_PID=
  fi
}

on_signal() {
  trap '' INT TERM
  echo
  echo "Stopping Envoy (pid $ENVOY_PID)..."
  stop_children
  echo "Stopped: nothing is left running."
  exit 0
}

trap on_signal INT TERM
trap stop_children EXIT

start_envoy() {
  for file in "$ENVOY" "$WASM"; do
    if [[ ! -e $file ]]; then
      echo "$file does not exist: run 'make demo', which installs Envoy and builds the module" >&2
      exit 1
    fi
  done
  local config=envoy/local/envoy.yaml
  if ! default_ports || [[ $WASM != build/sticky_canary.wasm ]]; then
    config=$DIR/envoy.yaml
    render_envoy_yaml "$config" -e "s|filename: build/sticky_canary.wasm|filename: $WASM|"
  fi
  mkdir -p "$DIR"
  "$ENVOY" -c "$config" --use-dynamic-base-id --concurrency 1 \
    --file-flush-interval-msec 100 --log-level warn --component-log-level wasm:info \
    >"$LOG" 2>&1 &
  ENVOY_PID=$!
  echo "Starting Envoy (pid $ENVOY_PID) with $config and $WASM; its log: $LOG"
  for _ in $(seq 1 600); do
    curl -fs "$ADMIN/ready" >/dev/null 2>&1 && return 0
    running "$ENVOY_PID" || break
    sleep 0.1
  done
  echo "Envoy did not start; its log ($LOG):" >&2
  cat "$LOG" >&2
  echo "(Ports taken? Set FRONT_PORT, V1_PORT, V2_PORT, ADMIN_PORT.)" >&2
  exit 1
}

show() {
  echo
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
}

serve() {
  echo
  echo "Open:"
  echo "   $FRONT/?uid=alice    page A (v1) or B (v2) in a browser; uid is a stickiness key"
  echo "   $ADMIN/    Envoy admin; metrics at $ADMIN/stats/prometheus"
  echo "Try:"
  echo "   curl -i -H 'x-user-id: alice' $FRONT/"
  echo "   curl -i -H 'x-user-id: alice' -H 'x-canary: true' $FRONT/"
  echo "To change the weights, edit envoy/local/envoy.yaml, stop with Ctrl-C and run 'make demo' again."
  echo
  echo "Ready: the demo serves $FRONT/ (admin $ADMIN/) until Ctrl-C; requests are logged below."
  tail -n 0 -f --pid="$ENVOY_PID" "$LOG" &
  TAIL_PID=$!
  # Returns early, to run on_signal, when SIGINT or SIGTERM arrives.
  local status=0
  wait "$ENVOY_PID" || status=$?
  ENVOY_PID=
  echo "Envoy exited by itself (status $status); the end of its log ($LOG):" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}

start_envoy
show
serve
