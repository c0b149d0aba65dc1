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

// target is what a benchmark runs against.
type target struct {
	// diag describes the server, for the error of an operation that got
	// no reply (nil: nothing to add).
	diag func() string
	// peerCPU returns the CPU time of the server when it is another
	// process (nil: the server runs in this process).
	peerCPU func() (time.Duration, error)
	// settle, when not nil, waits until the server has finished the work
	// the operations caused (the topology's processing of appends); it
	// runs after the timed run, and its CPU time counts.
	settle func(testing.TB) time.Duration
}

func squallTarget(s *squall, settle bool) target {
	t := target{diag: s.diag}
	if settle {
		t.settle = s.waitIdle
	}
	return t
}

func redisTarget(p *redisPeer) target { return target{peerCPU: p.srv.CPUTime} }

// cpuTime is the CPU time of this process (the client, and the Squall
// node) plus the peer's.
func (t target) cpuTime(b *testing.B) time.Duration {
	self, err := apibench.ProcessCPUTime()
	if err != nil {
		b.Fatal(err)
	}
	if t.peerCPU != nil {
		peer, err := t.peerCPU()
		if err != nil {
			b.Fatal(err)
		}
		self += peer
	}
	return self
}

// bench runs b.N operations on clients workers and reports throughput
// (ops/s, and records/s when an operation carries several records), the
// p50 and p99 latency of one operation, and the CPU time per operation of
// client and server together (cpu_us/op: less sensitive than the others
// to a machine shared with other work), including the work the operations
// left for the server to finish (tgt.settle).
func bench(b *testing.B, records int, op apibench.Op, tgt target) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	op = bounded(opTimeout, op, tgt.diag)
	cpu0 := tgt.cpuTime(b)
	b.ResetTimer()
	res, err := apibench.Run(ctx, clients, b.N, op)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if tgt.settle != nil {
		if d := tgt.settle(b); d > time.Second {
			b.Logf("the server finished the work of %d operations %v after the last reply", res.Ops, d.Round(time.Millisecond))
		}
	}
	cpu := tgt.cpuTime(b) - cpu0
	b.ReportMetric(res.OpsPerSec(), "ops/s")
	if records > 1 {
		b.ReportMetric(res.OpsPerSec()*float64(records), "records/s")
	}
	b.ReportMetric(float64(res.P50.Nanoseconds())/1e3, "p50_us")
	b.ReportMetric(float64(res.P99.Nanoseconds())/1e3, "p99_us")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(res.Ops), "cpu_us/op")
	if records > 1 {
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(res.Ops*records), "cpu_us/record")
	}
}

// BenchmarkAPIAppend appends ~110-byte sentences to the wordcount module
// through the Connect API: unary with APPEND_ACK (durable in the depot) and
// with ACK (also processed by the topology), and batches of 100 with
// APPEND_ACK. The topology's backlog is drained between cases, which also
// checks that every record was processed.
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
		b.Run(c.name, func(b *testing.B) { bench(b, c.records, c.op, squallTarget(s, true)) })
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
		b.Run(c.name, func(b *testing.B) { bench(b, 1, redisSetOp(p, w), redisTarget(p)) })
	}
}

// BenchmarkAPISelectOne reads one word's count from $$wordCounts (10,000
// words, all present) through the Connect API.
func BenchmarkAPISelectOne(b *testing.B) {
	s := startSquall(b)
	s.preload(b)
	op := selectOp(s)
	b.ResetTimer()
	bench(b, 1, op, squallTarget(s, false))
}

// BenchmarkRedisGet GETs the same keys and values (a word and its count)
// from redis-server without persistence.
func BenchmarkRedisGet(b *testing.B) {
	p := startRedis(b, clients, redisNoSync...)
	p.preloadCounts(b)
	b.ResetTimer()
	bench(b, 1, redisGetOp(p), redisTarget(p))
}
