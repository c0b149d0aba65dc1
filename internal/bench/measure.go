package bench

import (
	"context"
	"time"
)

// What the scenarios share to time a system and make its row.

// measured runs fn and returns the resource use of procs during it: CPU
// time spent, and the sum of their peak RSS at the end.
func measured(procs []*Proc, fn func() error) ([]ProcUsage, error) {
	before := make([]Usage, len(procs))
	for i, p := range procs {
		u, err := p.Usage()
		if err != nil {
			return nil, err
		}
		before[i] = u
	}
	if err := fn(); err != nil {
		return nil, err
	}
	out := make([]ProcUsage, len(procs))
	for i, p := range procs {
		u, err := p.Usage()
		if err != nil {
			return nil, err
		}
		out[i] = ProcUsage{Name: p.Name, CPUSeconds: (u.CPU - before[i].CPU).Seconds(), PeakRSSBytes: u.PeakRSS}
	}
	return out, nil
}

// setUsage fills a row's resource columns from its processes'.
func (r *Row) setUsage(us []ProcUsage) {
	r.Procs = us
	r.CPUSeconds, r.PeakRSSBytes = 0, 0
	for _, u := range us {
		r.CPUSeconds += u.CPUSeconds
		r.PeakRSSBytes += u.PeakRSSBytes
	}
}

// timed is measured that also returns how long fn took.
func timed(procs []*Proc, fn func() error) (time.Duration, []ProcUsage, error) {
	var elapsed time.Duration
	us, err := measured(procs, func() error {
		t0 := time.Now()
		err := fn()
		elapsed = time.Since(t0)
		return err
	})
	return elapsed, us, err
}

// closedLoopRow runs op on workers goroutines for d (ClosedLoop), measuring
// procs, and returns the row of system.
func closedLoopRow(ctx context.Context, procs []*Proc, system string, baseline bool, workers int, d time.Duration, op Op) (*Row, error) {
	var smp Sample
	us, err := measured(procs, func() error {
		var err error
		smp, err = ClosedLoop(ctx, workers, d, op)
		return err
	})
	if err != nil {
		return nil, err
	}
	row := sampleRow(system, baseline, smp)
	row.setUsage(us)
	return row, nil
}

// throughputRow is the row of ops operations done in elapsed, with one
// more rate: extra, perOp of them per operation.
func throughputRow(system string, baseline bool, ops int, elapsed time.Duration, extra string, perOp int) *Row {
	return &Row{System: system, Baseline: baseline, Ops: ops, Seconds: elapsed.Seconds(), Throughput: float64(ops) / elapsed.Seconds(),
		Extra: []Metric{{Name: extra, Value: float64(ops*perOp) / elapsed.Seconds()}}}
}

func sampleRow(system string, baseline bool, smp Sample) *Row {
	return &Row{System: system, Baseline: baseline, Ops: smp.Ops, Seconds: smp.Elapsed.Seconds(), Throughput: smp.PerSec(),
		P50Ms: ms(smp.Lat.P50), P99Ms: ms(smp.Lat.P99), LatencyOps: smp.Lat.Count}
}

// setLatency sets the row's latency columns from a latency run.
func (r *Row) setLatency(s Sample) {
	r.P50Ms, r.P99Ms, r.LatencyOps = ms(s.Lat.P50), ms(s.Lat.P99), s.Lat.Count
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
