#!/usr/bin/env bash
# Builds (or finds up to date) the CPython runtime that Python modules are
# built on, in ${XDG_CACHE_HOME:-$HOME/.cache}/squall/python/. The recipe and
# the C shim live in internal/build/pyruntime/, which the squall binary embeds
# to know which runtime it needs; see build.sh there. Idempotent.
exec "$(dirname "$0")/../internal/build/pyruntime/build.sh" "$@"
