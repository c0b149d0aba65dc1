package apibench_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/internal/apibench"
)

func TestSummarize(t *testing.T) {
	lat := make([]time.Duration, 0, 100)
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	r := apibench.Summarize(lat, 2*time.Second)
	if r.Ops != 100 || r.P50 != 50*time.Millisecond || r.P99 != 99*time.Millisecond || r.Max != 100*time.Millisecond || r.OpsPerSec() != 50 {
		t.Errorf("got %+v", r)
	}
	if r := apibench.Summarize([]time.Duration{7}, time.Second); r.P50 != 7 || r.P99 != 7 {
		t.Errorf("one sample: %+v", r)
	}
	if r := apibench.Summarize(nil, 0); r.Ops != 0 || r.OpsPerSec() != 0 {
		t.Errorf("no samples: %+v", r)
	}
}

func TestRunStopsOnFirstError(t *testing.T) {
	boom := errors.New("boom")
	res, err := apibench.Run(context.Background(), 4, 1000, func(_ context.Context, _, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "operation 10") || res.Ops >= 1000 {
		t.Errorf("got %v, %v", res, err)
	}
}

func TestStartRedisWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := apibench.StartRedis(context.Background(), t.TempDir())
	if !errors.Is(err, apibench.ErrNoRedis) || !strings.Contains(err.Error(), "run scripts/install-redis.sh") {
		t.Errorf("got %v", err)
	}
}

func TestRedisRoundTripAndStop(t *testing.T) {
	ctx := context.Background()
	srv, err := apibench.StartRedis(ctx, t.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
	if err != nil {
		t.Fatal(err)
	}
	c, err := apibench.DialRedis(ctx, srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get([]byte("k")); ok || err != nil {
		t.Errorf("GET of an absent key: %v %v", ok, err)
	}
	val := []byte("a value\r\nwith CRLF and \x00 bytes")
	if err := c.Set([]byte("k"), val); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.Get([]byte("k")); !ok || err != nil || string(got) != string(val) {
		t.Errorf("GET = %q %v %v", got, ok, err)
	}
	c.Close()
	if cpu, err := srv.CPUTime(); err != nil || cpu < 0 {
		t.Errorf("CPUTime = %v, %v", cpu, err)
	}
	if cpu, err := apibench.ProcessCPUTime(); err != nil || cpu <= 0 {
		t.Errorf("ProcessCPUTime = %v, %v", cpu, err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := apibench.DialRedis(ctx, srv.Addr); err == nil {
		t.Error("the server still accepts connections after Stop")
	}
}
