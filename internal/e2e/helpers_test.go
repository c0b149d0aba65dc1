package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/storage"
)

// tasks is the partition count of every deployment here.
const tasks = 4

// node is one Squall node: a host runtime, an engine and a Pebble store in
// a directory that outlives restarts.
type node struct {
	t   testing.TB
	dir string
	cfg engine.Config
	db  *storage.DB
	e   *engine.Engine
	rt  *host.Runtime
}

// fastConfig retries quickly so that failure tests take milliseconds.
func fastConfig() engine.Config {
	return engine.Config{BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxAttempts: 4, Seed: 42}
}

// newNode opens a node on a fresh directory, closed when the test ends.
func newNode(t testing.TB, cfg engine.Config) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir(), cfg: cfg}
	n.open()
	t.Cleanup(n.close)
	return n
}

// open starts the store, a fresh host runtime and the engine, as a
// process start would. Modules must be deployed again.
func (n *node) open() {
	n.t.Helper()
	db, err := storage.Open(n.dir, storage.Options{})
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := n.cfg
	cfg.DB = db
	if cfg.Logger == nil {
		cfg.Logger = testLogger(n.t)
	}
	e, err := engine.Open(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.db, n.e = db, e
	n.rt = nil // started on the first wasm deploy
}

// close drains the engine and closes the runtime and the store.
func (n *node) close() {
	if n.db == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n.e != nil {
		if err := n.e.Close(ctx); err != nil {
			n.t.Errorf("engine close: %v", err)
		}
	}
	if n.rt != nil {
		if err := n.rt.Close(ctx); err != nil {
			n.t.Errorf("runtime close: %v", err)
		}
	}
	if err := n.db.Close(); err != nil {
		n.t.Errorf("db close: %v", err)
	}
	n.e, n.db, n.rt = nil, nil, nil
}

// hardStop stops the engine where it is, as a crash would (records whose
// processing is not complete are processed again after a restart), and
// closes the runtime and the store. open starts the node again.
func (n *node) hardStop() {
	n.t.Helper()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	_ = n.e.Close(stopped) // the context's error, unless it drained at once
	n.e = nil
	if n.rt != nil {
		if err := n.rt.Close(context.Background()); err != nil {
			n.t.Fatal(err)
		}
		n.rt = nil
	}
	if err := n.db.Close(); err != nil {
		n.t.Fatal(err)
	}
	n.db = nil
}

// restart closes the node and opens it again on the same directory.
func (n *node) restart() {
	n.t.Helper()
	n.close()
	n.open()
}

// runtime returns the node's host runtime, started on first use.
func (n *node) runtime() *host.Runtime {
	n.t.Helper()
	if n.rt == nil {
		cfg := host.DefaultConfig()
		cfg.CacheDir = wazeroCache()
		cfg.Logger = n.cfg.Logger
		if cfg.Logger == nil {
			cfg.Logger = testLogger(n.t)
		}
		rt, err := host.NewRuntime(context.Background(), cfg)
		if err != nil {
			n.t.Fatal(err)
		}
		n.rt = rt
	}
	return n.rt
}

// compile compiles and describes a wasm module on the node's runtime.
func (n *node) compile(name string, wasm []byte) (*host.Module, *abi.ModuleDef) {
	n.t.Helper()
	ctx := context.Background()
	m, err := n.runtime().Compile(ctx, name, wasm)
	if err != nil {
		n.t.Fatalf("compile %s: %v", name, err)
	}
	def, err := m.Describe(ctx, host.InitParams{Tasks: tasks})
	if err != nil {
		n.t.Fatalf("describe %s: %v", name, err)
	}
	return m, def
}

// deployWasm compiles, describes and deploys a wasm module and returns its
// definition.
func (n *node) deployWasm(name string, wasm []byte) *abi.ModuleDef {
	n.t.Helper()
	m, def := n.compile(name, wasm)
	if err := n.e.Deploy(context.Background(), engine.ModuleSpec{Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(m, tasks),
		ABIMinor: m.ABIMinor()}); err != nil {
		n.t.Fatalf("deploy %s: %v", def.Name, err)
	}
	return def
}

func (n *node) deploy(def *abi.ModuleDef, f engine.ProcessorFactory) {
	n.t.Helper()
	// Native modules and the modules built here from the SDKs speak this
	// engine's ABI minor.
	if err := n.e.Deploy(context.Background(), engine.ModuleSpec{Def: def, Tasks: tasks, NewProcessor: f, ABIMinor: abi.Minor}); err != nil {
		n.t.Fatalf("deploy %s: %v", def.Name, err)
	}
}

func (n *node) deployNative(nm *engine.NativeModule) {
	n.t.Helper()
	f, err := nm.Factory()
	if err != nil {
		n.t.Fatal(err)
	}
	n.deploy(nm.Def, f)
}

// append appends a record and waits as ack says, failing the test on error.
func (n *node) append(module, depot string, rec abi.Value, ack engine.AckLevel) engine.AppendResult {
	n.t.Helper()
	res, err := n.tryAppend(module, depot, rec, ack)
	if err != nil {
		n.t.Fatalf("append %s to %s/%s: %v", rec, module, depot, err)
	}
	return res
}

// tryAppend appends a record and waits as ack says, for a minute at most.
func (n *node) tryAppend(module, depot string, rec abi.Value, ack engine.AckLevel) (engine.AppendResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return n.e.AppendToDepot(ctx, module, depot, rec, ack)
}

// waitIdle waits until every record appended to the module is processed
// and its progress committed.
func (n *node) waitIdle(module string, within time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for {
		lag, err := n.e.Lag(module)
		if err != nil {
			n.t.Fatal(err)
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("module %s still has lag %d after %s", module, lag, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// sel runs a client select (routed by the path's first key), failing the
// test on error.
func (n *node) sel(module, pstate string, path abi.Path) []abi.Value {
	n.t.Helper()
	vs, err := n.e.Select(context.Background(), module, pstate, path)
	if err != nil {
		n.t.Fatalf("select %s %s: %v", pstate, path, err)
	}
	return vs
}

// selInt reads one int (0 when absent).
func (n *node) selInt(module, pstate string, path abi.Path) int64 {
	n.t.Helper()
	vs := n.sel(module, pstate, path)
	if len(vs) != 1 {
		n.t.Fatalf("select %s %s: %v, want one value", pstate, path, vs)
	}
	i, _ := vs[0].AsInt()
	return i
}

// intMap reads a whole PState map(string, int), every partition, and
// checks that each key is on the partition that owns it.
func (n *node) intMap(module, pstate string) map[string]int64 {
	n.t.Helper()
	out := map[string]int64{}
	for p := range uint32(tasks) {
		vs, err := n.e.SelectPartition(context.Background(), module, pstate, p, abi.P().All())
		if err != nil {
			n.t.Fatal(err)
		}
		for _, kv := range vs {
			k, _ := kv.Index(0).AsString()
			v, ok := kv.Index(1).AsInt()
			if !ok {
				n.t.Fatalf("%s[%q] = %v, not an int", pstate, k, kv.Index(1))
			}
			if owner := keyPartition(abi.String(k)); owner != p {
				n.t.Errorf("%s[%q] is on partition %d; its key belongs to %d", pstate, k, p, owner)
			}
			out[k] = v
		}
	}
	return out
}

// keyPartition is the partition that owns key.
func keyPartition(key abi.Value) uint32 {
	b, err := abi.Encode(key)
	if err != nil {
		panic(err)
	}
	return abi.KeyPartition(b, tasks)
}

// deadLetters reads every dead letter of a module.
func (n *node) deadLetters(module string) []engine.DeadLetter {
	n.t.Helper()
	d, err := n.db.LookupDepot(module, engine.DeadLetterDepot)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []engine.DeadLetter
	for p := range uint32(tasks) {
		first, next, err := d.Bounds(p)
		if err != nil {
			n.t.Fatal(err)
		}
		for off := first; off < next; {
			es, err := d.Read(p, off, 1000)
			if err != nil {
				n.t.Fatal(err)
			}
			for _, en := range es {
				dl, err := engine.ParseDeadLetter(en.Value)
				if err != nil {
					n.t.Fatal(err)
				}
				out = append(out, dl)
				off = en.Offset + 1
			}
		}
	}
	return out
}

// rec builds a record from field/value pairs: strings, ints, bools.
func rec(kv ...any) abi.Value {
	es := make([]abi.MapEntry, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		es = append(es, abi.MapEntry{Key: abi.String(kv[i].(string)), Val: val(kv[i+1])})
	}
	return abi.Map(es...)
}

func val(x any) abi.Value {
	switch x := x.(type) {
	case abi.Value:
		return x
	case string:
		return abi.String(x)
	case int:
		return abi.Int(int64(x))
	case int64:
		return abi.Int(x)
	case bool:
		return abi.Bool(x)
	}
	panic(fmt.Sprintf("val: %T", x))
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

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// quietLogger drops the engine's and the host's messages: for tests whose
// failures are expected.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
