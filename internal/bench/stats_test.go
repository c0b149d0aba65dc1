package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func durs(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1) // 1..100
	}
	for _, c := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", durs(7), 0.99, 7},
		{"p50 of 100", hundred, 0.50, 50},
		{"p99 of 100", hundred, 0.99, 99}, // not 100: 0.99*100 must not round up
		{"p100 of 100", hundred, 1.0, 100},
		{"p1 of 100", hundred, 0.01, 1},
		{"p50 of 4", durs(10, 20, 30, 40), 0.50, 20},
		{"p51 of 4", durs(10, 20, 30, 40), 0.51, 30},
		{"p99 of 3", durs(1, 2, 3), 0.99, 3},
		{"tiny p", durs(5, 6), 0.0001, 5},
	} {
		if got := Percentile(c.in, c.p); got != c.want {
			t.Errorf("%s: Percentile(p=%v) = %d, want %d", c.name, c.p, got, c.want)
		}
	}
}

func TestSummarizeSorts(t *testing.T) {
	l := Summarize(durs(30, 10, 50, 20, 40))
	if l.Count != 5 || l.P50 != 30 || l.P99 != 50 || l.Max != 50 {
		t.Errorf("Summarize = %+v", l)
	}
	if z := Summarize(nil); z != (Latency{}) {
		t.Errorf("Summarize(nil) = %+v", z)
	}
}

func TestClosedLoop(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Int64, 4) // index 3 catches a bad worker number
	s, err := ClosedLoop(context.Background(), 3, 50*time.Millisecond, func(_ context.Context, w, _ int) error {
		calls.Add(1)
		seen[min(w, 3)].Add(1)
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(s.Ops) != calls.Load() || s.Ops == 0 || s.Lat.Count != s.Ops {
		t.Errorf("sample %+v after %d calls", s, calls.Load())
	}
	// Every operation ran on one of the 3 workers (a worker may start too
	// late to run any on a loaded machine, so none is required to).
	if seen[0].Load()+seen[1].Load()+seen[2].Load() != calls.Load() {
		t.Errorf("operations outside workers 0-2")
	}
	if s.Lat.P50 < time.Millisecond || s.PerSec() <= 0 {
		t.Errorf("implausible sample %+v", s)
	}
	if _, err := ClosedLoop(context.Background(), 0, time.Second, nil); err == nil {
		t.Error("0 workers accepted")
	}
}

func TestClosedLoopStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	start := time.Now()
	s, err := ClosedLoop(context.Background(), 4, time.Minute, func(_ context.Context, w, i int) error {
		if w == 2 && i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Error("the load went on after the error")
	}
	if s.Ops < 3 {
		t.Errorf("ops = %d, want the ones before the error counted", s.Ops)
	}
}

func TestOpenLoop(t *testing.T) {
	var calls atomic.Int64
	s, err := OpenLoop(context.Background(), 200, 100*time.Millisecond, 8, func(context.Context, int, int) error {
		calls.Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops != 20 || calls.Load() != 20 {
		t.Errorf("ops = %d, calls = %d, want 20 (200/s for 100ms)", s.Ops, calls.Load())
	}
	if s.Lat.P50 < 2*time.Millisecond {
		t.Errorf("p50 %v shorter than the operation", s.Lat.P50)
	}
	boom := errors.New("boom")
	if _, err := OpenLoop(context.Background(), 1000, time.Second, 4, func(_ context.Context, _, i int) error {
		if i == 5 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	if _, err := OpenLoop(context.Background(), 0, time.Second, 1, nil); err == nil {
		t.Error("rate 0 accepted")
	}
}

// A slow operation delays the ones behind it (one in flight at a time):
// their wait counts in their latency, so the p99 shows it.
func TestOpenLoopCountsWaitingTime(t *testing.T) {
	s, err := OpenLoop(context.Background(), 100, 100*time.Millisecond, 1, func(_ context.Context, _, i int) error {
		if i == 0 {
			time.Sleep(80 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Lat.P99 < 80*time.Millisecond || s.Lat.P50 < 20*time.Millisecond {
		t.Errorf("latency %+v: the queued operations' wait is not counted", s.Lat)
	}
}

func TestOpenLoopCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	_, err := OpenLoop(ctx, 100, time.Hour, 4, func(context.Context, int, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
