#!/usr/bin/env bash
# Build the REST gateway: generate Go code from proto/ with buf (buf.gen.yaml:
# protoc-gen-go, protoc-gen-go-grpc, protoc-gen-grpc-gateway, protoc-gen-openapiv2) into
# gateway/gen/ (git-ignored), then compile build/gateway. The OpenAPI (Swagger 2.0)
# description of every REST mapping is merged into gateway/gen/openapi/meters.swagger.json,
# embedded in the binary (served at /openapi.json) and copied to build/openapi.json.
# Tools are pinned here and installed once through the Go module proxy into
# METERS_TOOLS_BIN (default ~/.cache/meters/bin); after the first run the
# whole build works offline from the Go module and build caches.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12        # = google.golang.org/protobuf in gateway/go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPC_GATEWAY_VERSION=v2.33.0          # = grpc-gateway in gateway/go.mod
BIN="${METERS_TOOLS_BIN:-$HOME/.cache/meters/bin}"

command -v go >/dev/null || { echo "build_gateway.sh: go is needed" >&2; exit 1; }

# install PACKAGE VERSION: `go install` it into $BIN unless this version already is.
install() {
  local pkg=$1 version=$2 name=${1##*/}
  if [[ ! -x "$BIN/$name" || ! -e "$BIN/.$name@$version" ]]; then
    echo "installing $name $version into $BIN" >&2
    mkdir -p "$BIN"
    GOBIN="$BIN" go install "$pkg@$version"
    rm -f "$BIN/.$name@"*
    touch "$BIN/.$name@$version"
  fi
}

start=$(date +%s.%N)
install github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
install google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway "$GRPC_GATEWAY_VERSION"
install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 "$GRPC_GATEWAY_VERSION"

rm -rf gateway/gen
PATH="$BIN:$PATH" "$BIN/buf" generate
mkdir -p build
cp gateway/gen/openapi/meters.swagger.json build/openapi.json
(cd gateway && go build -trimpath -o ../build/gateway .)
end=$(date +%s.%N)
printf 'built build/gateway in %.1f s\n' "$(echo "$end - $start" | bc -l 2>/dev/null || python3 -c "print($end - $start)")"
