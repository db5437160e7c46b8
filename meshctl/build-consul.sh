#!/usr/bin/env bash
# Build the Consul binary from the Go module proxy and cache it in .cache/consul/.
#
# `go install github.com/hashicorp/consul@vX` refuses the module because its go.mod has `replace`
# lines pointing at its own nested modules (api, sdk, ...), which a module download does not
# contain. So: download the module, check its licence, drop those replaces (the nested modules then
# come from the proxy at the versions go.mod requires), build.
set -euo pipefail

# 1.16.4 is the intended version, but the module proxy refuses it ("This module version is not
# available"); 1.16.3 is the newest MPL-2.0 release it serves. See README, "Consul version".
VERSION="${CONSUL_VERSION:-1.16.3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache/consul"
BIN="$CACHE/consul"
MPL="Mozilla Public License, version 2.0"

if [[ -x "$BIN" ]] && [[ "$("$BIN" version 2>/dev/null | sed -n 1p)" == "Consul v$VERSION" ]]; then
  echo "consul: reusing $BIN ($("$BIN" version | sed -n 1p))"
  exit 0
fi

command -v go >/dev/null || { echo "consul: Go is needed to build Consul and is not installed" >&2; exit 1; }
echo "consul: building v$VERSION from the Go module proxy (first build takes several minutes)"
started=$SECONDS
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# a throwaway module to run `go mod download` in, so the user's own go.mod is never touched
(cd "$work" && go mod init consul-build >/dev/null 2>&1)
dir="$(cd "$work" && go mod download -json "github.com/hashicorp/consul@v$VERSION" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])')"
grep -q "$MPL" "$dir/LICENSE" || { echo "consul: $dir/LICENSE is not MPL-2.0; refusing to build" >&2; exit 1; }

src="$work/src"
cp -r "$dir" "$src"
chmod -R u+w "$src"
cd "$src"
# drop the replace block that points at ./api, ./sdk, ./proto-public, ./envoyextensions, ./troubleshoot
sed -i '/^replace (/,/^)/d' go.mod
grep -q '=> \./' go.mod && { echo "consul: go.mod still has local replaces" >&2; exit 1; }

# go.sum has no lines for the nested modules (they were replaced), and the checksum database has no
# record of envoyextensions v0.4.1, so those few are taken from the proxy unverified by it
export GONOSUMDB="github.com/hashicorp/consul/api,github.com/hashicorp/consul/sdk,github.com/hashicorp/consul/proto-public,github.com/hashicorp/consul/envoyextensions,github.com/hashicorp/consul/troubleshoot"
export GOFLAGS="-mod=mod"
echo "consul: downloading dependencies"
go mod download
for nested in api sdk proto-public envoyextensions troubleshoot; do
  ndir="$(go list -m -f '{{.Dir}}' "github.com/hashicorp/consul/$nested")"
  grep -q "$MPL" "$ndir/LICENSE" || { echo "consul: $nested at $ndir is not MPL-2.0; refusing" >&2; exit 1; }
done

echo "consul: compiling (CGO off, stripped)"
mkdir -p "$CACHE"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN.tmp" .
mv "$BIN.tmp" "$BIN"
echo "consul: built $("$BIN" version | sed -n 1p) in $((SECONDS - started))s -> $BIN"
