#!/usr/bin/env bash
# Builds (or finds in the cache) Squall's QuickJS runtime for TypeScript
# modules and prints its path. The script and the C runtime live in
# internal/build/quickjs, which `squall build` embeds.
exec "$(dirname "$0")/../internal/build/quickjs/build-runtime.sh" "$@"
