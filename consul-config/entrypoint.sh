#!/bin/sh
# The Consul server's start in services.yml. On first start, generate into the data volume, readable
# by the consul user only: this mesh's gossip encryption key, and its CA and Consul's server
# certificate (named "consul", as the containers reach it). The CA's certificate, public, goes to the
# consul_ca volume the sidecars and the frontend mount. Then run the image's entrypoint. The key is
# read from a file, so it never shows on a command line. Each file is made only when missing, so a
# first start cut short finishes on the next one.
set -eu
secrets=/consul/data/secrets
tls=$secrets/tls
mkdir -p "$tls"
chmod 700 "$secrets" "$tls"
cd "$tls"
umask 077
if [ ! -s consul-agent-ca.pem ]; then
  rm -f consul-agent-ca-key.pem dc1-server-consul-0.pem dc1-server-consul-0-key.pem
  consul tls ca create >/dev/null
fi
if [ ! -s dc1-server-consul-0.pem ]; then
  rm -f dc1-server-consul-0-key.pem
  # as long as the CA (5 years); delete both files to have a new one made from the kept CA
  consul tls cert create -server -dc dc1 -days 1825 -additional-dnsname consul >/dev/null
  echo "consul: made Consul's server certificate from this mesh's CA ($tls)"
fi
if [ ! -s "$secrets/gossip.hcl" ]; then
  printf 'encrypt = "%s"\n' "$(consul keygen)" > "$secrets/gossip.hcl.new"
  mv "$secrets/gossip.hcl.new" "$secrets/gossip.hcl"
  echo "consul: generated the gossip encryption key ($secrets/gossip.hcl)"
fi
# the CA's certificate is public: every sidecar and the frontend read it
cp consul-agent-ca.pem /consul/ca/consul-agent-ca.pem
chmod 644 /consul/ca/consul-agent-ca.pem
cd /
if [ "${1:-}" = agent ]; then
  exec docker-entrypoint.sh "$@" -config-file="$secrets/gossip.hcl"
fi
exec docker-entrypoint.sh "$@"
