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
# (they hear of it within a second), give the requests already on their way DRAIN_SECONDS to
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

# This container lives in its app's network namespace. When the app container restarts, the
# namespace this one holds is left without its network interface and without its app; exit so
# Docker restarts us into the app's new namespace (and we register its new address). A namespace
# cut off the network (`docker network disconnect`) has lost its interfaces too, but its app still
# answers on loopback: stay, and serve again when the network is back.
app_gone() {
  [ -z "${GATEWAY:-}" ] && [ "$(ls /sys/class/net | grep -vx lo | wc -l)" -eq 0 ] \
    && ! python3 -m meshctl.container app-listening
}
while kill -0 "$envoy" 2>/dev/null; do
  if app_gone; then
    echo "sidecar: $SERVICE's network is gone (its container restarted); restarting" >&2
    kill -TERM "$envoy" 2>/dev/null || true
    wait "$envoy" 2>/dev/null || true
    # Docker (20.10) gives up restarting a container whose network parent is itself still being
    # restarted ("restartmanger wait error: Container ... is restarting"): seen once in CI, the app
    # back 4.3 s after its kill and this sidecar left exited for good. Exit only once the app has
    # had the time to come back, so that Docker's restart of this one joins its new namespace.
    sleep "${APP_RESTART_GRACE:-8}" &
    wait $! || true
    exit 1
  fi
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
