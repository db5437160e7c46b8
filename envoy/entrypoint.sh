#!/bin/sh
# Sidecar for $SERVICE: register the service (its definition from /consul-config/services, with this
# container's address) and its sidecar with Consul, run Envoy, and deregister when stopped. Everything
# acts with the service's own token (a file in /consul/secrets, never on a command line). With
# $GATE_LISTEN set (the frontend's sidecar), the Consul gate runs here too (meshctl/gate.py): the
# app reaches Consul through it, and holds no client certificate itself.
# With $GATEWAY set (ingress; cluster.yml), it runs the gateway service $SERVICE instead: the same
# lifecycle, but `consul connect envoy -register` registers the gateway itself.
set -eu
: "${SERVICE:?set SERVICE to the service this sidecar serves (users, products, orders, frontend)}"

token=/consul/secrets/service.token
run=gateway
if [ -z "${GATEWAY:-}" ]; then
  run=sidecar
  definition=/tmp/$SERVICE.json
  python3 -m meshctl.container registration > "$definition"
  until consul services register -token-file "$token" "$definition"; do
    echo "sidecar: waiting for Consul at $CONSUL_HTTP_ADDR to accept $SERVICE" >&2
    sleep 1
  done
fi

deregister() {
  consul services deregister -token-file "$token" -id "$SERVICE" || true
}

# the same `consul connect envoy` command line as make up's (meshctl/launch.py); it exec's Envoy
python3 -m meshctl.container "$run" &
envoy=$!
gate=
if [ -n "${GATE_LISTEN:-}" ]; then
  python3 -m meshctl.gate --listen "$GATE_LISTEN" --consul "$CONSUL_HTTP_ADDR" --ca-file "$CONSUL_CACERT" \
    --cert-file "$CONSUL_CLIENT_CERT" --key-file "$CONSUL_CLIENT_KEY" &
  gate=$!
fi

# Stopping: leave Consul's catalogue first, so the callers' Envoys stop sending new requests here
# (within a second or two on an idle host, several on a loaded one: meshctl/rolling-restart.sh waits
# for every caller to have heard before it stops a sidecar), give the requests already on their way DRAIN_SECONDS to
# finish, then stop Envoy (which drains its own connections for 2 s). Within Compose's 10 s.
stop() {
  deregister
  sleep "${DRAIN_SECONDS:-3}"
  [ -z "$gate" ] || kill -TERM "$gate" 2>/dev/null || true
  kill -TERM "$envoy" 2>/dev/null || true
  wait "$envoy" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

# The app may crash, restart or be stopped: this container stays, in the namespace its pod holds,
# and Consul's checks (through this Envoy) report the app critical until it answers again. What
# this loop watches is the gate, which the frontend needs to reach Consul.
while kill -0 "$envoy" 2>/dev/null; do
  if [ -n "$gate" ] && ! kill -0 "$gate" 2>/dev/null; then
    echo "sidecar: the Consul gate exited; restarting" >&2
    kill -TERM "$envoy" 2>/dev/null || true
    wait "$envoy" 2>/dev/null || true
    exit 1
  fi
  sleep 1 &
  wait $! || true
done
wait "$envoy"
status=$?
deregister
exit "$status"
