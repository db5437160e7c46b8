#!/bin/sh
# Write every config entry: proxy-defaults first, since L7 intentions need protocol http.
set -eu
until consul operator raft list-peers >/dev/null 2>&1; do
  echo "mesh-config: waiting for Consul at $CONSUL_HTTP_ADDR" >&2
  sleep 1
done
for entry in /consul-config/config-entries/proxy-defaults.hcl /consul-config/config-entries/intentions-*.hcl; do
  consul config write "$entry"
done
