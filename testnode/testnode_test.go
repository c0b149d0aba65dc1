package testnode_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/testnode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func rec(kv ...any) abi.Value {
	var es []abi.MapEntry
	for i := 0; i < len(kv); i += 2 {
		var v abi.Value
		switch x := kv[i+1].(type) {
		case string:
			v = abi.String(x)
		case int:
			v = abi.Int(int64(x))
		}
		es = append(es, abi.MapEntry{Key: abi.String(kv[i].(string)), Val: v})
	}
	return abi.Map(es...)
}

func key(s string) abi.Path { return abi.P().Key(abi.String(s)) }

func TestWordcount(t *testing.T) {
	ctx := t.Context()
	// Warm the build and compilation caches, then time a cold node start
	// and a deploy from source (cached).
	if _, err := testnode.Build(ctx, "../examples/wordcount/go"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	n := testnode.Start(t)
	started := time.Since(t0)
	desc, err := n.DeployDir(ctx, "../examples/wordcount/go", client.DeployOptions{Tasks: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("node started in %v; started and deployed in %v", started, time.Since(t0))
	if desc.GetName() != "wordcount" || desc.GetTasks() != 2 {
		t.Fatalf("deployed %v", desc)
	}
	c := n.Client()
	for _, s := range []string{"the cat and the hat", "The end", "cat"} {
		if _, err := c.Append(ctx, "wordcount", "sentences", rec("user", "ada", "text", s), client.AckNone); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WaitProcessed(ctx, "wordcount"); err != nil {
		t.Fatal(err)
	}
	for w, want := range map[string]int64{"the": 3, "cat": 2, "hat": 1} {
		v, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", key(w))
		if got, _ := v.AsInt(); err != nil || got != want {
			t.Errorf("count(%s) = %v, %v; want %d", w, v, err, want)
		}
	}
	res, err := c.Append(ctx, "wordcount", "sentences", rec("user", "bob", "text", "a b c"), client.Ack)
	if got, _ := res.AckReturns["wordcount"].AsInt(); err != nil || got != 3 {
		t.Errorf("append with ack: %+v %v", res, err)
	}
	batch, err := c.AppendBatch(ctx, "wordcount", "sentences", []abi.Value{rec("user", "cy", "text", "x"), rec("user", "dee", "text", "x y")}, client.Ack)
	if err != nil || len(batch) != 2 {
		t.Fatalf("append batch: %v %v", batch, err)
	}
	if n, _ := batch[1].AckReturns["wordcount"].AsInt(); n != 2 {
		t.Errorf("batch ack returns: %+v", batch)
	}

	// Typed errors.
	_, err = c.Select(ctx, "nope", "$$wordCounts", key("a"))
	var ce *client.Error
	if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &ce) || ce.Message != `module "nope" is not deployed; modules: "wordcount"` {
		t.Errorf("unknown module: %v", err)
	}
	if _, err = c.Append(ctx, "wordcount", "words", abi.String("x"), client.AckNone); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("unknown depot: %v", err)
	}
	if _, err = c.Select(ctx, "wordcount", "$$wordCounts", abi.P().MapVals()); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("path without a key: %v", err)
	}
	if _, err = c.SelectOne(ctx, "wordcount", "$$wordCounts", key("zzz").Filter(abi.FilterLt, abi.Int(0))); !errors.Is(err, client.ErrFailedPrecondition) {
		t.Errorf("select one of nothing: %v", err)
	}
	if _, err = n.DeployDir(ctx, "../examples/wordcount/go"); !errors.Is(err, client.ErrAlreadyExists) {
		t.Errorf("deploy twice: %v", err)
	}
	if _, err = c.Deploy(ctx, []byte("not wasm"), client.DeployOptions{}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("deploy non-wasm: %v", err)
	}
	mods, err := c.Modules(ctx)
	if err != nil || len(mods) != 1 || mods[0].GetName() != "wordcount" {
		t.Errorf("modules: %v %v", mods, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.GetModules()[0].GetTopologies()[0].GetLag() != 0 {
		t.Errorf("status: %v %v", st, err)
	}
}

func TestSocialTimelines(t *testing.T) {
	ctx := t.Context()
	n := testnode.Start(t)
	if _, err := n.DeployDir(ctx, "../examples/social/go"); err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	followers := []string{"bob", "cy", "dee"}
	for _, f := range followers {
		if _, err := c.Append(ctx, "social", "follows", rec("from", f, "to", "ann"), client.AckNone); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Append(ctx, "social", "follows", rec("from", "ann", "to", "bob"), client.AckNone); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitProcessed(ctx, "social"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Append(ctx, "social", "posts", rec("author", "ann", "id", 1, "text", "hello"), client.Ack)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := res.AckReturns["social"].AsInt(); got != 3 {
		t.Errorf("post delivered to %d timelines, want 3", got)
	}
	if _, err := c.Append(ctx, "social", "posts", rec("author", "ann", "id", 2, "text", "again"), client.AckNone); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitProcessed(ctx, "social"); err != nil {
		t.Fatal(err)
	}
	for _, f := range followers {
		got, err := c.Select(ctx, "social", "$$timelines", key(f).All())
		if err != nil {
			t.Fatal(err)
		}
		want := []abi.Value{rec("author", "ann", "id", 1, "text", "hello"), rec("author", "ann", "id", 2, "text", "again")}
		if len(got) != len(want) || !abi.Equal(got[0], want[0]) || !abi.Equal(got[1], want[1]) {
			t.Errorf("timeline of %s = %v", f, got)
		}
	}
	if got, err := c.Select(ctx, "social", "$$timelines", key("ann").All()); err != nil || len(got) != 0 {
		t.Errorf("ann's own timeline = %v, %v; want empty", got, err)
	}
	if v, err := c.SelectOne(ctx, "social", "$$followerCounts", key("ann")); err != nil || fmt.Sprint(v) != "3" {
		t.Errorf("followers of ann = %v, %v", v, err)
	}
}

// TestRestartAndAuth: a node with a token refuses a client without it, and
// a node started again on the same data directory has the module and its
// state.
func TestRestartAndAuth(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	n := testnode.Start(t, testnode.WithDataDir(dir), testnode.WithToken("tok"))
	if _, err := n.DeployDir(ctx, "../examples/wordcount/go"); err != nil {
		t.Fatal(err)
	}
	anon, err := client.New(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.Modules(ctx); !errors.Is(err, client.ErrUnauthenticated) || !contains(err.Error(), "--token") {
		t.Errorf("without a token: %v", err)
	}
	if _, err := anon.Health(ctx); err != nil {
		t.Errorf("health without a token: %v", err)
	}
	if _, err := n.Client().Append(ctx, "wordcount", "sentences", rec("user", "a", "text", "hi hi"), client.AckAppend); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = testnode.Start(t, testnode.WithDataDir(dir), testnode.WithToken("tok"))
	if err := n.WaitProcessed(ctx, "wordcount"); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Client().SelectOne(ctx, "wordcount", "$$wordCounts", key("hi")); err != nil || fmt.Sprint(v) != "2" {
		t.Errorf("after a restart: %v %v", v, err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// BenchmarkStart measures starting and closing an empty node.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		n := testnode.Start(b)
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
