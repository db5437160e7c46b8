#!/bin/sh
# Sidecar for $SERVICE: register the service (its definition from /consul-config/services, with this
# container's address) and its sidecar with Consul, run Envoy, and deregister when stopped.
set -eu
: "${SERVICE:?set SERVICE to the service this sidecar serves (users, products, orders, frontend)}"

definition=/tmp/$SERVICE.json
python3 -m meshctl.container registration > "$definition"

until consul services register "$definition"; do
  echo "sidecar: waiting for Consul at $CONSUL_HTTP_ADDR to accept $SERVICE" >&2
  sleep 1
done

deregister() {
  consul services deregister -id "$SERVICE" || true
}

# the same `consul connect envoy` command line as make up's (meshctl/launch.py); it exec's Envoy
python3 -m meshctl.container sidecar &
envoy=$!

stop() {
  kill -TERM "$envoy" 2>/dev/null || true
  wait "$envoy" 2>/dev/null || true
  deregister
  exit 0
}
trap stop TERM INT

# This container lives in its app's network namespace. When the app container restarts, the
# namespace this one holds is left without its network interface; exit so Docker restarts us into
# the app's new namespace (and we register its new address).
while kill -0 "$envoy" 2>/dev/null; do
  if [ "$(ls /sys/class/net | grep -vx lo | wc -l)" -eq 0 ]; then
    echo "sidecar: $SERVICE's network is gone (its container restarted); restarting" >&2
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
