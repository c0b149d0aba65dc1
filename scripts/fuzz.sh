#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time each ($1, e.g. 10s).
# Go can fuzz one target per invocation, so targets run one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
count=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz: ./$dir $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$dir"
    count=$((count + 1))
  done
done < <(git ls-files '*_test.go' | grep -v '^guest-sdks/' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: $count targets ran without finding a failure"
