#!/usr/bin/env bash
# Build the Prometheus server from the Go module proxy and cache it in .cache/prometheus/.
#
# Prometheus 3.x is published as the Go module github.com/prometheus/prometheus at v0.3XX.Y
# (v0.316.0 is Prometheus 3.16.0). `go install` builds it as it is, but stamps no version
# (`prometheus --version` says "version ", and the cache could not tell what it holds), so the
# version is set with the same -ldflags the project's own release tool passes. Built without the
# `builtinassets` tag (the compressed web UI is generated at release time and is not in the module):
# the HTTP API, which is what we use, is all there; the web UI pages are not.
#
# Every go command runs under `nice -n 19`: the build takes minutes of both cores and must not
# disturb timing-sensitive tests running alongside.
set -euo pipefail

MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
source "$(dirname "$0")/gobuild.sh"
BIN="$(cached_binary prometheus)"
PKG="github.com/prometheus/prometheus/cmd/prometheus"
APACHE="Apache License"

# the version the module says it is (its VERSION file), known without downloading only for the default
expected_version() {
  if [[ "$MODULE_VERSION" =~ ^v0\.3([0-9]{2})\.([0-9]+)$ ]]; then
    echo "3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
  fi
}
VERSION="$(expected_version)"

if [[ -n "$VERSION" && -x "$BIN" ]] \
  && [[ "$("$BIN" --version 2>/dev/null | sed -n 1p)" == "prometheus, version $VERSION "* ]]; then
  echo "prometheus: reusing $BIN ($("$BIN" --version | sed -n 1p))"
  exit 0
fi

go_workdir prometheus Prometheus
echo "prometheus: building $MODULE_VERSION from the Go module proxy (first build takes several minutes)"
dir="$(go_module_dir "github.com/prometheus/prometheus@$MODULE_VERSION" nice -n 19)"
require_licence prometheus "$dir/LICENSE" Apache-2.0 "$APACHE" "Version 2.0"
module_says="$(tr -d '[:space:]' < "$dir/VERSION")"
if [[ -n "$VERSION" && "$module_says" != "$VERSION" ]]; then
  echo "prometheus: $MODULE_VERSION says it is $module_says, expected $VERSION; refusing" >&2
  exit 1
fi
VERSION="$module_says"

echo "prometheus: compiling $VERSION (CGO off, stripped)"
common="github.com/prometheus/common/version"
ldflags="-s -w -X $common.Version=$VERSION -X $common.Revision=$MODULE_VERSION -X $common.Branch=module"
ldflags+=" -X $common.BuildUser=build-prometheus.sh -X $common.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
# `go install pkg@version` builds outside any module with the module's own go.mod; GOBIN is a
# scratch folder
(cd "$work" && CGO_ENABLED=0 GOBIN="$work/bin" nice -n 19 go install -trimpath -tags netgo \
  -ldflags "$ldflags" "$PKG@$MODULE_VERSION")
install_binary "$work/bin/prometheus" "$BIN"
echo "prometheus: built $("$BIN" --version | sed -n 1p) in $((SECONDS - started))s ($(du -m "$BIN" | cut -f1) MB) -> $BIN"
