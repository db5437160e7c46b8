#!/bin/sh
# The Consul server's start in services.yml: on first start, generate this mesh's gossip encryption
# key into the data volume, readable by the consul user only, then run the image's entrypoint with it.
# The key is read from a file, so it never shows on a command line.
set -eu
secrets=/consul/data/secrets
if [ ! -s "$secrets/gossip.hcl" ]; then
  mkdir -p "$secrets"
  chmod 700 "$secrets"
  (umask 077 && printf 'encrypt = "%s"\n' "$(consul keygen)" > "$secrets/gossip.hcl.new")
  mv "$secrets/gossip.hcl.new" "$secrets/gossip.hcl"
  echo "consul: generated the gossip encryption key ($secrets/gossip.hcl)"
fi
exec docker-entrypoint.sh "$@" -config-file="$secrets/gossip.hcl"
