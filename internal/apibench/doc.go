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
// The non-test code is the harness: [StartRedis] runs and stops a
// redis-server, [RedisConn] is a minimal RESP client (PING, SET, GET, one
// request at a time, no pipelining), and [Run] drives concurrent workers
// and summarizes per-operation latencies ([Result]).
package apibench
