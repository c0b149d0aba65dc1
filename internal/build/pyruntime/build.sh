#!/usr/bin/env bash
# Builds the Squall Python runtime: CPython 3.11 for wasm32-wasi from Debian's
# source package, linked as a WASI reactor with the C shim of this folder
# (the Squall ABI exports and the built-in module _squall), plus the standard
# library subset that modules carry, precompiled.
#
# Output (all of it, atomically):
#   ${XDG_CACHE_HOME:-$HOME/.cache}/squall/python/<cpython version>-<key>/
#     squall-python.wasm      the runtime (the same bytes for every Python module)
#     lib/python3.11/         the standard library subset (.pyc only)
#     runtime.json            {"cpython": ..., "key": ...}
# <key> hashes every file of this folder (this script and the shim), so a
# change of either gives a new directory; internal/build computes the same key
# from the copy embedded in the squall binary and finds the runtime there.
# The slow part, libpython3.11.a, is cached separately under
# cpython-<version>-<recipe hash>/, so a shim change only relinks (seconds).
#
# Idempotent; needs root (apt-get) the first time. Run it through
# scripts/build-python-runtime.sh or `make python-runtime`.
# Options: --print-dir prints the output directory and exits.
set -euo pipefail

CPYTHON_VERSION=3.11.2
PYVER=3.11
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/squall/python
JOBS=${SQUALL_BUILD_JOBS:-2}

log() { echo "build-python-runtime: $*" >&2; }
die() { log "error: $*"; exit 1; }

# runtime_key must match internal/build's pythonRuntimeKey: sha256 over every
# file of this folder (names not starting with "." or "_"), in byte order of
# name, each as "<name>\n<size>\n<content>"; the first 16 hex digits.
runtime_key() {
  (
    cd "$SRC_DIR"
    for f in $(LC_ALL=C ls | LC_ALL=C sort); do
      case "$f" in .* | _*) continue ;; esac
      [ -f "$f" ] || continue
      printf '%s\n%s\n' "$f" "$(wc -c <"$f")"
      cat "$f"
    done
  ) | sha256sum | cut -c1-16
}

