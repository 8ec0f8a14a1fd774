#!/usr/bin/env bash
# Checks the lanes scenario (envoy/lanes/envoy.yaml) in the project's Envoy (ENVOY_BIN, default
# .venv/bin/envoy) on its own ports (admin 9911, front 10010): start it, follow users down the
# chain edge -> service-a -> service-b, stop it. `make test` runs it (tests/tests/verify_scripts.rs,
# against an Envoy the test started: see envoy/run-envoy.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

source envoy/run-envoy.sh
run_envoy envoy/lanes/envoy.yaml 9911 10010

# "<service-a subset>/<service-b subset>" that served a request.
chain() {
  curl -fs -D- -o /dev/null "$@" "$FRONT/" | tr -d '\r' | awk -F': ' '
    tolower($1) == "x-served-by-a" { a = $2 }
    tolower($1) == "x-served-by-b" { b = $2 }
    END { print a "/" b }'
}
expect() { # expect WHAT GOT WANT
  if [[ $2 != "$3" ]]; then echo "FAIL: $1: got '$2', want '$3'" >&2; exit 1; fi
  echo "ok: $1 -> $2"
}

# service-a is at v1=90 v2=10 (alice hashes to bucket 9899: v1); service-b at v1=100 v2=0 follows
# the lane, so only the edge's choice takes a request to service-b v2.
expect "alice by hash" "$(chain -H 'x-user-id: alice')" v1/v1
expect "alice with x-canary: true (an edge rule)" "$(chain -H 'x-user-id: alice' -H 'x-canary: true')" v2/v2
expect "alice forging the lane" "$(chain -H 'x-user-id: alice' -H 'x-canary-lane: v2')" v1/v1
expect "no user, x-canary: true" "$(chain -H 'x-canary: true')" v2/v2

# Counters reach Envoy on the filter's 1 s tick: service-b decided the two v2 requests by lane.
lane=wasmcustom.sticky_canary.requests_total.route.service-b.subset.v2.reason.lane
for _ in $(seq 1 40); do
  curl -fs "$ADMIN/stats?filter=$lane" | grep -q ': 2$' && break
  sleep 0.25
done
expect "service-b's counter of lane decisions to v2" "$(curl -fs "$ADMIN/stats?filter=$lane")" "$lane: 2"
passed=yes
echo
echo "PASS"
