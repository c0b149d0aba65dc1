package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Latency summarizes a run's per-operation latencies.
type Latency struct {
	Count int
	P50   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Percentile returns the nearest-rank percentile p (0 < p <= 1) of
// sorted (ascending): the smallest value with at least p of the values at
// or below it. An empty slice gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Rank ceil(p*n), 1-based; the epsilon keeps 0.99*100 = 99 from
	// becoming 100 through floating-point error.
	k := int(float64(len(sorted))*p+0.999999999) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}

// Summarize sorts lat in place and returns its percentiles.
func Summarize(lat []time.Duration) Latency {
	slices.Sort(lat)
	l := Latency{Count: len(lat)}
	if len(lat) > 0 {
		l.P50, l.P99, l.Max = Percentile(lat, 0.50), Percentile(lat, 0.99), lat[len(lat)-1]
	}
	return l
}

// Op is one operation of a load: worker w's i-th operation.
type Op func(ctx context.Context, w, i int) error

// Sample is the outcome of a load: how many operations completed in how
// long, and their latencies.
type Sample struct {
	Ops     int
	Elapsed time.Duration
	Lat     Latency
}

// PerSec is the sample's throughput.
func (s Sample) PerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// ClosedLoop runs op on workers goroutines, each starting its next
// operation when the last one returns, until d has passed; it times each
// operation. The first error stops the load and is returned; every
// goroutine has exited when ClosedLoop returns.
func ClosedLoop(ctx context.Context, workers int, d time.Duration, op Op) (Sample, error) {
	if workers < 1 {
		return Sample{}, fmt.Errorf("bench: %d workers: need at least 1", workers)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(ctx, w, i); err != nil {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("worker %d, operation %d: %w", w, i, err))
					}
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	s := Sample{Ops: len(all), Elapsed: time.Since(start), Lat: Summarize(all)}
	return s, context.Cause(ctx)
}

// OpenLoop starts op at a steady rate per second for d, each on its own
// goroutine whether or not the earlier ones have returned, and times each
// from when it was due, so a slow operation cannot hide the wait of the
// ones behind it (no coordinated omission). At most maxInFlight run at
// once; an operation that finds them all busy waits, and its wait counts
// in its latency. The first error stops the load and is returned; every
// goroutine has exited when OpenLoop returns.
func OpenLoop(ctx context.Context, rate float64, d time.Duration, maxInFlight int, op Op) (Sample, error) {
	if rate <= 0 || maxInFlight < 1 {
		return Sample{}, fmt.Errorf("bench: open loop at %v/s with %d in flight: need a positive rate and at least 1", rate, maxInFlight)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := int(rate * d.Seconds())
	lat := make([]time.Duration, n)
	done := make([]bool, n)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			break loop
		case <-timer.C:
		}
		select {
		case <-ctx.Done():
			break loop
		case sem <- struct{}{}:
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := op(ctx, 0, i); err != nil {
				if ctx.Err() == nil {
					cancel(fmt.Errorf("operation %d: %w", i, err))
				}
				return
			}
			lat[i], done[i] = time.Since(due), true
		})
	}
	wg.Wait()
	var got []time.Duration
	for i := range n {
		if done[i] {
			got = append(got, lat[i])
		}
	}
	s := Sample{Ops: len(got), Elapsed: time.Since(start), Lat: Summarize(got)}
	return s, context.Cause(ctx)
}
