# Sourced by a scenario's verify.sh: runs the project's Envoy (ENVOY_BIN, default
# .venv/bin/envoy) on a scenario's config in the background of the calling script (it must stay
# our child: this Envoy build dies with its parent), waits until its admin ($ADMIN) is ready, and
# on exit stops it and, unless the script set passed=yes, prints its log.
# Usage: source envoy/run-envoy.sh; run_envoy envoy/X/envoy.yaml ADMIN_PORT FRONT_PORT
# (sets ADMIN and FRONT).
#
# With ENVOY_RUNNING=yes the scenario already runs (tests/tests/verify_scripts.rs starts it on
# ports of its own): ADMIN, FRONT and ENVOY_LOG come from the environment, and run_envoy only
# waits for that Envoy; the caller stops it.
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
ENVOY_PID=
passed=no

stop_envoy() {
  if [[ -n $ENVOY_PID ]]; then
    kill "$ENVOY_PID" 2>/dev/null || true
    wait "$ENVOY_PID" 2>/dev/null || true
  fi
  if [[ $passed != yes ]]; then echo "FAILED; Envoy's log:" >&2; cat "$ENVOY_LOG" >&2; fi
  [[ ${ENVOY_RUNNING:-} == yes ]] || rm -f "$ENVOY_LOG"
}

wait_ready() {
  for _ in $(seq 1 120); do
    curl -fs "$ADMIN/ready" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "$ADMIN/ready" >/dev/null
}

run_envoy() {
  if [[ ${ENVOY_RUNNING:-} == yes ]]; then
    : "${ADMIN:?ENVOY_RUNNING=yes needs ADMIN}" "${FRONT:?ENVOY_RUNNING=yes needs FRONT}" \
      "${ENVOY_LOG:?ENVOY_RUNNING=yes needs ENVOY_LOG}"
    trap stop_envoy EXIT
    wait_ready
    return
  fi
  ADMIN=http://127.0.0.1:$2
  FRONT=http://127.0.0.1:$3
  ENVOY_LOG=$(mktemp)
  [[ -f build/sticky_canary.wasm ]] || make build
  "$ENVOY" -c "$1" --use-dynamic-base-id --log-level warn \
    --component-log-level wasm:info >"$ENVOY_LOG" 2>&1 &
  ENVOY_PID=$!
  trap stop_envoy EXIT
  wait_ready
}
