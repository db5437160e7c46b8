#!/bin/sh
# Like the official image's: `agent …` runs the agent on /consul/data and /consul/config, any other
# consul subcommand runs consul, and the agent runs as the consul user.
set -eu
case "${1:-}" in
  agent) shift; set -- consul agent -data-dir=/consul/data -config-dir=/consul/config "$@" ;;
  -*) set -- consul "$@" ;;
  consul) ;;
  members|version|info|operator|config|services|intention|kv|catalog|connect|acl|leave|reload)
    set -- consul "$@" ;;
esac
if [ "${1:-}" = consul ] && [ "$(id -u)" = 0 ]; then
  chown -R consul:consul /consul/data /consul/config 2>/dev/null || true
  exec setpriv --reuid=consul --regid=consul --init-groups "$@"
fi
exec "$@"
