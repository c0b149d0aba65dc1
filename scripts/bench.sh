#!/usr/bin/env bash
# Runs the benchmarks behind docs/benchmarks.md in one go, each next to its
# baseline, and writes the raw `go test -bench` output to bench.out.
#   BENCHTIME (default 2s)   per benchmark
#   SQUALL_BENCH_FULL=1      also the 10M-element sorted-range case (default on here)
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime="${BENCHTIME:-2s}"
export SQUALL_BENCH_FULL="${SQUALL_BENCH_FULL:-1}"
out=bench.out
{
  echo "# squall benchmarks $(date -u +%Y-%m-%dT%H:%MZ) $(git rev-parse --short HEAD)"
  echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  # Storage: durable appends vs raw Pebble, PState reads and writes vs raw Pebble, ranges by size.
  go test -run '^$' -count 1 -benchtime "$benchtime" \
    -bench 'DurableAppend|RawPebbleSyncAppend|SelectOnePoint|RawPebbleGetPoint|^BenchmarkIncr$|RawPebbleIncr|SortedRange100' ./storage
  # Engine end to end: wordcount in Go, Rust, Python and TypeScript wasm and native Go; social fanout;
  # ACK latency; module start (and memory), first compile cold and cached per language.
  go test -run '^$' -count 1 -benchtime "$benchtime" -bench 'Wordcount|SocialFanout|AckLatency|ModuleStart|ModuleCompile' ./internal/e2e
  # Microbatch and query topologies: the bank example in wasm, and the native microbatch baseline.
  go test -run '^$' -count 1 -benchtime "$benchtime" -bench 'Bank' ./internal/e2e
  go test -run '^$' -count 1 -benchtime "$benchtime" -bench 'MicrobatchTransfers' ./internal/engine
  # The API against redis-server.
  scripts/install-redis.sh >/dev/null
  go test -run '^$' -count 1 -benchtime "$benchtime" -bench . ./internal/apibench
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$out"
