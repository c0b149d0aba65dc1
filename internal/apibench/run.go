package apibench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one operation of worker w; i numbers the operations of a run from 0
// across all workers.
type Op func(ctx context.Context, w, i int) error

// Result summarizes a [Run].
type Result struct {
	Ops      int           // operations completed
	Elapsed  time.Duration // wall time of the run
	P50, P99 time.Duration // per-operation latency percentiles
	Max      time.Duration
}

// OpsPerSec is the run's throughput.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("%d ops in %v: %.0f ops/s, p50 %v, p99 %v, max %v", r.Ops, r.Elapsed.Round(time.Millisecond),
		r.OpsPerSec(), r.P50, r.P99, r.Max)
}

// Run runs n operations on workers concurrent goroutines (each takes the
// next operation number until n are taken), timing each operation. The
// first error stops the run (the workers finish the operation they are
// in) and is returned with the operation that failed; every goroutine has
// exited when Run returns.
func Run(ctx context.Context, workers, n int, op Op) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers = max(1, min(workers, n))
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		lat[w] = make([]time.Duration, 0, n/workers+1)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(ctx, w, i); err != nil {
					cancel(fmt.Errorf("operation %d (worker %d): %w", i, w, err))
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	res := Summarize(all, elapsed)
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// Summarize sorts the per-operation latencies (in place) and returns their
// count, percentiles and maximum with elapsed as the run's wall time.
func Summarize(lat []time.Duration, elapsed time.Duration) Result {
	slices.Sort(lat)
	r := Result{Ops: len(lat), Elapsed: elapsed}
	if len(lat) > 0 {
		r.P50, r.P99, r.Max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	}
	return r
}

// percentile returns the nearest-rank percentile p (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	k := int(float64(len(sorted))*p+0.999999999) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}
