package apibench_test

import (
	"context"
	"testing"
	"time"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apibench"
)

// TestAPIBenchSmoke runs every benchmark scenario for a few operations,
// to prove the harness works (it asserts nothing about timing). It needs
// redis-server (scripts/install-redis.sh).
func TestAPIBenchSmoke(t *testing.T) {
	const workers, ops = 4, 20
	s := startSquall(t)
	s.preload(t)
	w := newWorkload()
	nosync := startRedis(t, workers, redisNoSync...)
	nosync.preloadCounts(t)
	fsync := startRedis(t, workers, redisFsync...)
	for _, c := range []struct {
		name string
		op   apibench.Op
		diag func() string
	}{
		{"api-append/unary-append_ack", appendOp(s, w, squallv1.AckLevel_ACK_LEVEL_APPEND_ACK), s.diag},
		{"api-append/unary-ack", appendOp(s, w, squallv1.AckLevel_ACK_LEVEL_ACK), s.diag},
		{"api-append/batch-100", batchOp(s, w, 100), s.diag},
		{"redis-set/nosync", redisSetOp(nosync, w), nil},
		{"redis-set/fsync-always", redisSetOp(fsync, w), nil},
		{"api-selectone", selectOp(s), s.diag},
		{"redis-get", redisGetOp(nosync), nil},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := apibench.Run(ctx, workers, ops, bounded(10*time.Second, c.op, c.diag))
		cancel()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if res.Ops != ops || res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
			t.Errorf("%s: implausible result %v", c.name, res)
		}
		t.Logf("%s: %v", c.name, res)
	}
	s.waitIdle(t)
	t.Logf("workload: %d distinct records of %d bytes on average as JSON", len(w.json), w.avgJSON)
}
