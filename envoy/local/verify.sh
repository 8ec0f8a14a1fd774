#!/usr/bin/env bash
# Checks the docker compose twin of the local scenario, envoyproxy-sandbox style: start it,
# check the split, stickiness, a rule and the forged-header overwrite, stop it. Needs Docker with
# compose. Ports: FRONT_PORT, V1_PORT, V2_PORT, ADMIN_PORT (defaults those of envoy.yaml).
#
# With ENVOY_RUNNING=yes it checks an Envoy already running envoy/local/envoy.yaml instead, at
# ADMIN and FRONT with its log in ENVOY_LOG: `make test` runs it that way
# (tests/tests/verify_scripts.rs), with no Docker.
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=no
run_log() { printf '\n== %s\n' "$*"; }

if [[ ${ENVOY_RUNNING:-} == yes ]]; then
  : "${ADMIN:?}" "${FRONT:?}" "${ENVOY_LOG:?}"
  envoy_log() { cat "$ENVOY_LOG"; }
  cleanup() {
    if [[ $passed != yes ]]; then echo "FAILED; Envoy's log:" >&2; envoy_log >&2; fi
  }
else
  source envoy/local/ports.sh
  COMPOSE=(docker compose -f envoy/local/docker-compose.yaml -p sticky-canary-verify)
  envoy_log() { "${COMPOSE[@]}" logs --no-color; }
  cleanup() {
    if [[ $passed != yes ]]; then
      echo "FAILED; Envoy's log:" >&2
      envoy_log >&2 || true
    fi
    "${COMPOSE[@]}" down --remove-orphans >/dev/null 2>&1 || true
  }
fi
trap cleanup EXIT

source envoy/local/requests.sh

expect() { # expect WHAT GOT WANT
  if [[ $2 != "$3" ]]; then echo "FAIL: $1: got '$2', want '$3'" >&2; exit 1; fi
  echo "ok: $1 -> $2"
}

if [[ ${ENVOY_RUNNING:-} != yes ]]; then
  run_log "Module"
  [[ -f build/sticky_canary.wasm ]] || make build

  if ! default_ports; then
    run_log "Rendering envoy.yaml with ports $FRONT_PORT/$V1_PORT/$V2_PORT/$ADMIN_PORT (as the tests do)"
    render_envoy_yaml build/compose/envoy.yaml
    export ENVOY_CONFIG=build/compose/envoy.yaml
  fi

  run_log "Starting Envoy (${ENVOY_IMAGE:-envoyproxy/envoy:v1.40.0})"
  "${COMPOSE[@]}" up -d
fi
for _ in $(seq 1 120); do
  curl -fs "$ADMIN/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "$ADMIN/ready" >/dev/null

run_log "The module started"
envoy_log | grep -m1 -E 'sticky-canary [0-9.]+ \(git [0-9a-z]+\) started'

run_log "Split over 200 users (configured v1=90 v2=10)"
count_split 200
echo "v1: $SPLIT_V1  v2: $SPLIT_V2"
if (( SPLIT_V2 == 0 || SPLIT_V1 < SPLIT_V2 )); then echo "FAIL: not a 90/10 split" >&2; exit 1; fi

run_log "Stickiness"
first=$(served_by -H 'x-user-id: alice')
for _ in 1 2 3 4 5; do expect "alice again" "$(served_by -H 'x-user-id: alice')" "$first"; done

run_log "A rule and a forged header"
expect "x-canary: true" "$(served_by -H 'x-user-id: alice' -H 'x-canary: true')" v2
expect "forged x-canary-subset" "$(served_by -H 'x-user-id: alice' -H "x-canary-subset: $([[ $first == v1 ]] && echo v2 || echo v1)")" "$first"

run_log "Counters"
curl -fs "$ADMIN/stats?filter=sticky_canary"

passed=yes
echo
echo "PASS"
