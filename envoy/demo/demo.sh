#!/usr/bin/env bash
# `make demo`: the ECDS scenario with web pages, and `sticky-canary console`, in the foreground
# until Ctrl-C. Starts Envoy with envoy/demo/envoy.yaml (front 127.0.0.1:10000, admin :9901;
# stand-ins drawing page A for v1 and page B for v2), its filter config read by ECDS from a copy
# of envoy/demo/filters/sticky-canary.yaml in build/demo/filters/, and the console on :9902
# editing that copy. Shows the split and stickiness, prints the two URLs and a Ready line, then
# serves (logging each request) until Ctrl-C or SIGTERM, when it stops both and leaves nothing
# running. Both stay this script's children: the pinned Envoy sets PR_SET_PDEATHSIG itself and
# the console is started under `setpriv --pdeathsig TERM`, so neither outlives the script.
#
# `make demo` builds the module and the CLI first; run directly, the script takes them as it
# finds them. ENVOY (default .venv/bin/envoy), STICKY_CANARY_WASM (default
# build/sticky_canary.wasm) and CONSOLE (default target/debug/sticky-canary) choose the
# binaries; FRONT_PORT, V1_PORT, V2_PORT, ADMIN_PORT and CONSOLE_PORT the ports.
# Run from anywhere; paths are relative to the repo root.
set -euo pipefail
cd "$(dirname "$0")/../.."

FRONT_PORT=${FRONT_PORT:-10000}
V1_PORT=${V1_PORT:-10001}
V2_PORT=${V2_PORT:-10002}
ADMIN_PORT=${ADMIN_PORT:-9901}
CONSOLE_PORT=${CONSOLE_PORT:-9902}
FRONT=http://127.0.0.1:$FRONT_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT
source envoy/local/requests.sh

ENVOY=${ENVOY:-.venv/bin/envoy}
WASM=${STICKY_CANARY_WASM:-build/sticky_canary.wasm}
CONSOLE=${CONSOLE:-target/debug/sticky-canary}
# Another front port is another demo (the tests run one beside yours): it keeps its own files.
DIR=build/demo
[[ $FRONT_PORT == 10000 ]] || DIR=build/demo-$FRONT_PORT
LOG=$DIR/envoy.log
CONSOLE_LOG=$DIR/console.log
ECDS_FILE=$DIR/filters/sticky-canary.yaml
ENVOY_PID=
CONSOLE_PID=
TAIL_PID=

# Whether PID is still running (a child that exited but is not reaped yet is not).
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

# Stops PID (SIGTERM; SIGKILL if it has not exited after 15 s) and reaps it.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 150); do
    running "$1" || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Stops what this script started: the log follower, the console, then Envoy.
stop_children() {
  if [[ -n $TAIL_PID ]]; then
    kill "$TAIL_PID" 2>/dev/null || true
    wait "$TAIL_PID" 2>/dev/null || true
    TAIL_PID=
  fi
  if [[ -n $CONSOLE_PID ]]; then
    stop_pid "$CONSOLE_PID"
    CONSOLE_PID=
  fi
  if [[ -n $ENVOY_PID ]]; then
    stop_pid "$ENVOY_PID"
    ENVOY_PID=
  fi
}

on_signal() {
  trap '' INT TERM
  echo
  echo "Stopping the console (pid $CONSOLE_PID) and Envoy (pid $ENVOY_PID)..."
  stop_children
  echo "Stopped: nothing is left running."
  exit 0
}

trap on_signal INT TERM
trap stop_children EXIT

start_envoy() {
  for file in "$ENVOY" "$WASM" "$CONSOLE"; do
    if [[ ! -e $file ]]; then
      echo "$file does not exist: run 'make demo', which installs Envoy and builds the module and the CLI" >&2
      exit 1
    fi
  done
  mkdir -p "$DIR/filters"
  # A fresh copy each run: the console's edits of the last run are gone.
  sed -e "s|filename: build/sticky_canary.wasm|filename: $WASM|" \
    envoy/demo/filters/sticky-canary.yaml >"$ECDS_FILE"
  local config=$DIR/envoy.yaml
  sed -e "s/port_value: 10000}/port_value: $FRONT_PORT}/" -e "s/port_value: 10001}/port_value: $V1_PORT}/" \
      -e "s/port_value: 10002}/port_value: $V2_PORT}/" -e "s/port_value: 9901}/port_value: $ADMIN_PORT}/" \
      -e "s|build/demo/filters|$DIR/filters|" envoy/demo/envoy.yaml >"$config"
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

start_console() {
  setpriv --pdeathsig TERM -- "$CONSOLE" console --ecds "$ECDS_FILE" \
    --admin "127.0.0.1:$ADMIN_PORT" --port "$CONSOLE_PORT" --envoy-log "$LOG" \
    >"$CONSOLE_LOG" 2>&1 &
  CONSOLE_PID=$!
  echo "Starting the console (pid $CONSOLE_PID) on $ECDS_FILE; its log: $CONSOLE_LOG"
  for _ in $(seq 1 600); do
    CONSOLE_URL=$(sed -n 's/^Console: //p' "$CONSOLE_LOG")
    [[ -n $CONSOLE_URL ]] && return 0
    running "$CONSOLE_PID" || break
    sleep 0.1
  done
  echo "The console did not start; its log ($CONSOLE_LOG):" >&2
  cat "$CONSOLE_LOG" >&2
  echo "(Port taken? Set CONSOLE_PORT.)" >&2
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
}

serve() {
  echo
  echo "Open:"
  echo "   $FRONT/    page A (v1) or B (v2); a browser keeps its picture, a private window may get the other"
  echo "   $FRONT/?uid=alice    the page for user alice (uid is a stickiness key)"
  echo "   $CONSOLE_URL    the console: move the weights, preview, apply, watch traffic move"
  echo "   $ADMIN/    Envoy admin; metrics at $ADMIN/stats/prometheus"
  echo "The console edits $ECDS_FILE (a copy: each run starts from envoy/demo/filters/sticky-canary.yaml)."
  echo
  echo "Ready: the demo serves $FRONT/ and the console $CONSOLE_URL (admin $ADMIN/) until Ctrl-C; requests are logged below."
  tail -n 0 -f --pid="$ENVOY_PID" "$LOG" &
  TAIL_PID=$!
  # Returns early, to run on_signal, when SIGINT or SIGTERM arrives.
  local status=0
  wait -n "$ENVOY_PID" "$CONSOLE_PID" || status=$?
  echo "Envoy or the console exited by itself (status $status); the end of their logs:" >&2
  tail -n 20 "$LOG" "$CONSOLE_LOG" >&2
  exit 1
}

start_envoy
start_console
show
serve
