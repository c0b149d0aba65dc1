package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// Benchmarks of the engine with native stage functions, on the word count
// module of the Go SDK's documentation (guest-sdks/go/internal/examplemod):
// the native stages below do what that module's Go stages do, so the wasm
// variant measures the same work. The wasm variants plug their
// ProcessorFactory (and the module's own definition) into the same helpers,
// benchWordcount and benchAckLatency.

// exampleDef is the definition the SDK's example module declares.
func exampleDef() *abi.ModuleDef {
	return &abi.ModuleDef{
		Name:   "wordcount",
		Depots: []abi.DepotDef{{Name: "sentences", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("user"))}}},
		PStates: []abi.PStateDef{
			{Name: "$$counts", Schema: abi.Schema{Type: abi.SchemaMap, Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}},
			{Name: "$$total", Schema: abi.Schema{Type: abi.SchemaInt}, Global: true},
			{Name: "$$sentences", Schema: abi.Schema{Type: abi.SchemaMap, Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}},
		},
		Topologies: []abi.TopologyDef{{Name: "wordcount", Kind: abi.TopologyStream,
			Sources: []abi.SourceDef{{Depot: "sentences", Stage: "split"}},
			Stages:  []string{"split", "count", "sum"}}},
	}
}

// exampleNative is the SDK example's logic as native stages.
func exampleNative(def *abi.ModuleDef) *NativeModule {
	return NewNativeModule(def).
		Stage("wordcount", "split", func(c *StageCtx, rec abi.Value) error {
			tv, _ := rec.Get(abi.String("text"))
			text, _ := tv.AsString()
			if text == "" {
				uv, _ := rec.Get(abi.String("user"))
				return Poison(fmt.Errorf("sentence of %s has no text", uv))
			}
			words := strings.Fields(strings.ToLower(text))
			for _, w := range words {
				if err := c.HopHash("count", abi.String(w), abi.String(w)); err != nil {
					return err
				}
			}
			if err := c.Hop("sum", abi.PartitionGlobal, abi.Int(int64(len(words)))); err != nil {
				return err
			}
			// The depot is partitioned by user: the user's key is local.
			user, _ := rec.Get(abi.String("user"))
			if err := c.Transform("$$sentences", abi.P().Key(user).Incr(1)); err != nil {
				return err
			}
			n, _, err := c.SelectOne("$$sentences", abi.P().Key(user)) // sees the Incr
			if err != nil {
				return err
			}
			return c.Emit(abi.Map(abi.MapEntry{Key: abi.String("sentences"), Val: n}, abi.MapEntry{Key: abi.String("words"), Val: abi.Int(int64(len(words)))}))
		}).
		Stage("wordcount", "count", func(c *StageCtx, w abi.Value) error {
			return c.Transform("$$counts", abi.P().Key(w).NilToVal(abi.Int(0)).Incr(1))
		}).
		Stage("wordcount", "sum", func(c *StageCtx, n abi.Value) error {
			k, _ := n.AsInt()
			return c.Transform("$$total", abi.P().Incr(k))
		})
}

// nativeExample is the native ProcessorFactory of the word count
// benchmarks: the baseline for wasm modules.
func nativeExample(b *testing.B) (*abi.ModuleDef, ProcessorFactory) {
	def := exampleDef()
	f, err := exampleNative(def).Factory()
	if err != nil {
		b.Fatal(err)
	}
	return def, f
}

// sentenceRecord is a record of the example's sentences depot.
func sentenceRecord(user, text string) abi.Value {
	return abi.Map(abi.MapEntry{Key: abi.String("text"), Val: abi.String(text)}, abi.MapEntry{Key: abi.String("user"), Val: abi.String(user)})
}

// BenchmarkWordcountNative measures events (sentences of 8 words; each
// sentence is counted for its user, with a read of its own write, each
// word hops to the partition that owns it and is counted there, and each
// sentence hops to partition 0 to be added to a global total) per second
// through the engine on 4 partitions, from a depot filled before the
// engine starts to the last progress commit.
func BenchmarkWordcountNative(b *testing.B) {
	benchWordcount(b, nativeExample)
}

