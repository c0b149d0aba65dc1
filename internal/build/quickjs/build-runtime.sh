#!/usr/bin/env bash
# Builds Squall's QuickJS runtime for WebAssembly (wasm32-wasi reactor): the
# QuickJS engine from Debian trixie's source package plus the C runtime in
# runtime/ next to this script (ABI exports, host imports, MessagePack
# codec), linked with Debian's clang and wasi-libc.
#
# Output: $SQUALL_CACHE/quickjs/<quickjs-version>-<hash>/runtime.wasm, where
# SQUALL_CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/squall and <hash>
# covers the runtime's C sources, this script and the compiler version. The
# path is printed on the last line of stdout. Idempotent: an existing build
# is reused; a new one is written to a temporary directory and renamed into
# place, so concurrent runs never see a half-written file.
#
# The QuickJS source is fetched through apt (deb-src) at build time and never
# kept in the repository. Needs root for apt-get the first time. With
# SQUALL_NO_INSTALL=1 (how `squall build` runs it) it installs nothing and
# fails, naming this script, when a package or the deb-src entry is missing.
set -euo pipefail
# The runtime's C sources: next to this script (in the repository, or where
# `squall build` unpacked its embedded copy).
rt="$(cd "$(dirname "$0")" && pwd)/runtime"
QJS_VERSION=2025.04.26          # Debian trixie's quickjs (upstream 2025-04-26)
cache="${SQUALL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/squall}/quickjs"
log() { echo "build-quickjs-runtime: $*" >&2; }

if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
# need_install stops when installing is not allowed.
need_install() {
  if [ "${SQUALL_NO_INSTALL:-}" = 1 ]; then
    log "error: $1 is missing; run scripts/build-quickjs-runtime.sh (or make quickjs-runtime) once, as root or with sudo, to install it and build the QuickJS runtime"
    exit 1
  fi
}

# 1. The toolchain: clang 14 for wasm32-wasi, wasi-libc, the wasm builtins,
# and binaryen's wasm-opt.
if ! command -v clang-14 >/dev/null 2>&1 || ! command -v wasm-ld >/dev/null 2>&1 || ! command -v wasm-opt >/dev/null 2>&1 ||
   [ ! -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a ] ||
   [ ! -d /usr/include/wasm32-wasi ]; then
  need_install "the toolchain (clang-14, lld, wasi-libc, libclang-rt-14-dev-wasm32, binaryen)"
  log "installing clang, lld, wasi-libc, libclang-rt-14-dev-wasm32 and binaryen from Debian"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-14 lld wasi-libc libclang-rt-14-dev-wasm32 binaryen >/dev/null
fi
CC=clang-14

# 2. The cache key: QuickJS version, our sources, this script, the compiler.
key=$( { echo "$QJS_VERSION"; $CC --version | head -1; cat "${BASH_SOURCE[0]}";
         wasm-opt --version;
         for f in $(cd "$rt" && ls | LC_ALL=C sort); do echo "$f"; cat "$rt/$f"; done; } |
       sha256sum | cut -c1-16)
out="$cache/$QJS_VERSION-$key"
if [ -f "$out/runtime.wasm" ]; then
  echo "$out/runtime.wasm"
  exit 0
fi

# 3. The QuickJS source, from Debian trixie's source package (bookworm has
# none), unpacked once per version under the cache.
src="$cache/src/quickjs-$QJS_VERSION"
if [ ! -f "$src/quickjs.c" ]; then
  if ! apt-cache showsrc quickjs 2>/dev/null | grep -q "^Version: $QJS_VERSION"; then
    need_install "the Debian trixie deb-src entry (for the quickjs source package)"
    log "adding the Debian trixie deb-src entry (for the quickjs source package)"
    sed 's/^Types: deb$/Types: deb-src/; s/^Suites: bookworm bookworm-updates$/Suites: trixie/' \
        /etc/apt/sources.list.d/debian.sources | awk 'BEGIN{RS="";ORS="\n\n"} NR==1' |
      $SUDO tee /etc/apt/sources.list.d/trixie-src.sources >/dev/null
    $SUDO apt-get update -qq
  fi
  dl="$cache/src/dl.$$"
  rm -rf "$dl" && mkdir -p "$dl"
  log "downloading the quickjs $QJS_VERSION source package"
  (cd "$dl" && apt-get source --download-only -qq "quickjs=$QJS_VERSION-1" >/dev/null 2>&1 ||
               apt-get source --download-only -qq quickjs >/dev/null 2>&1)
  tarball=$(ls "$dl"/quickjs_"$QJS_VERSION".orig.tar.* 2>/dev/null | head -1)
  if [ -z "$tarball" ]; then
    log "error: apt-get source quickjs did not give quickjs_$QJS_VERSION.orig.tar.*; got: $(ls "$dl")"
    exit 1
  fi
  mkdir -p "$dl/x" && tar xf "$tarball" -C "$dl/x"
  top=$(dirname "$(ls "$dl"/x/*/quickjs.c)")
  rm -rf "$src" && mv "$top" "$src" && rm -rf "$dl"
