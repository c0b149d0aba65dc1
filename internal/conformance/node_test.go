package conformance

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/storage"
)

// tasks is the partition count of every deployment.
const tasks = 4

// node is a host runtime, an engine and a Pebble store, closed when the
// test ends.
type node struct {
	t  testing.TB
	db *storage.DB
	e  *engine.Engine
	rt *host.Runtime
}

func newNode(t testing.TB) *node {
	t.Helper()
	db, err := storage.Open(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	e, err := engine.Open(engine.Config{
		DB: db, Logger: logger, Seed: 42, MaxAttempts: 4,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := host.DefaultConfig()
	cfg.CacheDir = filepath.Join(cacheDir(), "wazero")
	cfg.Logger = logger
	rt, err := host.NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, db: db, e: e, rt: rt}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.e.Close(ctx); err != nil {
		n.t.Errorf("engine close: %v", err)
	}
	if err := n.rt.Close(ctx); err != nil {
		n.t.Errorf("runtime close: %v", err)
	}
	if err := n.db.Close(); err != nil {
		n.t.Errorf("db close: %v", err)
	}
}

// deploy compiles, describes and deploys a wasm module.
func (n *node) deploy(name string, wasm []byte) *abi.ModuleDef {
	n.t.Helper()
	ctx := context.Background()
	m, err := n.rt.Compile(ctx, name, wasm)
	if err != nil {
		n.t.Fatalf("compile %s: %v", name, err)
	}
	def, err := m.Describe(ctx, host.InitParams{Tasks: tasks})
	if err != nil {
		n.t.Fatalf("describe %s: %v", name, err)
	}
	if err := n.e.Deploy(ctx, engine.ModuleSpec{Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(m, tasks), ABIMinor: m.ABIMinor()}); err != nil {
		n.t.Fatalf("deploy %s: %v", def.Name, err)
	}
	return def
}

// appendAck appends a record with ACK and returns the ack returns by
// topology, or the error's text.
func (n *node) appendAck(module, depot string, rec abi.Value) (map[string]abi.Value, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := n.e.AppendToDepot(ctx, module, depot, rec, engine.AckAck)
	return res.AckReturns, err
}

// waitIdle waits until every record appended to the module is processed.
func (n *node) waitIdle(module string) {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		lag, err := n.e.Lag(module)
		if err != nil {
			n.t.Fatal(err)
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("module %s still has lag %d", module, lag)
		}
		time.Sleep(time.Millisecond)
	}
}

// dump reads every PState of def on every partition: a top-level map with
// all (its [key, value] entries), anything else at its root. paths
// overrides the path of some PStates.
func (n *node) dump(def *abi.ModuleDef, paths map[string]abi.Path) []string {
	n.t.Helper()
	var out []string
	for _, ps := range def.PStates {
		path, ok := paths[ps.Name]
		if !ok {
			path = abi.P()
			if ps.Schema.Type == abi.SchemaMap {
				path = abi.P().All()
			}
		}
		for p := range uint32(tasks) {
			vs, err := n.e.SelectPartition(context.Background(), def.Name, ps.Name, p, path)
			if err != nil {
				out = append(out, fmt.Sprintf("%s@%d: error %v", ps.Name, p, err))
				continue
			}
			for _, v := range vs {
				out = append(out, fmt.Sprintf("%s@%d: %s", ps.Name, p, show(v)))
			}
		}
	}
	return out
}

// deadLetters reads every dead letter of a module, one line each: where,
// what, why. Error messages are compared as they are (see
// docs/conformance.md); stacks are not.
func (n *node) deadLetters(module string) []string {
	n.t.Helper()
	d, err := n.db.LookupDepot(module, engine.DeadLetterDepot)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
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
				out = append(out, fmt.Sprintf("%s/%s p%d from p%d depot %q offset %d attempts %d reason %q error %s: %q payload %s",
					dl.Topology, dl.Stage, dl.Partition, dl.SourcePartition, dl.Depot, dl.Offset, dl.Attempts, dl.Reason,
					dl.Error.Kind, dl.Error.Message, show(dl.Payload)))
				off = en.Offset + 1
			}
		}
	}
	return out
}

// show is the exact text of a value: its canonical MessagePack in hex
// when it holds something the text form could hide (NaN payloads, -0),
// else the text form, which reads better in diffs. Both are exact.
func show(v abi.Value) string {
	b, err := abi.Encode(v)
	if err != nil {
		return "unencodable " + v.String() + ": " + err.Error()
	}
	s := v.String()
	if len(s) > 4000 {
		return fmt.Sprintf("%s… (%d bytes, msgpack sha %x)", s[:200], len(b), sum(b))
	}
	return s + " #" + fmt.Sprintf("%x", sum(b))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:6] }