func benchWordcount(b *testing.B, module func(*testing.B) (*abi.ModuleDef, ProcessorFactory)) {
	const tasks, words = 4, 8
	dir := b.TempDir()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	def, factory := module(b)
	stats := &batchStats{}
	factory = stats.wrap(factory)
	// Fill the depot directly, in bulk, before the engine runs.
	dep, err := db.Depot(def.Name, "sentences", storage.DepotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([][]storage.Record, tasks)
	flush := func(p uint32) {
		if len(recs[p]) > 0 {
			if _, err := dep.Append(context.Background(), p, recs[p]...); err != nil {
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
		user := abi.String(fmt.Sprintf("user%d", i%100))
		v, _ := abi.Encode(sentenceRecord(fmt.Sprintf("user%d", i%100), strings.Join(ws, " ")))
		k, _ := abi.Encode(user)
		p := abi.KeyPartition(k, tasks)
		recs[p] = append(recs[p], storage.Record{Key: k, Value: v})
		if len(recs[p]) == 1000 {
			flush(p)
		}
	}
	for p := range uint32(tasks) {
		flush(p)
	}

	e, err := Open(Config{DB: db, Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPUTime()
	if err := e.Deploy(context.Background(), ModuleSpec{Def: def, Tasks: tasks, NewProcessor: factory}); err != nil {
		b.Fatal(err)
	}
	env := &testEnv{t: b, db: db, e: e}
	env.waitIdleFor(def.Name, 10*time.Minute)
	elapsed, cpu := time.Since(start), processCPUTime()-cpu0
	b.StopTimer()
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N*words)/elapsed.Seconds(), "words/s")
	// CPU time per event is less sensitive than events/s to other
	// processes sharing the machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
	if n := stats.calls.Load(); n > 0 {
		b.ReportMetric(float64(stats.items.Load())/float64(n), "items/call")
	}
}

// batchStats counts the Process calls of a module's processors and the
// items they were given, to show how full the batches are.
type batchStats struct{ calls, items atomic.Int64 }

func (s *batchStats) wrap(f ProcessorFactory) ProcessorFactory {
	return func(ctx context.Context, partition uint32) (Processor, error) {
		p, err := f(ctx, partition)
		if err != nil {
			return nil, err
		}
		return &statsProc{Processor: p, s: s}, nil
	}
}

// statsProc is a Processor counted by a batchStats. It keeps the
// EffectLogger answer of the processor it wraps.
type statsProc struct {
	Processor
	s *batchStats
}

func (p *statsProc) Process(ctx context.Context, batch *abi.BatchFrame, h Handler) error {
	p.s.calls.Add(1)
	p.s.items.Add(int64(len(batch.Items)))
	return p.Processor.Process(ctx, batch, h)
}

func (p *statsProc) LogsEffects() bool {
	el, ok := p.Processor.(EffectLogger)
	return ok && el.LogsEffects()
}

// BenchmarkAckLatency measures the latency of an ACK append to the word
// count module (durable, split, every word hopped and counted, the total
// updated, all committed and visible) at a steady rate of 200 appends per
// second, and reports its median and 99th percentile.
func BenchmarkAckLatency(b *testing.B) {
	benchAckLatency(b, nativeExample)
}

func benchAckLatency(b *testing.B, module func(*testing.B) (*abi.ModuleDef, ProcessorFactory)) {
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
	def, factory := module(b)
	if err := e.Deploy(context.Background(), ModuleSpec{Def: def, Tasks: tasks, NewProcessor: factory}); err != nil {
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
			if _, err := e.AppendToDepot(context.Background(), def.Name, "sentences", sentenceRecord(fmt.Sprintf("user%d", i%50), s), AckAck); err != nil {
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
