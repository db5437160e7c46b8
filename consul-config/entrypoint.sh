#!/bin/sh
# The Consul server's start in services.yml. On first start, generate into the data volume, readable
# by the consul user only: this mesh's gossip encryption key, and its CA and Consul's server
# certificate (named "consul", as the containers reach it). The CA's certificate, public, goes to the
# consul_ca volume the sidecars and the frontend mount. Then run the image's entrypoint. The key is
# read from a file, so it never shows on a command line.
set -eu
secrets=/consul/data/secrets
tls=$secrets/tls
if [ ! -s "$tls/dc1-server-consul-0.pem" ]; then
  mkdir -p "$tls"
  chmod 700 "$secrets" "$tls"
  (cd "$tls" && umask 077 && consul tls ca create >/dev/null \
     && consul tls cert create -server -dc dc1 -additional-dnsname consul >/dev/null)
  echo "consul: made this mesh's CA and Consul's server certificate ($tls)"
fi
# the CA's certificate is public: every sidecar and the frontend read it
cp "$tls/consul-agent-ca.pem" /consul/ca/consul-agent-ca.pem
chmod 644 /consul/ca/consul-agent-ca.pem
if [ ! -s "$secrets/gossip.hcl" ]; then
  mkdir -p "$secrets"
  chmod 700 "$secrets"
  (umask 077 && printf 'encrypt = "%s"\n' "$(consul keygen)" > "$secrets/gossip.hcl.new")
  mv "$secrets/gossip.hcl.new" "$secrets/gossip.hcl"
  echo "consul: generated the gossip encryption key ($secrets/gossip.hcl)"
fi
exec docker-entrypoint.sh "$@" -config-file="$secrets/gossip.hcl"
