#!/usr/bin/env bash
# Installs what Squall's build and tests need on a fresh machine. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  # Debian's golang is older than go.mod asks for; its go command then fetches
  # the exact toolchain named in go.mod from the Go module proxy.
  echo "setup: installing Go from Debian (the toolchain in go.mod is fetched by it)"
  apt-get update -qq && apt-get install -y -qq golang-go >/dev/null
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
go version
go mod download
# Rust guests (the SDK, examples, conformance suite) build with Debian's toolchain.
scripts/install-rust-wasm.sh
# Python modules: CPython 3.11, pip and pytest on the build machine, and the
# CPython WASI runtime they run on (built from Debian's source package into
# ~/.cache/squall/python the first time: a few minutes; then instant).
scripts/install-python.sh
scripts/build-python-runtime.sh
# The API benchmarks (and their smoke test) measure against a real redis-server.
scripts/install-redis.sh
# TypeScript modules: Node.js and npm (tsc and esbuild come from each project's
# devDependencies), and the QuickJS runtime, built once into the user cache.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Node.js and npm from Debian"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
node_major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
if [ "$node_major" -lt 20 ]; then
  echo "setup: warning: Node.js $(node --version) is older than the 20 the TypeScript SDK needs"
fi
scripts/build-quickjs-runtime.sh >/dev/null