# Everything below uses a snapshot of this folder, so that the key names
# exactly the sources that were built even if they are edited meanwhile.
SRC_DIR=$(mktemp -d)
trap 'rm -rf "$SRC_DIR"' EXIT
cp -p "$HERE"/* "$SRC_DIR/"
KEY=$(runtime_key)
OUT="$CACHE_ROOT/$CPYTHON_VERSION-$KEY"
if [ "${1:-}" = "--print-dir" ]; then
  echo "$OUT"
  exit 0
fi
if [ -f "$OUT/runtime.json" ]; then
  log "up to date: $OUT"
  exit 0
fi

SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

clang_rt() { ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a 2>/dev/null | head -1; }

ensure_tools() {
  local missing=0
  for c in clang wasm-ld llvm-ar-14 llvm-ranlib-14 clang-cpp-14 python3.11; do
    command -v "$c" >/dev/null 2>&1 || missing=1
  done
  [ -f /usr/include/wasm32-wasi/stdio.h ] || [ -f /usr/share/wasi-sysroot/include/stdio.h ] || missing=1
  [ -n "$(clang_rt)" ] || missing=1
  if [ $missing = 1 ]; then
    log "installing clang, lld, wasi-libc, libclang-rt-14-dev-wasm32, llvm and python3.11 from Debian"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      clang lld wasi-libc libclang-rt-14-dev-wasm32 llvm python3.11 >/dev/null
  fi
}

# ensure_source leaves Debian's orig tarball of CPython in $CACHE_ROOT/src.
ensure_source() {
  TARBALL="$CACHE_ROOT/src/python${PYVER}_${CPYTHON_VERSION}.orig.tar.gz"
  [ -f "$TARBALL" ] && return 0
  mkdir -p "$CACHE_ROOT/src"
  if ! apt-get source --print-uris python$PYVER >/dev/null 2>&1 ||
     [ -z "$(apt-get source --print-uris python$PYVER 2>/dev/null | grep orig.tar)" ]; then
    # A deb-src twin of the machine's own Debian entry (TOOLCHAINS.md).
    log "adding a deb-src entry for Debian's source packages"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
      $SUDO tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
    $SUDO apt-get update -qq
  fi
  local tmp
  tmp=$(mktemp -d "$CACHE_ROOT/src/.dl.XXXXXX")
  log "downloading the python$PYVER source package"
  # Only the upstream tarball is used. apt may fail on the Debian parts (a
  # security update's .dsc missing from a mirror) after fetching it; apt
  # checks the hash of what it fetched.
  (cd "$tmp" && apt-get source --download-only -qq python$PYVER >"$tmp.log" 2>&1) || true
  [ -f "$tmp/$(basename "$TARBALL")" ] ||
    die "apt-get source python$PYVER did not give $(basename "$TARBALL") (apt said: $(tail -3 "$tmp.log")); Debian's CPython version changed: update CPYTHON_VERSION in $0"
  mv "$tmp/$(basename "$TARBALL")" "$TARBALL"
  rm -rf "$tmp" "$tmp.log"
}

# build_cpython configures and builds CPython for wasm32-wasi (the verified
# recipe of TOOLCHAINS.md). Its own text is part of the cache key of its output.
build_cpython() {
  local dir=$1
  tar xzf "$TARBALL" -C "$dir"
  mkdir -p "$dir/Python-$CPYTHON_VERSION/builddir/wasi"
  cd "$dir/Python-$CPYTHON_VERSION/builddir/wasi"
  export CC="clang --target=wasm32-wasi" CPP="clang-cpp-14 --target=wasm32-wasi" CXX="clang++ --target=wasm32-wasi"
  export LDSHARED=wasm-ld AR=llvm-ar-14 RANLIB=llvm-ranlib-14 PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=
  export CFLAGS="-D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS -O2"
  export LDFLAGS="-lwasi-emulated-signal -lwasi-emulated-getpid -lwasi-emulated-process-clocks"
  ac_cv_func_clock=yes CONFIG_SITE=../../Tools/wasm/config.site-wasm32-wasi ../../configure -C \
    --host=wasm32-unknown-wasi --build=x86_64-pc-linux-gnu --with-build-python="$(command -v python3.11)" \
    --disable-ipv6 --disable-test-modules >configure.log 2>&1 || { tail -30 configure.log; return 1; }
  make -j"$JOBS" >make.log 2>&1 || { tail -40 make.log; return 1; }
}

ensure_cpython() {
  local recipe
  recipe=$(declare -f build_cpython | sha256sum | cut -c1-12)
  CPYTHON_DIR="$CACHE_ROOT/cpython-$CPYTHON_VERSION-$recipe"
  BUILD="$CPYTHON_DIR/Python-$CPYTHON_VERSION/builddir/wasi"
  [ -f "$CPYTHON_DIR/.done" ] && return 0
  rm -rf "$CPYTHON_DIR.tmp"
  mkdir -p "$CPYTHON_DIR.tmp"
  log "building CPython $CPYTHON_VERSION for wasm32-wasi (a few minutes; log in $CPYTHON_DIR.tmp/Python-$CPYTHON_VERSION/builddir/wasi/make.log)"
  (build_cpython "$CPYTHON_DIR.tmp") || die "the CPython build failed"
  # The build tree records its absolute path (Makefile, sysconfig); build in
  # place under a temporary name would break nothing we use afterwards.
  rm -rf "$CPYTHON_DIR"
  mv "$CPYTHON_DIR.tmp" "$CPYTHON_DIR"
  touch "$CPYTHON_DIR/.done"
}

link_runtime() {
  local out=$1 src="$CPYTHON_DIR/Python-$CPYTHON_VERSION"
  log "linking the runtime with the shim"
  # The stack as CPython's own WASI build (configure's LDFLAGS_NODIST): the
  # default 64 KiB is too small for the interpreter; first, so an overflow
  # traps instead of overwriting data. Unlike that build, no 10 MiB initial
  # memory: the heap grows as needed, and a started instance takes ~6 MiB.
  clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Werror \
    -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS \
    -I"$src/Include" -I"$src/Include/internal" -I"$BUILD" \
    "$SRC_DIR"/*.c \
    "$BUILD/libpython$PYVER.a" "$BUILD/Modules/_decimal/libmpdec/libmpdec.a" "$BUILD/Modules/expat/libexpat.a" \
    -lwasi-emulated-signal -lwasi-emulated-getpid -lwasi-emulated-process-clocks -lm \
    -Wl,-z,stack-size=524288 -Wl,--stack-first -Wl,--strip-debug \
    -o "$out/squall-python.wasm"
}

# Standard library modules a Squall module cannot use (no processes, network
# clients and servers, GUI, or C extensions the WASI build lacks: zlib, bz2,
# lzma, ssl, sqlite3, ctypes) or does not need at run time (tests, debuggers,
# build and packaging tools, documentation). Everything else imports (checked
# by importing every module of the subset in the runtime).
STDLIB_DROP=(
  test idlelib tkinter turtledemo turtle.py ensurepip venv lib2to3 distutils
  pydoc_data pydoc.py cgitb.py site-packages __phello__ ctypes sqlite3 curses
  dbm msilib multiprocessing concurrent asyncio xmlrpc wsgiref http/server.py
  urllib/request.py ssl.py gzip.py bz2.py lzma.py smtplib.py smtpd.py
  imaplib.py poplib.py nntplib.py ftplib.py telnetlib.py socketserver.py
  mailbox.py webbrowser.py subprocess.py pty.py tty.py
  "config-$PYVER-wasm32-wasi" unittest doctest.py pdb.py bdb.py cProfile.py
  profile.py tabnanny.py trace.py
)

stage_stdlib() {
  local out=$1 src="$CPYTHON_DIR/Python-$CPYTHON_VERSION"
  local lib="$out/lib/python$PYVER"
  log "staging the standard library subset"
  mkdir -p "$lib"
  cp -r "$src/Lib/." "$lib/"
  for d in "${STDLIB_DROP[@]}"; do rm -rf "${lib:?}/$d"; done
  find "$lib" -name __pycache__ -prune -exec rm -rf {} +
  find "$lib" -type d \( -name tests -o -name test -o -name idle_test \) -prune -exec rm -rf {} +
  find "$lib" -type f ! -name '*.py' -delete
  # The WASI build's sysconfig data lives in lib-dynload (sys.path has it).
  mkdir -p "$lib/lib-dynload"
  cp "$BUILD"/build/lib.wasi-wasm32-$PYVER/_sysconfigdata_*.py "$lib/lib-dynload/"
  # Sourceless .pyc next to where the .py was: no source to read or stat at
  # import, half the size; tracebacks still name file and line.
  python3.11 - "$lib" <<'PY'
import compileall, os, py_compile, sys
lib = sys.argv[1]
ok = compileall.compile_dir(lib, ddir="/squall/lib/python3.11", quiet=2, legacy=True, optimize=0,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
if not ok:
    sys.exit("compileall failed")
for root, dirs, files in os.walk(lib):
    for f in files:
        if f.endswith(".py"):
            os.remove(os.path.join(root, f))
PY
  find "$lib" -type d -empty -delete
}

main() {
  mkdir -p "$CACHE_ROOT"
  # One build at a time per machine (they share the CPython build).
  exec 9>"$CACHE_ROOT/.lock"
  if ! flock -n 9; then
    log "another build of the runtime is running; waiting for it"
    flock 9
  fi
  if [ -f "$OUT/runtime.json" ]; then
    log "up to date: $OUT"
    exit 0
  fi
  ensure_tools
  ensure_source
  ensure_cpython
  OUT_TMP=$(mktemp -d "$CACHE_ROOT/.out.XXXXXX")
  trap 'rm -rf "$OUT_TMP" "$SRC_DIR"' EXIT
  link_runtime "$OUT_TMP"
  stage_stdlib "$OUT_TMP"
  printf '{"cpython": "%s", "key": "%s"}\n' "$CPYTHON_VERSION" "$KEY" >"$OUT_TMP/runtime.json"
  chmod -R a+rX "$OUT_TMP"
  rm -rf "$OUT"
  mv "$OUT_TMP" "$OUT"
  log "done: $OUT ($(du -sh "$OUT/squall-python.wasm" | cut -f1) runtime, $(du -sh "$OUT/lib" | cut -f1) stdlib)"
}

main "$@"