fi

# 4. Compile. dtoa.c includes <setjmp.h> without using it and wasi-libc has
# none: an empty one stands in. -DEMSCRIPTEN turns off QuickJS's thread-based
# Atomics (wasi-libc has no threads) but also its stack check, which
# -DCONFIG_STACK_CHECK turns back on: the wasm stack lives in linear memory
# with no guard page, so deep JS recursion must become a RangeError rather
# than overwrite the heap (runtime.c sets the limit).
tmp="$cache/tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
inc="$cache/include"
mkdir -p "$inc" && [ -f "$inc/setjmp.h" ] || : > "$inc/setjmp.h"
cflags=(--target=wasm32-wasi -O2 -DEMSCRIPTEN -DCONFIG_STACK_CHECK -D_GNU_SOURCE -D_WASI_EMULATED_SIGNAL
        "-DCONFIG_VERSION=\"${QJS_VERSION//./-}\"" -I"$inc" -I"$src" -Wno-everything)
# QuickJS's own objects change only with its version and the flags: they are
# kept apart, so a change to the runtime's C recompiles only the runtime.
qkey=$( { echo "$QJS_VERSION"; $CC --version | head -1; echo "${cflags[*]}"; } | sha256sum | cut -c1-16)
qobj="$cache/obj/$QJS_VERSION-$qkey"
qfiles=(quickjs libregexp libunicode cutils dtoa)
if [ ! -f "$qobj/dtoa.o" ]; then
  log "compiling QuickJS $QJS_VERSION"
  mkdir -p "$tmp/q"
  n=0
  for f in "${qfiles[@]}"; do
    $CC "${cflags[@]}" -c "$src/$f.c" -o "$tmp/q/$f.o" &
    # two compilers at a time at most (a shared machine)
    n=$((n + 1)); if [ $((n % 2)) = 0 ]; then wait; fi
  done
  wait
  for f in "${qfiles[@]}"; do [ -f "$tmp/q/$f.o" ] || { log "error: compiling $f.c failed"; exit 1; }; done
  mkdir -p "$cache/obj"
  mv -T "$tmp/q" "$qobj" 2>/dev/null || true   # another run may have finished first
fi
objs=()
for f in "${qfiles[@]}"; do objs+=("$qobj/$f.o"); done
log "compiling the runtime (output $out)"
for f in "$rt"/*.c; do
  b=$(basename "$f" .c)
  $CC --target=wasm32-wasi -O2 -D_GNU_SOURCE -I"$src" -I"$rt" -Wall -Wextra -Werror \
      -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers \
      -c "$f" -o "$tmp/rt_$b.o"
  objs+=("$tmp/rt_$b.o")
done
# A reactor (no _start); 1 MiB of wasm stack for deep JS recursion in C,
# placed first in memory so that an overflow the stack check misses traps
# (the address goes below 0) instead of overwriting static data.
$CC --target=wasm32-wasi -mexec-model=reactor -O2 "${objs[@]}" \
    -Wl,-z,stack-size=1048576 -Wl,--stack-first -Wl,--strip-debug \
    -lwasi-emulated-signal -o "$tmp/runtime.wasm"
wasm-opt -O2 --strip-debug "$tmp/runtime.wasm" -o "$tmp/runtime.opt.wasm"
mv "$tmp/runtime.opt.wasm" "$tmp/runtime.wasm"
mkdir -p "$cache"
rm -rf "$out.$$" && mkdir "$out.$$" && mv "$tmp/runtime.wasm" "$out.$$/runtime.wasm"
if ! mv -T "$out.$$" "$out" 2>/dev/null; then
  rm -rf "$out.$$"   # another run finished first; its build is the same
fi
log "built $(stat -c %s "$out/runtime.wasm") bytes"
echo "$out/runtime.wasm"
