#!/usr/bin/env bash
# `make images`: build, from Debian packages and the Go-built Consul, Prometheus and Jaeger, local images that stand in for
# the official base images (no registry is reachable here), fill certs/ with the host's CA bundle,
# and write .env so `docker compose -f services.yml …` builds on them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/meshctl/images"
CACHE="$ROOT/.cache/images"
SUITE=bookworm
BASE=shop/debian:$SUITE
PYTHON_IMAGE=shop/python:3.11-$SUITE
POSTGRES_IMAGE=shop/postgres:15-$SUITE
CONSUL_VERSION="$("$ROOT/.cache/consul/consul" version | sed -n '1s/^Consul v//p')"
CONSUL_IMAGE=shop/consul:$CONSUL_VERSION
PROMETHEUS_VERSION="$("$ROOT/.cache/prometheus/prometheus" --version | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p')"
PROMETHEUS_IMAGE=shop/prometheus:$PROMETHEUS_VERSION
JAEGER_VERSION="$("$ROOT/.cache/jaeger/jaeger" version 2>/dev/null | sed -n 's/.*"gitVersion":"v\([^"]*\)".*/\1/p')"
JAEGER_IMAGE=shop/jaeger:$JAEGER_VERSION
say() { echo "==> images: $*"; }
started=$SECONDS

docker info >/dev/null 2>&1 || { echo "no Docker engine answers: run meshctl/docker-engine.sh (see docs/containers.md)" >&2; exit 1; }

# 1. extra CAs every image trusts at build time
mkdir -p "$ROOT/certs"
if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/certs/host-ca-bundle.crt"
  say "certs/: host CA bundle copied ($(grep -c 'BEGIN CERT' "$ROOT/certs/host-ca-bundle.crt") certificates)"
fi

# 2. a minimal Debian root file system, from the mirror this machine's apt already uses
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  tarball="$CACHE/debian-$SUITE.tar"
  if [[ ! -s $tarball ]]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    mirror="$(apt-get indextargets --format '$(URI)' 'Created-By: Packages' 2>/dev/null \
      | grep -v -- '-security' | head -1 | sed 's|/dists/.*||' || true)"
    [[ -n $mirror ]] || { echo "images: found no Debian mirror in this machine's apt sources" >&2; exit 1; }
    rootfs="$(mktemp -d)"
    say "debootstrap $SUITE (minbase) from this machine's apt mirror"
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball" .
    rm -rf "$rootfs"
  fi
  say "importing $BASE"
  docker import "$tarball" "$BASE" >/dev/null
fi

# 3. the stand-ins, built on it
mkdir -p "$CACHE"
build() {  # build <tag> <folder>
  say "building $1"
  docker build -q --build-arg BASE_IMAGE="$BASE" -t "$1" "$2" >"$CACHE/build.log" 2>&1 \
    || { tail -30 "$CACHE/build.log" >&2; exit 1; }
}
build "$PYTHON_IMAGE" "$HERE/python"
build "$POSTGRES_IMAGE" "$HERE/postgres"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$HERE/consul/Dockerfile" "$HERE/consul/docker-entrypoint.sh" "$ROOT/.cache/consul/consul" "$context/"
build "$CONSUL_IMAGE" "$context"
for name in prometheus jaeger; do  # the metrics and trace stores, from their Go builds
  rm -rf "${context:?}"/*
  cp "$HERE/$name/Dockerfile" "$ROOT/.cache/$name/$name" "$context/"
  tag="${name^^}_IMAGE"
  build "${!tag}" "$context"
done

# 4. point Compose at them
cat > "$ROOT/.env" <<ENV
# written by \`make images\`: local stand-ins for the official base images (delete to use those)
PYTHON_IMAGE=$PYTHON_IMAGE
POSTGRES_IMAGE=$POSTGRES_IMAGE
CONSUL_IMAGE=$CONSUL_IMAGE
PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE
JAEGER_IMAGE=$JAEGER_IMAGE
ENV
say "done in $((SECONDS - started))s; .env points Compose at $PYTHON_IMAGE, $POSTGRES_IMAGE, $CONSUL_IMAGE, $PROMETHEUS_IMAGE, $JAEGER_IMAGE"
