package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// Benchmarks of the engine with native stage functions. The wasm variants
// plug their ProcessorFactory into the same helpers (benchWordcount,
// benchAckLatency) once package host and the Go SDK can build the
// wordcount module: the stages must behave as wordcountNative's.

// nativeWordcount is the native ProcessorFactory of the wordcount
// benchmarks: the baseline for wasm modules.
func nativeWordcount(b *testing.B, def *abi.ModuleDef) ProcessorFactory {
	f, err := wordcountNative(def).Factory()
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkWordcountNative measures events (sentences of 8 words, each word
// hopping to the partition that owns it) per second through the engine on
// 4 partitions, from a depot filled before the engine starts to the last
// progress commit.
func BenchmarkWordcountNative(b *testing.B) {
	benchWordcount(b, nativeWordcount)
}

func benchWordcount(b *testing.B, factory func(*testing.B, *abi.ModuleDef) ProcessorFactory) {
	const tasks, words = 4, 8
	dir := b.TempDir()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	def := wordcountDef("wc")
	// Fill the depot directly, in bulk, before the engine runs.
	dep, err := db.Depot("wc", "sentences", storage.DepotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([][]storage.Record, tasks)
	flush := func(p int) {
		if len(recs[p]) > 0 {
			if _, err := dep.Append(context.Background(), uint32(p), recs[p]...); err != nil {
				b.Fatal(err)
			}
			recs[p] = recs[p][:0]
		}
	}
	for i := range b.N {
		ws := make([]string, words)
		for j := range ws {
			ws[j] = fmt.Sprintf("word%d", r.IntN(1000))
		}
		v, _ := abi.Encode(abi.String(strings.Join(ws, " ")))
		p := i % tasks
		recs[p] = append(recs[p], storage.Record{Value: v})
		if len(recs[p]) == 1000 {
			flush(p)
		}
	}
	for p := range tasks {
		flush(p)
	}

	e, err := Open(Config{DB: db, Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := e.Deploy(context.Background(), ModuleSpec{Def: def, Tasks: tasks, NewProcessor: factory(b, def)}); err != nil {
		b.Fatal(err)
	}
	env := &testEnv{t: b, db: db, e: e}
	env.waitIdleFor("wc", 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N*words)/elapsed.Seconds(), "words/s")
}

// BenchmarkAckLatency measures the latency of an ACK append to the
// wordcount module (durable, split, every word hopped and counted, all
// committed and visible) at a steady rate of 200 appends per second, and
// reports its median and 99th percentile.
func BenchmarkAckLatency(b *testing.B) {
	benchAckLatency(b, nativeWordcount)
}

func benchAckLatency(b *testing.B, factory func(*testing.B, *abi.ModuleDef) ProcessorFactory) {
	const tasks, rate = 4, 200
	dir := b.TempDir()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, err := Open(Config{DB: db, Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	def := wordcountDef("wc")
	if err := e.Deploy(context.Background(), ModuleSpec{Def: def, Tasks: tasks, NewProcessor: factory(b, def)}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Go(func() {
			s := fmt.Sprintf("the quick brown fox %d jumps over %d", i%100, i%37)
			t0 := time.Now()
			if _, err := e.AppendToDepot(context.Background(), "wc", "sentences", abi.String(s), AckAck); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// waitIdleFor is waitIdle with a deadline, polling gently.
func (env *testEnv) waitIdleFor(module string, d time.Duration) {
	env.t.Helper()
	deadline := time.Now().Add(d)
	for {
		lag, err := env.e.Lag(module)
		if err != nil {
			env.t.Fatal(err)
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			env.t.Fatalf("module %s still has lag %d after %s", module, lag, d)
		}
		time.Sleep(time.Millisecond)
	}
}
