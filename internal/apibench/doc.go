// Package apibench measures Squall's public API from a concurrent Go
// client and compares it with a Redis server on the same machine.
//
// The benchmarks (in the package's tests) start a real node
// (internal/node) on loopback with the wordcount example deployed, and
// real redis-server processes (Debian's; scripts/install-redis.sh installs
// it): one without persistence (--save "" --appendonly no) and one that
// fsyncs every write (--appendonly yes --appendfsync always), the fair peer
// for an append acknowledged once it is durable (APPEND_ACK).
//
// Run them with
//
//	scripts/install-redis.sh
//	go test ./internal/apibench -run '^$' -bench . -benchtime 5s
//
// Every benchmark uses 32 concurrent clients and reports ops/s, p50_us and
// p99_us (per-operation latency) and cpu_us/op (CPU time of client and
// server together, the measure least disturbed by a shared machine).
// Without redis-server they fail rather than skip: a Squall number without
// its peer is not the comparison they exist for.
//
// The non-test code is the harness: [StartRedis] runs and stops a
// redis-server, [RedisConn] is a minimal client on package resp (PING,
// SET, GET, one request at a time, no pipelining), and [Run] drives
// concurrent workers and summarizes per-operation latencies ([Result]).
package apibench
