// Package bench is the engine of `squall bench`: it runs named scenarios
// against Squall and against the stack users would build instead, on the
// same machine and in one run, and writes a Markdown table, a JSON file and
// PNG charts.
//
// Every system runs as its own process, started and stopped by the
// harness ([Proc]): Squall as `squall server`, Redis as Debian's
// redis-server, NATS JetStream as `squall bench-peer nats` (the squall
// binary re-executed with nats-server embedded), and the "à la carte"
// pipeline's consumer as `squall bench-peer consumer`. So the CPU time
// (utime+stime from /proc/PID/stat) and the peak memory (VmHWM from
// /proc/PID/status) of each system are its own, not the load generator's.
//
// The scenarios:
//
//   - append: durable appends per second with p50/p99 latency, through
//     Squall's API (APPEND_ACK) vs raw Pebble Set+Sync (the physical limit
//     of this disk) vs JetStream acked publishes with file storage and
//     sync_interval always;
//   - wordcount: events per second and append-to-visible latency, Squall
//     with each guest language whose example builds here vs JetStream + a
//     native Go consumer + Redis;
//   - fanout: the social example's posts per second at 100 and 1,000
//     followers per author vs the same pipeline with Redis sets and lists;
//   - query: SelectOne vs Redis GET of the same counts.
//
// [Run] runs a selection of scenarios ([Config]) and returns a [Report];
// [Report.Write] renders it. The harness measures; nothing in it asserts a
// timing.
package bench
