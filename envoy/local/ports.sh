# The local scenario's ports, shared by verify.sh (sourced, from the repo root).
# FRONT_PORT, V1_PORT, V2_PORT and ADMIN_PORT default to those written in envoy.yaml; set them
# when those are taken (the tests do, to run beside each other).

FRONT_PORT=${FRONT_PORT:-10000}
V1_PORT=${V1_PORT:-10001}
V2_PORT=${V2_PORT:-10002}
ADMIN_PORT=${ADMIN_PORT:-9901}
FRONT=http://127.0.0.1:$FRONT_PORT
ADMIN=http://127.0.0.1:$ADMIN_PORT

default_ports() {
  [[ "$FRONT_PORT:$V1_PORT:$V2_PORT:$ADMIN_PORT" == "10000:10001:10002:9901" ]]
}

# render_envoy_yaml OUT [SED_ARGS...]: a copy of envoy.yaml with these ports (and any further
# sed edits), written to OUT.
render_envoy_yaml() {
  local out=$1
  shift
  mkdir -p "$(dirname "$out")"
  sed -e "s/port_value: 10000}/port_value: $FRONT_PORT}/" -e "s/port_value: 10001}/port_value: $V1_PORT}/" \
      -e "s/port_value: 10002}/port_value: $V2_PORT}/" -e "s/port_value: 9901}/port_value: $ADMIN_PORT}/" \
      "$@" envoy/local/envoy.yaml >"$out"
}
