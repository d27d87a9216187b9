#!/usr/bin/env bash
# Lint the API contract: `buf lint` (STANDARD rules, see buf.yaml) and
# `buf format` (fails on any formatting difference, printing the diff).
# buf is installed once through the Go module proxy into a cache dir
# (METERS_TOOLS_BIN, default ~/.cache/meters/bin) and reused from there.
# `scripts/lint.sh --fix` rewrites the files in place first.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=v1.75.0
BIN="${METERS_TOOLS_BIN:-$HOME/.cache/meters/bin}"

# install PACKAGE VERSION: `go install` it into $BIN unless this version already is.
install() {
  local pkg=$1 version=$2 name=${1##*/}
  if [[ ! -x "$BIN/$name" || ! -e "$BIN/.$name@$version" ]]; then
    command -v go >/dev/null || { echo "lint.sh: go is needed to install $name" >&2; exit 1; }
    echo "installing $name $version into $BIN" >&2
    mkdir -p "$BIN"
    GOBIN="$BIN" go install "$pkg@$version"
    rm -f "$BIN/.$name@"*
    touch "$BIN/.$name@$version"
  fi
}

install github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
BUF="$BIN/buf"

if [[ "${1:-}" == "--fix" ]]; then
  "$BUF" format -w
fi
"$BUF" lint
"$BUF" format -d --exit-code
# Breaking-change check (FILE rules) against a git ref when asked, e.g.
# BUF_BREAKING_AGAINST='.git#branch=main' or '.git#ref=HEAD~1'.
if [[ -n "${BUF_BREAKING_AGAINST:-}" ]]; then
  "$BUF" breaking --against "$BUF_BREAKING_AGAINST"
fi
echo "buf lint and buf format: clean"
