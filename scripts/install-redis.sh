#!/usr/bin/env bash
# Installs Debian's redis-server, the peer that internal/apibench compares
# Squall's API with (SET/GET of the same payloads on loopback). Idempotent:
# does nothing when redis-server is on PATH. Needs root (apt-get) the first
# time. The benchmarks start and stop their own redis-server processes on a
# free loopback port; the Debian package's system service is not used by them.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  echo "install-redis: $(redis-server --version | cut -d' ' -f1-3) already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-redis: installing redis-server from Debian"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
redis-server --version
echo "install-redis: done"
