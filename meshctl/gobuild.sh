# What the three Go builds share (build-consul.sh, build-prometheus.sh, build-jaeger.sh). Sourced, not
# run: each script then does only what its own module needs.

# the repository, found from this file, whichever folder the build is started in
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# cached_binary NAME: where NAME's build keeps its binary, .cache/NAME/NAME (the Makefile's targets)
cached_binary() {
  echo "$ROOT/.cache/$1/$1"
}

# go_workdir NAME DISPLAY: stops when Go is missing; makes $work, a folder removed on exit, holding
# a throwaway module (NAME-build) to run `go mod download` in, so the user's own go.mod is never
# touched; starts the clock ($started)
go_workdir() {
  command -v go >/dev/null || { echo "$1: Go is needed to build $2 and is not installed" >&2; exit 1; }
  started=$SECONDS
  work="$(mktemp -d)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  (cd "$work" && go mod init "$1-build" >/dev/null 2>&1)
}

# go_module_dir MODULE@VERSION [COMMAND PREFIX…]: the module downloaded from the proxy into Go's
# cache, its folder printed (or Go's error, and the build stops)
go_module_dir() {
  local module="$1"
  shift
  (cd "$work" && "$@" go mod download -json "$module") \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])'
}

# require_licence NAME FILE LICENCE TEXT…: every TEXT is in FILE, or the build stops naming LICENCE
require_licence() {
  local name="$1" file="$2" licence="$3" text
  shift 3
  for text in "$@"; do
    grep -q "$text" "$file" || { echo "$name: $file is not $licence; refusing to build" >&2; exit 1; }
  done
}

# install_binary BUILT CACHED: into place in one rename, so a half-written binary never replaces a good one
install_binary() {
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.tmp"
  mv "$2.tmp" "$2"
}
