# Sourced by a scenario's verify.sh: runs the project's Envoy (ENVOY_BIN, default
# .venv/bin/envoy) on a scenario's config in the background of the calling script (it must stay
# our child: this Envoy build dies with its parent), waits until its admin ($ADMIN) is ready, and
# on exit stops it and, unless the script set passed=yes, prints its log.
# Usage: ADMIN=http://127.0.0.1:PORT; source envoy/run-envoy.sh; run_envoy envoy/X/envoy.yaml
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
ENVOY_LOG=$(mktemp)
ENVOY_PID=
passed=no

stop_envoy() {
  if [[ -n $ENVOY_PID ]]; then
    kill "$ENVOY_PID" 2>/dev/null || true
    wait "$ENVOY_PID" 2>/dev/null || true
  fi
  if [[ $passed != yes ]]; then echo "FAILED; Envoy's log:" >&2; cat "$ENVOY_LOG" >&2; fi
  rm -f "$ENVOY_LOG"
}

run_envoy() {
  [[ -f build/sticky_canary.wasm ]] || make build
  "$ENVOY" -c "$1" --use-dynamic-base-id --log-level warn \
    --component-log-level wasm:info >"$ENVOY_LOG" 2>&1 &
  ENVOY_PID=$!
  trap stop_envoy EXIT
  for _ in $(seq 1 120); do
    curl -fs "$ADMIN/ready" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fs "$ADMIN/ready" >/dev/null
}
