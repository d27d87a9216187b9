#!/usr/bin/env bash
# Build Jaeger v2 (the trace back end of `make up` and the tracing test) into METERS_TOOLS_BIN
# (default ~/.cache/meters/bin) from tools/jaeger, a module whose only purpose is to pin it
# (`go get -tool`: Jaeger's own go.mod has replace directives, so `go install pkg@version` refuses it).
# The first build fetches its modules through the Go module proxy and takes several minutes;
# later runs find the binary and return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${METERS_TOOLS_BIN:-$HOME/.cache/meters/bin}"
VERSION=$(awk '$1 == "github.com/jaegertracing/jaeger" {print $2}' tools/jaeger/go.mod)
STAMP="$BIN/.jaeger@$VERSION"
if [[ -x "$BIN/jaeger" && -e "$STAMP" ]]; then
  exit 0
fi
command -v go >/dev/null || { echo "jaeger.sh: go is needed to build jaeger (Debian package golang-go)" >&2; exit 1; }
echo "building jaeger $VERSION into $BIN (several minutes, once)" >&2
mkdir -p "$BIN"
(cd tools/jaeger && go build -o "$BIN/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
mv "$BIN/jaeger.tmp" "$BIN/jaeger"
rm -f "$BIN/.jaeger@"*
touch "$STAMP"
