#!/usr/bin/env bash
# Checks the sticky mirroring scenario (envoy/mirror/envoy.yaml) in the project's Envoy
# (ENVOY_BIN, default .venv/bin/envoy) on its own ports (admin 9921, front 10020): the same users
# are mirrored to v2 on every round, a forged mark mirrors nobody more, every request is served by
# its own subset. `make test` runs it (tests/tests/verify_scripts.rs, against an Envoy the test
# started: see envoy/run-envoy.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

USERS=200
source envoy/run-envoy.sh
run_envoy envoy/mirror/envoy.yaml 9921 10020

# Requests the v2 cluster got: the ones v2 served plus the mirrored copies. Copies are sent in
# the background, so this waits (bounded, 60 s for a loaded machine) until none is pending or in
# flight and the count stops moving.
v2_requests() {
  local last=-1 now busy
  for _ in $(seq 1 240); do
    read -r now busy < <(curl -fs "$ADMIN/stats?filter=^cluster\.service-a-v2\.upstream_rq_(total|active|pending_active)$" |
      awk '$1 ~ /total:$/ { total = $2 } $1 ~ /active:$/ { busy += $2 } END { print total + 0, busy + 0 }')
    [[ $now == "$last" && $busy == 0 ]] && break
    last=$now
    sleep 0.25
  done
  echo "${now:-0}"
}

# One round: every user once; prints "<served by v2> <mirrored copies>".
round() {
  local before served_v2=0 served i
  before=$(v2_requests)
  for i in $(seq 1 "$USERS"); do
    served=$(curl -fs -D- -o /dev/null -H "x-user-id: user-$i" "$@" "$FRONT/" | tr -d '\r' |
      awk -F': ' 'tolower($1) == "x-served-by" { print $2 }')
    [[ $served == v2 ]] && served_v2=$((served_v2 + 1))
  done
  echo "$served_v2 $(($(v2_requests) - before - served_v2))"
}

read -r v2 mirrored < <(round)
echo "round 1: $v2 of $USERS users served by v2, $mirrored mirrored to v2"
if (( mirrored == 0 || mirrored > USERS / 2 )); then
  echo "FAIL: expected about 20 % of the users not on v2 to be mirrored" >&2; exit 1
fi
for n in 2 3; do
  forged=()
  [[ $n == 3 ]] && forged=(-H 'x-canary-mirror: v2')
  read -r v2_again mirrored_again < <(round "${forged[@]}")
  echo "round $n${forged:+ (every request forging x-canary-mirror: v2)}: $v2_again served by v2, $mirrored_again mirrored"
  if [[ "$v2_again $mirrored_again" != "$v2 $mirrored" ]]; then
    echo "FAIL: round $n differs from round 1" >&2; exit 1
  fi
done

passed=yes
echo
echo "PASS"
