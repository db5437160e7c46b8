#!/bin/sh
# Sidecar for $SERVICE: register the service (from /consul-config/services/$SERVICE.hcl, with this
# container's address) and its sidecar with Consul, run Envoy, and deregister when stopped.
set -eu
: "${SERVICE:?set SERVICE to the service this sidecar serves (users, products, orders, frontend)}"

definition=/tmp/$SERVICE.hcl
python3 /usr/local/bin/register.py "$SERVICE" > "$definition"

until consul services register "$definition"; do
  echo "sidecar: waiting for Consul at $CONSUL_HTTP_ADDR to accept $SERVICE" >&2
  sleep 1
done

deregister() {
  consul services deregister -id "$SERVICE" || true
}

consul connect envoy -sidecar-for "$SERVICE" -admin-bind "$ENVOY_ADMIN" -grpc-addr "$CONSUL_GRPC_ADDR" \
  -ignore-envoy-compatibility -- --log-level "${ENVOY_LOG_LEVEL:-warn}" \
  --drain-time-s 2 --drain-strategy immediate --disable-hot-restart &
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
