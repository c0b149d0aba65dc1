#!/usr/bin/env bash
# Regenerates the public API's Go code (api/) from proto/, reproducibly: buf
# and the plugins are pinned (buf here, the plugins by go.mod) and run with
# `go run`, so nothing needs installing and CI needs only Go.
#
#   scripts/generate.sh          format and lint proto/, regenerate api/
#   scripts/generate.sh --check  check formatting and lint, regenerate into a
#                                temporary directory and fail with a diff if the
#                                committed api/ differs (CI)
#
# protovalidate's rules (buf/validate/validate.proto) are copied from the Go
# module github.com/bufbuild/protovalidate into the git-ignored
# .tmp/protovalidate, which buf.yaml names as the module
# buf.build/bufbuild/protovalidate: the Buf Schema Registry is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=v1.75.0
# The validate.proto that buf.build/go/protovalidate v1.4.0 (go.mod) validates
# with: v1.2.2's file gives exactly the descriptor of its generated Go module
# buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go
# v1.36.12-20260825204119-511051f7f437.1. Bump the two together.
PROTOVALIDATE_VERSION=v1.2.2

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: scripts/generate.sh [--check]" >&2; exit 2 ;;
esac

buf() { go run "github.com/bufbuild/buf/cmd/buf@${BUF_VERSION}" "$@"; }

# protovalidate's proto source, from the Go module cache.
pv_dir=$(go mod download -json "github.com/bufbuild/protovalidate@${PROTOVALIDATE_VERSION}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$pv_dir" ] || [ ! -f "$pv_dir/proto/protovalidate/buf/validate/validate.proto" ]; then
  echo "generate: could not download github.com/bufbuild/protovalidate@${PROTOVALIDATE_VERSION}" >&2
  exit 1
fi
mkdir -p .tmp/protovalidate/buf/validate
install -m 0644 "$pv_dir/proto/protovalidate/buf/validate/validate.proto" .tmp/protovalidate/buf/validate/validate.proto

if $check; then
  if ! buf format --diff --exit-code proto; then
    echo "generate: proto/ is not formatted: run scripts/generate.sh" >&2
    exit 1
  fi
  buf lint
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  buf generate --output "$out"
  if ! diff -ruN api "$out/api"; then
    echo "generate: api/ is out of date with proto/: run scripts/generate.sh and commit the result" >&2
    exit 1
  fi
  echo "generate: proto/ is formatted and lint-clean, api/ is up to date"
else
  buf format --write proto
  buf lint
  buf generate
  echo "generate: api/ regenerated"
fi
