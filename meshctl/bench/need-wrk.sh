#!/usr/bin/env bash
# wrk, the load generator `make bench` drives, from Debian's packages when this machine lacks it
# (as .ci/run installs what it needs), so a fresh machine runs `make bench` with nothing to do first.
set -euo pipefail
command -v wrk >/dev/null 2>&1 && exit 0

sudo=()
if [[ $(id -u) != 0 ]]; then
  if sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "wrk is missing and installing it needs root: sudo apt-get install wrk" >&2
    exit 1
  fi
fi
echo "==> installing wrk (Debian package wrk)"
# a fresh machine's package lists may be missing or stale, and then the install finds nothing
if ! out=$("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get install -y -qq wrk' 2>&1); then
  echo "$out" >&2
  echo "could not install wrk (apt-get install wrk)" >&2
  exit 1
fi
command -v wrk >/dev/null || { echo "wrk is still missing after apt-get install wrk" >&2; exit 1; }
