#!/usr/bin/env bash
# Build the Consul binary from the Go module proxy and cache it in .cache/consul/.
#
# `go install github.com/hashicorp/consul@vX` refuses the module because its go.mod has `replace`
# lines pointing at its own nested modules (api, sdk, ...), which a module download does not
# contain. So: download the module, check its licence, apply the project's patches
# (consul-config/patches/*.patch, in name order, each saying where it comes from), drop those
# replaces (the nested modules then come from the proxy at the versions go.mod requires), build.
# A patch to one of Consul's dependencies lives in consul-config/patches/modules/<module path>/: it
# is applied to a copy of that module at the version Consul's go.mod requires, and go.mod is pointed
# at the copy.
set -euo pipefail

# 1.16.4 is the intended version, but the module proxy refuses it ("This module version is not
# available"); 1.16.3 is the newest MPL-2.0 release it serves. See docs/mesh.md, "Consul version".
VERSION="${CONSUL_VERSION:-1.16.3}"
source "$(dirname "$0")/gobuild.sh"
BIN="$(cached_binary consul)"
MPL="Mozilla Public License, version 2.0"
PATCHES=("$ROOT"/consul-config/patches/*.patch)
MODULES="$ROOT/consul-config/patches/modules"
mapfile -t MODULE_PATCHES < <(find "$MODULES" -name '*.patch' 2>/dev/null | sort)
# what the cached binary was built from: the version and every patch's content
STAMP="$BIN.built-from"
built_from="v$VERSION $(cat "${PATCHES[@]}" "${MODULE_PATCHES[@]}" | sha256sum | cut -c1-16)"

if [[ -x "$BIN" ]] && [[ "$("$BIN" version 2>/dev/null | sed -n 1p)" == "Consul v$VERSION" ]] \
   && [[ "$(cat "$STAMP" 2>/dev/null)" == "$built_from" ]]; then
  echo "consul: reusing $BIN ($("$BIN" version | sed -n 1p), $((${#PATCHES[@]} + ${#MODULE_PATCHES[@]})) patches)"
  exit 0
fi

go_workdir consul Consul
echo "consul: building v$VERSION from the Go module proxy (first build takes several minutes)"
dir="$(go_module_dir "github.com/hashicorp/consul@v$VERSION")"
require_licence consul "$dir/LICENSE" MPL-2.0 "$MPL"

src="$work/src"
cp -r "$dir" "$src"
chmod -R u+w "$src"
cd "$src"
for patch in "${PATCHES[@]}"; do
  echo "consul: applying $(basename "$patch")"
  git apply -p1 "$patch" || { echo "consul: $patch does not apply to v$VERSION" >&2; exit 1; }
done
# drop the replace block that points at ./api, ./sdk, ./proto-public, ./envoyextensions, ./troubleshoot
sed -i '/^replace (/,/^)/d' go.mod
grep -q '=> \./' go.mod && { echo "consul: go.mod still has local replaces" >&2; exit 1; }

# each patched dependency: a copy of the version go.mod requires, patched, and go.mod pointed at it
for module in $(printf '%s\n' "${MODULE_PATCHES[@]}" | sed "s#^$MODULES/##; s#/[^/]*\.patch\$##" | sort -u); do
  version="$(awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit }' go.mod)"
  [[ -n "$version" ]] || { echo "consul: go.mod of v$VERSION does not require $module" >&2; exit 1; }
  copy="$work/modules/$module"
  mkdir -p "$(dirname "$copy")"
  cp -r "$(go_module_dir "$module@$version")" "$copy"
  chmod -R u+w "$copy"
  require_licence consul "$copy/LICENSE" MPL-2.0 "$MPL"
  for patch in "$MODULES/$module"/*.patch; do
    echo "consul: applying $module/$(basename "$patch") to $module $version"
    (cd "$copy" && git apply -p1 "$patch") || { echo "consul: $patch does not apply to $module $version" >&2; exit 1; }
  done
  go mod edit -replace "$module=$copy"
done

# go.sum has no lines for the nested modules (they were replaced), and the checksum database has no
# record of envoyextensions v0.4.1, so those few are taken from the proxy unverified by it
export GONOSUMDB="github.com/hashicorp/consul/api,github.com/hashicorp/consul/sdk,github.com/hashicorp/consul/proto-public,github.com/hashicorp/consul/envoyextensions,github.com/hashicorp/consul/troubleshoot"
export GOFLAGS="-mod=mod"
echo "consul: downloading dependencies"
go mod download
for nested in api sdk proto-public envoyextensions troubleshoot; do
  require_licence consul "$(go list -m -f '{{.Dir}}' "github.com/hashicorp/consul/$nested")/LICENSE" MPL-2.0 "$MPL"
done

echo "consul: compiling (CGO off, stripped)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/consul" .
install_binary "$work/consul" "$BIN"
echo "$built_from" > "$STAMP"
echo "consul: built $("$BIN" version | sed -n 1p) in $((SECONDS - started))s -> $BIN"
