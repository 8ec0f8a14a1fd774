# Requests against the local scenario's front listener, shared by demo.sh and verify.sh (sourced;
# both set FRONT first).

served_by() { # served_by [curl args...] -> the subset whose upstream answered
  curl -fs -o /dev/null -D - "$@" "$FRONT/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-served-by"{print $2}'
}

count_split() { # count_split N -> SPLIT_V1, SPLIT_V2 over users user-1..user-N
  SPLIT_V1=0 SPLIT_V2=0
  local i
  for i in $(seq 1 "$1"); do
    case "$(served_by -H "x-user-id: user-$i")" in
      v1) SPLIT_V1=$((SPLIT_V1 + 1)) ;;
      v2) SPLIT_V2=$((SPLIT_V2 + 1)) ;;
      *) echo "FAIL: no subset answered for user-$i" >&2; exit 1 ;;
    esac
  done
}
