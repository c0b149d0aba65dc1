package apibench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apibench"
)

// clients is the number of concurrent clients of every benchmark.
const clients = 32

// opTimeout bounds one operation: an operation without a reply by then
// fails the benchmark (with the node's state) instead of hanging it.
const opTimeout = 30 * time.Second

// bounded gives each operation of op at most d; when one times out, the
// error says so and adds diag's description of the server (when diag is
// not nil).
func bounded(d time.Duration, op apibench.Op, diag func() string) apibench.Op {
	return func(ctx context.Context, w, i int) error {
		octx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		err := op(octx, w, i)
		if err != nil && ctx.Err() == nil && octx.Err() != nil {
			err = fmt.Errorf("no reply in %v: %w", d, err)
			if diag != nil {
				err = fmt.Errorf("%w; %s", err, diag())
			}
		}
		return err
	}
}

// bench runs b.N operations on clients workers and reports throughput
// (ops/s, and records/s when an operation carries several records) and
// the p50 and p99 latency of one operation.
func bench(b *testing.B, records int, op apibench.Op, diag func() string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	op = bounded(opTimeout, op, diag)
	b.ResetTimer()
	res, err := apibench.Run(ctx, clients, b.N, op)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.OpsPerSec(), "ops/s")
	if records > 1 {
		b.ReportMetric(res.OpsPerSec()*float64(records), "records/s")
	}
	if res.Untimed > 0 {
		b.ReportMetric(float64(res.Untimed), "lost-acks") // see ackWait
	}
	b.ReportMetric(float64(res.P50.Nanoseconds())/1e3, "p50_us")
	b.ReportMetric(float64(res.P99.Nanoseconds())/1e3, "p99_us")
}

// BenchmarkAPIAppend appends ~110-byte sentences to the wordcount module
// through the Connect API: unary with APPEND_ACK (durable in the depot) and
// with ACK (also processed by the topology), and batches of 100 with
// APPEND_ACK. The topology's backlog is drained between cases, which also
// checks that every record was processed. ACK appends the engine never
// acknowledges (a known bug, see ackWait) are reported as lost-acks and
// left out of the latencies.
func BenchmarkAPIAppend(b *testing.B) {
	s := startSquall(b)
	w := newWorkload()
	for _, c := range []struct {
		name    string
		records int
		op      apibench.Op
	}{
		{"unary-append_ack", 1, appendOp(s, w, squallv1.AckLevel_ACK_LEVEL_APPEND_ACK)},
		{"unary-ack", 1, appendOp(s, w, squallv1.AckLevel_ACK_LEVEL_ACK)},
		{"batch-100", 100, batchOp(s, w, 100)},
	} {
		b.Run(c.name, func(b *testing.B) { bench(b, c.records, c.op, s.diag) })
		if d := s.waitIdle(b); d > time.Second {
			b.Logf("after %s the topology caught up in %v", c.name, d.Round(time.Millisecond))
		}
	}
}

// BenchmarkRedisSet SETs the same records' JSON to redis-server, without
// persistence and with an fsync before every reply (appendfsync always,
// the durability of APPEND_ACK).
func BenchmarkRedisSet(b *testing.B) {
	w := newWorkload()
	for _, c := range []struct {
		name string
		args []string
	}{{"nosync", redisNoSync}, {"fsync-always", redisFsync}} {
		p := startRedis(b, clients, c.args...)
		b.Run(c.name, func(b *testing.B) { bench(b, 1, redisSetOp(p, w), nil) })
	}
}

// BenchmarkAPISelectOne reads one word's count from $$wordCounts (10,000
// words, all present) through the Connect API.
func BenchmarkAPISelectOne(b *testing.B) {
	s := startSquall(b)
	s.preload(b)
	op := selectOp(s)
	b.ResetTimer()
	bench(b, 1, op, s.diag)
}

// BenchmarkRedisGet GETs the same keys and values (a word and its count)
// from redis-server without persistence.
func BenchmarkRedisGet(b *testing.B) {
	p := startRedis(b, clients, redisNoSync...)
	p.preloadCounts(b)
	b.ResetTimer()
	bench(b, 1, redisGetOp(p), nil)
}
