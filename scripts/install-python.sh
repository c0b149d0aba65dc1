#!/usr/bin/env bash
# Installs what Squall's Python modules need on the build machine: CPython
# 3.11 (it compiles the modules' code for the runtime, which is 3.11 too),
# pip (it vendors their pure-Python dependencies) and pytest (the SDK's and
# the examples' tests). Idempotent; needs root (apt-get) the first time.
set -euo pipefail

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v python3.11 >/dev/null 2>&1; then
  echo "install-python: installing python3.11 from Debian"
  apt_install python3.11
fi
if ! python3.11 -m pip --version >/dev/null 2>&1; then
  echo "install-python: installing pip from Debian"
  apt_install python3-pip
fi
if ! python3.11 -c 'import pytest' >/dev/null 2>&1; then
  # Debian's python3.11 is its python3: its pytest package serves it.
  if [ "$(command -v python3.11)" = /usr/bin/python3.11 ]; then
    echo "install-python: installing pytest from Debian"
    apt_install python3-pytest
  else
    echo "install-python: installing pytest with pip"
    python3.11 -m pip install --quiet --disable-pip-version-check pytest
  fi
fi
echo "install-python: $(python3.11 --version), pip $(python3.11 -m pip --version | cut -d' ' -f2), pytest $(python3.11 -c 'import pytest; print(pytest.__version__)')"
