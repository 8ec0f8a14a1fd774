# Requests against a scenario's front listener, shared by envoy/demo/demo.sh and verify.sh
# (sourced once FRONT is set).

served_by() { # served_by [curl args...] -> the subset whose upstream answered
  curl -fs -o /dev/null -D - "$@" "$FRONT/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-served-by"{print $2}'
}

count_split() { # count_split N -> SPLIT_V1, SPLIT_V2 over users user-1..user-N
  # One curl for all N (--next starts the next request on the same connection): a process per
  # request would take seconds.
  local args=() i served
  for i in $(seq 1 "$1"); do
    args+=(--next -f -o /dev/null -D - -H "x-user-id: user-$i" "$FRONT/")
  done
  served=$(curl -s "${args[@]:1}" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-served-by"{print $2}') || true
  SPLIT_V1=$(grep -cx v1 <<<"$served") || true
  SPLIT_V2=$(grep -cx v2 <<<"$served") || true
  if (( SPLIT_V1 + SPLIT_V2 != $1 )); then
    echo "FAIL: of $1 users, $((SPLIT_V1 + SPLIT_V2)) were answered by v1 or v2" >&2
    exit 1
  fi
}
