package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

// appendRetrying appends with AckAppendAck, retrying while the module is
// not deployed (between an Undeploy and the next Deploy).
func appendRetrying(t *testing.T, env *testEnv, module, depot string, rec abi.Value) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := env.e.AppendToDepot(context.Background(), module, depot, rec, AckAppendAck)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotFound) || time.Now().After(deadline) {
			t.Errorf("append %s: %v", rec, err)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func checkCounts(t *testing.T, env *testEnv, module string, want map[string]int64, atLeast bool) {
	t.Helper()
	for w, n := range want {
		got := env.count(module, "counts", abi.String(w))
		if got != n && (!atLeast || got < n) {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
}

func TestUndeployRedeploy(t *testing.T) {
	env := newEnv(t, fastConfig())
	def := wordcountDef("wc")
	f1 := &countingFactory{}
	var err error
	if f1.inner, err = wordcountNative(def).Factory(); err != nil {
		t.Fatal(err)
	}
	env.deploy(def, 4, f1.factory)
	sents, want := sentences(600, 7)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(sents); i += 4 {
				appendRetrying(t, env, "wc", "sentences", abi.String(sents[i]))
			}
		})
	}
	// Undeploy mid-stream, then redeploy with a new factory.
	env.waitFor(func() bool {
		lag, err := env.e.Lag("wc")
		return err == nil && lag > 0 || f1.made.Load() > 0
	})
	if err := env.e.Undeploy(context.Background(), "wc"); err != nil {
		t.Fatal(err)
	}
	if made, closed := f1.made.Load(), f1.closed.Load(); made != closed {
		t.Errorf("after undeploy: %d processors made, %d closed", made, closed)
	}
	if _, err := env.e.Tasks("wc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tasks after undeploy: %v, want not found", err)
	}
	if err := env.e.Undeploy(context.Background(), "wc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second undeploy: %v, want not found", err)
	}
	// A different definition is refused; the same one with any factory
	// and the recorded task count (0) is accepted.
	if err := env.e.Deploy(context.Background(), ModuleSpec{Def: wordcountDef("wc2"), Name: "wc", NewProcessor: f1.factory}); !errors.Is(err, ErrInvalid) {
		t.Errorf("deploy with another definition: %v, want invalid", err)
	}
	env.deployNative(wordcountNative(def), 0)
	wg.Wait()
	env.waitIdle("wc")
	// Draining finished every tree in flight: nothing lost, nothing twice.
	checkCounts(t, env, "wc", want, false)

	// A hard stop (ctx already ended) loses nothing either: what was in
	// flight is processed again (at least once).
	more, want2 := sentences(300, 8)
	for w, n := range want {
		want2[w] += n
	}
	for _, s := range more {
		env.append("wc", "sentences", abi.String(s), AckNone)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := env.e.Undeploy(ctx, "wc"); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("undeploy with an ended context: %v", err)
	}
	env.deployNative(wordcountNative(def), 4)
	env.waitIdle("wc")
	checkCounts(t, env, "wc", want2, true)
}

func TestDestroy(t *testing.T) {
	env := newEnv(t, fastConfig())
	def := wordcountDef("wc")
	env.deployNative(wordcountNative(def), 4)
	sents, _ := sentences(200, 9)
	for _, s := range sents {
		env.append("wc", "sentences", abi.String(s), AckNone)
	}
	if err := env.e.Destroy(context.Background(), "wc"); err != nil {
		t.Fatal(err)
	}
	if err := env.e.Destroy(context.Background(), "wc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second destroy: %v, want not found", err)
	}
	if _, err := env.e.Select(context.Background(), "wc", "counts", abi.P().Key(abi.String("w1"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("select after destroy: %v, want not found", err)
	}
	d, err := env.db.LookupDepot("wc", "sentences")
	if err != nil {
		t.Fatal(err)
	}
	for p := range uint32(4) {
		if first, next, err := d.Bounds(p); err != nil || first != 0 || next != 0 {
			t.Errorf("depot partition %d after destroy: [%d, %d) %v, want empty", p, first, next, err)
		}
	}

	// A fresh deploy with another definition and task count works and
	// starts from zero.
	def2 := wordcountDef("wc")
	def2.PStates = append(def2.PStates, abi.PStateDef{Name: "extra", Schema: abi.Schema{Type: abi.SchemaMap,
		Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}})
	env.deployNative(wordcountNative(def2), 2)
	if n, err := env.e.Tasks("wc"); err != nil || n != 2 {
		t.Fatalf("tasks after redeploy: %d %v", n, err)
	}
	more, want := sentences(100, 10)
	for _, s := range more {
		env.append("wc", "sentences", abi.String(s), AckAck)
	}
	env.waitIdle("wc")
	checkCounts(t, env, "wc", want, false)

	// The data survives a restart under the new definition.
	env.restart()
	env.deployNative(wordcountNative(def2), 0)
	env.waitIdle("wc")
	checkCounts(t, env, "wc", want, false)
}
