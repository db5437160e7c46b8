#!/usr/bin/env bash
# Build Jaeger v2 (the `jaeger` binary: an OpenTelemetry collector with Jaeger's storage and query
# extensions) from the Go module proxy and cache it in .cache/jaeger/.
#
# Jaeger v2.13.0 ships in the Go module github.com/jaegertracing/jaeger at v1.76.0 (the module
# path has no /v2). `go install .../cmd/jaeger@v1.76.0` refuses the module because its go.mod has a
# `replace` line. So: a throwaway module that requires cmd/jaeger as a tool (`go get -tool`), with
# Jaeger's own replace lines copied into it (only the main module's replaces count, and copying
# them builds with the dependency versions Jaeger's release uses), then `go build` that package.
# Jaeger's web UI is generated at release time and is not in the module: the query API, which is
# what we use, is all there; the UI page is a placeholder.
#
# Every go command runs under `nice -n 19`: the build takes minutes of both cores and must not
# disturb timing-sensitive tests running alongside.
set -euo pipefail

MODULE_VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}"
# the Jaeger v2 release that module version is (CHANGELOG.md: "v1.76.0 / v2.13.0")
VERSION="${JAEGER_VERSION:-v2.13.0}"
source "$(dirname "$0")/gobuild.sh"
BIN="$(cached_binary jaeger)"
MODULE="github.com/jaegertracing/jaeger"
PKG="$MODULE/cmd/jaeger"
APACHE="Apache License"

cached_version() {
  "$BIN" version 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])' 2>/dev/null
}

if [[ -x "$BIN" ]] && [[ "$(cached_version)" == "$VERSION" ]]; then
  echo "jaeger: reusing $BIN ($VERSION)"
  exit 0
fi

go_workdir jaeger Jaeger
echo "jaeger: building $VERSION ($MODULE@$MODULE_VERSION) from the Go module proxy (first build takes several minutes)"
dir="$(go_module_dir "$MODULE@$MODULE_VERSION" nice -n 19)"
require_licence jaeger "$dir/LICENSE" Apache-2.0 "$APACHE" "Version 2.0"
# the throwaway module is where Jaeger is built: it requires cmd/jaeger as a tool
cd "$work"
grep -q "^$MODULE_VERSION / $VERSION " "$dir/CHANGELOG.md" \
  || { echo "jaeger: $dir/CHANGELOG.md has no entry '$MODULE_VERSION / $VERSION'; refusing" >&2; exit 1; }

# Jaeger's replace lines (single-line form), into the throwaway module; a local path could not resolve
grep '^replace ' "$dir/go.mod" >> go.mod || true
grep -q '=> \.' go.mod && { echo "jaeger: go.mod has a local replace; refusing" >&2; exit 1; }
echo "jaeger: resolving dependencies ($(grep -c '^replace ' go.mod) replace line(s) from Jaeger's go.mod)"
nice -n 19 go get -tool "$PKG@$MODULE_VERSION"

echo "jaeger: compiling (CGO off, stripped)"
info="$MODULE/internal/version"
ldflags="-s -w -X $info.latestVersion=$VERSION -X $info.commitSHA=$MODULE_VERSION"
ldflags+=" -X $info.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "$ldflags" -o "$work/jaeger" "$PKG"
install_binary "$work/jaeger" "$BIN"
echo "jaeger: built $(cached_version) in $((SECONDS - started))s ($(du -m "$BIN" | cut -f1) MB) -> $BIN"
