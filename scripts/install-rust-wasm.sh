#!/usr/bin/env bash
# Installs the Rust toolchain that builds Squall's Rust guest SDK and modules
# for WebAssembly: Debian's rustc and cargo (1.63) with the wasm32-wasi
# standard library, and lld (the wasm linker). Idempotent: does nothing when
# everything is there. Needs root (apt-get) the first time.
#
# Why Debian's toolchain: rustup cannot download targets on this project's
# machines, and the preinstalled rustup toolchain has no wasm32 target. Use it
# with RUSTC=/usr/bin/rustc /usr/bin/cargo ... (rustup's cargo, first on PATH,
# cannot drive rustc 1.63). Elsewhere `rustup target add wasm32-wasip1` works.
set -euo pipefail

if [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] &&
   ls /usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib >/dev/null 2>&1 &&
   command -v lld >/dev/null 2>&1; then
  echo "install-rust-wasm: Debian rustc $(/usr/bin/rustc --version | cut -d' ' -f2) with wasm32-wasi already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-rust-wasm: installing rustc, cargo, libstd-rust-dev-wasm32 and lld from Debian"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustc cargo libstd-rust-dev-wasm32 lld >/dev/null
/usr/bin/rustc --version
/usr/bin/cargo --version
ls /usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib >/dev/null
echo "install-rust-wasm: done; build with RUSTC=/usr/bin/rustc /usr/bin/cargo build --release --target wasm32-wasi"
