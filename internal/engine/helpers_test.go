package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	if os.Getenv(mbCrashChildEnv) != "" {
		os.Exit(mbCrashChild())
	}
	goleak.VerifyTestMain(m)
}

// testEnv is an engine on a real store in a temporary directory.
type testEnv struct {
	t   testing.TB
	dir string
	db  *storage.DB
	e   *Engine
	cfg Config
}

// fastConfig retries quickly so failure tests run in milliseconds.
func fastConfig() Config {
	return Config{BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxAttempts: 4, Seed: 42}
}

func newEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	env := &testEnv{t: t, dir: t.TempDir(), cfg: cfg}
	env.open()
	t.Cleanup(env.close)
	return env
}

func (env *testEnv) open() {
	env.t.Helper()
	db, err := storage.Open(env.dir, storage.Options{})
	if err != nil {
		env.t.Fatal(err)
	}
	cfg := env.cfg
	cfg.DB = db
	if cfg.Logger == nil {
		cfg.Logger = testLogger(env.t)
	}
	e, err := Open(cfg)
	if err != nil {
		env.t.Fatal(err)
	}
	env.db, env.e = db, e
}

// close drains the engine and closes the store.
func (env *testEnv) close() {
	if env.e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := env.e.Close(ctx); err != nil {
		env.t.Errorf("engine close: %v", err)
	}
	if err := env.db.Close(); err != nil {
		env.t.Errorf("db close: %v", err)
	}
	env.e, env.db = nil, nil
}

func (env *testEnv) restart() {
	env.t.Helper()
	env.close()
	env.open()
}

func (env *testEnv) deploy(def *abi.ModuleDef, tasks uint32, f ProcessorFactory) {
	env.t.Helper()
	if err := env.e.Deploy(context.Background(), ModuleSpec{Def: def, Tasks: tasks, NewProcessor: f}); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) deployNative(nm *NativeModule, tasks uint32) {
	env.t.Helper()
	f, err := nm.Factory()
	if err != nil {
		env.t.Fatal(err)
	}
	if err := env.e.Deploy(context.Background(), ModuleSpec{Def: nm.Def, Tasks: tasks, NewProcessor: f, ABIMinor: abi.Minor}); err != nil {
		env.t.Fatal(err)
	}
}

func (env *testEnv) append(module, depot string, rec abi.Value, ack AckLevel) AppendResult {
	env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := env.e.AppendToDepot(ctx, module, depot, rec, ack)
	if err != nil {
		env.t.Fatalf("append %s to %s/%s: %v", rec, module, depot, err)
	}
	return res
}

// waitIdle waits until the module's lag is 0.
func (env *testEnv) waitIdle(module string) {
	env.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := env.e.Lag(module)
		if err != nil {
			env.t.Fatal(err)
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			env.t.Fatalf("module %s still has lag %d after 30s", module, lag)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitFor polls cond for up to 30 s.
func (env *testEnv) waitFor(cond func() bool) {
	env.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			env.t.Fatal("condition not met after 30s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// count reads counts[key] (0 when absent).
func (env *testEnv) count(module, pstate string, key abi.Value) int64 {
	env.t.Helper()
	vs, err := env.e.Select(context.Background(), module, pstate, abi.P().Key(key))
	if err != nil {
		env.t.Fatal(err)
	}
	if len(vs) != 1 {
		env.t.Fatalf("select %s: %d values", key, len(vs))
	}
	n, _ := vs[0].AsInt()
	return n
}

// deadLetters reads every dead letter of a module.
func (env *testEnv) deadLetters(module string, tasks uint32) []DeadLetter {
	env.t.Helper()
	d, err := env.db.LookupDepot(module, DeadLetterDepot)
	if err != nil {
		env.t.Fatal(err)
	}
	var out []DeadLetter
	for p := range tasks {
		first, next, err := d.Bounds(p)
		if err != nil {
			env.t.Fatal(err)
		}
		for off := first; off < next; {
			es, err := d.Read(p, off, 1000)
			if err != nil {
				env.t.Fatal(err)
			}
			for _, en := range es {
				dl, err := ParseDeadLetter(en.Value)
				if err != nil {
					env.t.Fatal(err)
				}
				out = append(out, dl)
				off = en.Offset + 1
			}
		}
	}
	return out
}

// testLogger logs warnings and errors through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// wordcountDef is the wordcount module: sentences are split into words,
// each word hops to the partition that owns it and is counted there.
func wordcountDef(name string) *abi.ModuleDef {
	return &abi.ModuleDef{
		Name:   name,
		Depots: []abi.DepotDef{{Name: "sentences", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates: []abi.PStateDef{{Name: "counts", Schema: abi.Schema{Type: abi.SchemaMap,
			Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}}},
		Topologies: []abi.TopologyDef{{Name: "wordcount", Kind: abi.TopologyStream,
			Sources: []abi.SourceDef{{Depot: "sentences", Stage: "split"}},
			Stages:  []string{"split", "count"}}},
	}
}

// wordcountStages are the wordcount stages; split emits the number of
// words as its ack return.
func wordcountNative(def *abi.ModuleDef) *NativeModule {
	return NewNativeModule(def).
		Stage("wordcount", "split", func(c *StageCtx, p abi.Value) error {
			s, _ := p.AsString()
			words := strings.Fields(s)
			for _, w := range words {
				if err := c.HopHash("count", abi.String(w), abi.String(w)); err != nil {
					return err
				}
			}
			return c.Emit(abi.Int(int64(len(words))))
		}).
		Stage("wordcount", "count", func(c *StageCtx, p abi.Value) error {
			return c.Transform("counts", abi.P().Key(p).Incr(1))
		})
}

// countingFactory wraps a factory, counting processors made and closed.
type countingFactory struct {
	inner        ProcessorFactory
	made, closed atomic.Int64
	mu           sync.Mutex
	failCalls    int // the first failCalls Process calls fail
	calls        int
	failWith     func(n int) error
}

func (f *countingFactory) factory(ctx context.Context, p uint32) (Processor, error) {
	inner, err := f.inner(ctx, p)
	if err != nil {
		return nil, err
	}
	f.made.Add(1)
	return &countingProc{f: f, inner: inner}, nil
}

type countingProc struct {
	f      *countingFactory
	inner  Processor
	failed bool
}

func (p *countingProc) Process(ctx context.Context, b *abi.BatchFrame, h Handler) error {
	if p.failed {
		return fmt.Errorf("test: a discarded instance was used again")
	}
	p.f.mu.Lock()
	p.f.calls++
	n := p.f.calls
	fail := n <= p.f.failCalls
	p.f.mu.Unlock()
	if fail {
		p.failed = true
		if p.f.failWith != nil {
			return p.f.failWith(n)
		}
		return fmt.Errorf("test: call %d fails", n)
	}
	return p.inner.Process(ctx, b, h)
}

func (p *countingProc) Close(ctx context.Context) error {
	p.f.closed.Add(1)
	return p.inner.Close(ctx)
}
