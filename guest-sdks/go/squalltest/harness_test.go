package squalltest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// sentence is a record of the word-count module.
type sentence struct{ User, Text string }

func (s sentence) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"user": s.User, "text": s.Text})
}

func (s *sentence) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"user": &s.User, "text": &s.Text})
}

func wordcount(m *squall.ModuleBuilder) {
	sentences := m.Depot("sentences", squall.HashBy(squall.Key("user")))
	counts := m.PState("$$counts", squall.MapOf(squall.StringT, squall.IntT))
	total := m.PState("$$total", squall.IntT, squall.Global())
	t := m.Stream("wordcount")
	var count, sum *squall.Stage
	split := t.Stage("split", squall.Typed(func(ctx *squall.Ctx, s sentence) error {
		if s.Text == "" {
			return squall.Poisonf("sentence of %q has no text", s.User)
		}
		words := strings.Fields(s.Text)
		for _, w := range words {
			if err := ctx.Hop(count, w, w); err != nil {
				return err
			}
		}
		if err := ctx.HopGlobal(sum, len(words)); err != nil {
			return err
		}
		ctx.Logf(squall.LogDebug, "%d words", len(words))
		return ctx.Emit(len(words))
	}))
	count = t.Stage("count", func(ctx *squall.Ctx, word squall.Value) error {
		return ctx.Transform(counts, squall.Key(word).Incr(1))
	})
	sum = t.Stage("sum", squall.Typed(func(ctx *squall.Ctx, n int64) error {
		return ctx.Transform(total, squall.P().Incr(n))
	}))
	t.Source(sentences, split)
}

func TestWordCount(t *testing.T) {
	h := New(t, 4, Module(wordcount))
	a := h.Append("sentences", sentence{"alice", "the cat and the hat"})
	h.Append("sentences", sentence{"bob", "the end"})
	if n, ok := a.AckReturn("wordcount"); !ok || n.String() != "5" {
		t.Fatalf("ack return %s %v", n, ok)
	}
	for w, want := range map[string]int64{"the": 3, "cat": 1, "end": 1, "nope": 0} {
		got, _ := h.SelectOne("$$counts", squall.Key(w)).AsInt()
		if got != want {
			t.Errorf("count of %q = %d, want %d", w, got, want)
		}
		// The word lives on the partition that owns it, and only there.
		p := h.KeyPartition(w)
		for q := range h.Partitions() {
			has := h.PState("$$counts", q).Has(squall.String(w))
			if has != (q == p && want > 0) {
				t.Errorf("word %q on partition %d: %v (owner %d)", w, q, has, p)
			}
		}
	}
	if total, _ := h.SelectOne("$$total", squall.P()).AsInt(); total != 7 {
		t.Fatalf("total %d", total)
	}
	if got := h.Depot("sentences", h.KeyPartition("alice")); len(got) == 0 {
		t.Fatal("alice's sentence is not on alice's partition")
	}
	h.Append("sentences", sentence{User: "carol"})
	dl := h.DeadLetters()
	if len(dl) != 1 || dl[0].Error.Kind != "poison" || !strings.Contains(dl[0].Error.Message, `"carol" has no text`) ||
		dl[0].Kind != "record" || dl[0].Depot != "sentences" || dl[0].Attempts != 1 {
		t.Fatalf("dead letters %+v", dl)
	}
	if logs := h.Logs(); len(logs) != 2 || logs[0].Text != "5 words" || logs[0].Stage != "split" {
		t.Fatalf("logs %+v", logs)
	}
}

func TestRetriesAndPanics(t *testing.T) {
	var attempts []int
	h := New(t, 2, MaxAttempts(3), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashRecord())
		seen := m.PState("$$seen", squall.MapOf(squall.AnyT, squall.IntT))
		tp := m.Stream("t")
		tp.Source(in, tp.Stage("s", func(ctx *squall.Ctx, v squall.Value) error {
			attempts = append(attempts, ctx.Attempt())
			if err := ctx.Transform(seen, squall.Key(v).Incr(1)); err != nil {
				return err
			}
			switch s, _ := v.AsString(); s {
			case "flaky":
				if ctx.Attempt() < 2 {
					return errors.New("not yet")
				}
			case "broken":
				return squall.Retryable(errors.New("never"))
			case "panic":
				var xs []int
				_ = xs[ctx.Attempt()+1]
			case "poison panic":
				panic(squall.Poison(errors.New("bad input")))
			}
			return nil
		}))
	}))
	h.Append("in", "flaky")
	if fmt.Sprint(attempts) != "[0 1 2]" {
		t.Fatalf("attempts %v", attempts)
	}
	// The failed attempts' transforms were discarded.
	if n, _ := h.SelectOne("$$seen", squall.Key("flaky")).AsInt(); n != 1 {
		t.Fatalf("seen %d times", n)
	}
	h.Append("in", "broken")
	h.Append("in", "panic")
	h.Append("in", "poison panic")
	dl := h.DeadLetters()
	if len(dl) != 3 {
		t.Fatalf("dead letters %+v", dl)
	}
	if dl[0].Error.Kind != "retry" || dl[0].Attempts != 3 || !strings.Contains(dl[0].Error.Message, "never (after 3 attempts)") {
		t.Errorf("broken: %+v", dl[0])
	}
	if dl[1].Error.Kind != "panic" || !strings.Contains(dl[1].Error.Message, "index out of range") ||
		!strings.Contains(dl[1].Error.Stack, "goroutine") || dl[1].Attempts != 3 {
		t.Errorf("panic: %+v", dl[1])
	}
	if dl[2].Error.Kind != "panic" || dl[2].Attempts != 1 || !strings.Contains(dl[2].Error.Message, "bad input") {
		t.Errorf("poison panic: %+v", dl[2])
	}
	for _, k := range []string{"broken", "panic", "poison panic"} {
		if v := h.SelectOne("$$seen", squall.Key(k)); !v.IsNil() {
			t.Errorf("%s: failed items left %s", k, v)
		}
	}
	if s := h.Stats(); s.Retries != 2+3+3 || s.DeadLetters != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestRejectedEffects(t *testing.T) {
	var errs []error
	h := New(t, 4, Quiet(), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashBy(squall.Key("user")))
		users := m.PState("$$users", squall.MapOf(squall.StringT, squall.RecordOf(
			squall.Field("age", squall.IntT), squall.Field("tags", squall.SetOf(squall.StringT)))))
		tp := m.Stream("t")
		tp.Source(in, tp.Stage("s", func(ctx *squall.Ctx, v squall.Value) error {
			user := v.Field("user")
			var err error
			switch v.Field("op").String() {
			case `"wrongpart"`:
				// A key of another partition, without hopping there.
				for k := 0; ; k++ {
					key := fmt.Sprint("u", k)
					if p, _ := KeyPartition(squall.String(key), ctx.Partitions()); p != ctx.Partition() {
						err = ctx.Transform(users, squall.Key(key).Key("age").Set(1))
						break
					}
				}
			case `"schema"`:
				err = ctx.Transform(users, squall.Key(user).Key("age").Set("old"))
			case `"field"`:
				err = ctx.Transform(users, squall.Key(user).Key("height").Set(1))
			case `"query"`:
				_, err = ctx.Select(users, squall.Key(user).Key("age").All())
			}
			errs = append(errs, err)
			if err != nil {
				return err
			}
			// The rejection is seen at the next flush: a read, here.
			_, err = ctx.SelectOne(users, squall.P().MustKey("nobody"))
			errs = append(errs, err)
			return err
		}))
	}))
	for _, op := range []string{"wrongpart", "schema", "field", "query"} {
		h.Append("in", map[string]any{"op": op, "user": "u1"})
	}
	dl := h.DeadLetters()
	if len(dl) != 4 {
		t.Fatalf("dead letters %+v", dl)
	}
	for i, want := range []string{"EWRONGPART: key \"u", "ESCHEMA: PState \"$$users\": step 2 set(\"old\") at $[\"u1\"][\"age\"]: the schema says int, got string \"old\"",
		"ESCHEMA: PState \"$$users\": step 1 key(\"height\") at $[\"u1\"]: the record has no field \"height\"", "EPATH"} {
		if !strings.Contains(dl[i].Error.Message, want) || (i < 3 && dl[i].Error.Kind != "rejected") {
			t.Errorf("%d: %+v, want %q", i, dl[i].Error, want)
		}
	}
	var rej *squall.RejectedError
	if !errors.As(errs[1], &rej) || rej.Code != squall.EWRONGPART {
		t.Errorf("the stage saw %v", errs[1])
	}
	var qe *squall.QueryError
	if !errors.As(errs[len(errs)-1], &qe) || qe.Code != squall.EPATH || !squall.IsPoison(qe) {
		t.Errorf("query error %v", errs[len(errs)-1])
	}
}

func TestReadYourWritesAndBatches(t *testing.T) {
	var seen []string
	h := New(t, 1, Manual(), BatchSize(10), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashRecord())
		list := m.PState("$$list", squall.MapOf(squall.StringT, squall.ListOf(squall.IntT)))
		tp := m.Stream("t")
		tp.Source(in, tp.Stage("s", squall.Typed(func(ctx *squall.Ctx, n int) error {
			if err := ctx.Transform(list, squall.Key("k").Append(n)); err != nil {
				return err
			}
			vs, err := squall.SelectAs[int](ctx, list, squall.Key("k").All())
			if err != nil {
				return err
			}
			seen = append(seen, fmt.Sprint(vs))
			if n == 2 && ctx.Attempt() == 0 {
				return errors.New("two fails once")
			}
			if _, err := ctx.SelectOne(list, squall.Key("k").All()); len(vs) > 1 && err == nil {
				return errors.New("SelectOne of several values succeeded")
			}
			_, err = ctx.SelectOne(list, squall.P().MustKey("none"))
			if !errors.Is(err, squall.ErrNotFound) {
				return fmt.Errorf("SelectOne of nothing: %v", err)
			}
			return nil
		})))
	}))
	for i := 1; i <= 3; i++ {
		h.Append("in", i)
	}
	if len(seen) != 0 {
		t.Fatal("Manual ran the topology")
	}
	h.Run()
	// One batch of three: item 2's append was undone when it failed, and
	// retried after item 3.
	if got := strings.Join(seen, " "); got != "[1] [1 2] [1 3] [1 3 2]" {
		t.Fatalf("seen %s", got)
	}
	if s := h.Stats(); s.Batches != 2 || s.Items != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestHopPartitioners(t *testing.T) {
	type visit struct {
		stage     string
		partition int
	}
	var visits []visit
	h := New(t, 4, Quiet(), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashRecord())
		out := m.Depot("out", squall.Disallow())
		tp := m.Stream("t")
		record := func(ctx *squall.Ctx, _ squall.Value) error {
			visits = append(visits, visit{ctx.Stage().Name(), ctx.Partition()})
			return nil
		}
		all := tp.Stage("all", record)
		global := tp.Stage("global", record)
		origin := tp.Stage("origin", record)
		shuffle := tp.Stage("shuffle", record)
		direct := tp.Stage("direct", record)
		var relay *squall.Stage
		start := tp.Stage("start", func(ctx *squall.Ctx, v squall.Value) error {
			if err := ctx.Append(out, v, squall.Local); err != nil {
				return err
			}
			return ctx.Hop(relay, "elsewhere", v)
		})
		relay = tp.Stage("relay", func(ctx *squall.Ctx, v squall.Value) error {
			for _, err := range []error{ctx.HopAll(all, v), ctx.HopGlobal(global, v), ctx.HopOrigin(origin, v),
				ctx.HopShuffle(shuffle, v), ctx.HopDirect(direct, 3, v)} {
				if err != nil {
					return err
				}
			}
			if err := ctx.HopDirect(direct, 4, v); err == nil {
				return errors.New("HopDirect to partition 4 of 4 succeeded")
			}
			return nil
		})
		tp.Source(in, start)
	}))
	a := h.Append("in", "x")
	got := map[string][]int{}
	for _, v := range visits {
		got[v.stage] = append(got[v.stage], v.partition)
	}
	if fmt.Sprint(got["all"]) != "[0 1 2 3]" || fmt.Sprint(got["global"]) != "[0]" || fmt.Sprint(got["direct"]) != "[3]" ||
		fmt.Sprint(got["origin"]) != fmt.Sprint([]int{a.Partition}) || len(got["shuffle"]) != 1 {
		t.Fatalf("visits %v (record on %d)", got, a.Partition)
	}
	if recs := h.Depot("out", a.Partition); len(recs) != 1 || recs[0].String() != `"x"` {
		t.Fatalf("local append: %v", recs)
	}
	if len(h.DeadLetters()) != 0 {
		t.Fatalf("dead letters %+v", h.DeadLetters())
	}
}

// TestAppendsAndAckTrees checks appends from stages: routing, ack levels
// and the processing tree of ack returns.
func TestAppendsAndAckTrees(t *testing.T) {
	h := New(t, 2, Quiet(), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashRecord())
		mid := m.Depot("mid", squall.HashBy(squall.Key("k")))
		closed := m.Depot("closed", squall.Disallow())
		a := m.Stream("a")
		a.Source(in, a.Stage("fan", func(ctx *squall.Ctx, v squall.Value) error {
			if s, _ := v.AsString(); s == "bad" {
				return ctx.Append(closed, v) // not Local: rejected
			}
			if err := ctx.Append(mid, map[string]any{"k": v, "ack": true}); err != nil {
				return err
			}
			return ctx.Append(mid, map[string]any{"k": v, "ack": false}, squall.NoAck)
		}))
		b := m.Stream("b")
		b.Source(mid, b.Stage("echo", func(ctx *squall.Ctx, v squall.Value) error {
			if ack, _ := v.Field("ack").AsBool(); ack {
				return ctx.Emit(v.Field("k"))
			}
			return nil
		}))
	}))
	r := h.Append("in", "hello")
	if v, ok := r.AckReturn("b"); !ok || v.String() != `"hello"` {
		t.Fatalf("ack returns %v", r.AckReturns())
	}
	if _, ok := r.AckReturn("a"); ok {
		t.Fatal("topology a emitted")
	}
	p := h.KeyPartition("hello")
	if recs := h.Depot("mid", p); len(recs) != 2 {
		t.Fatalf("mid on %d: %v", p, recs)
	}
	h.Append("in", "bad")
	if dl := h.DeadLetters(); len(dl) != 1 || !strings.Contains(dl[0].Error.Message, "EINVAL") {
		t.Fatalf("dead letters %+v", dl)
	}
}

// TestLargeEffectsAndResults makes the SDK flush in the middle of an item
// and fetch a parked query result.
func TestLargeEffectsAndResults(t *testing.T) {
	h := New(t, 1, Quiet(), Module(func(m *squall.ModuleBuilder) {
		in := m.Depot("in", squall.HashRecord())
		blobs := m.PState("$$blobs", squall.MapOf(squall.IntT, squall.BytesT))
		tp := m.Stream("t")
		tp.Source(in, tp.Stage("s", squall.Typed(func(ctx *squall.Ctx, n int) error {
			for i := range n {
				if err := ctx.Transform(blobs, squall.Key(i).Set(make([]byte, 10_000))); err != nil {
					return err
				}
				ctx.Logf(squall.LogInfo, "wrote %d", i)
			}
			vs, err := ctx.Select(blobs, squall.P().MapVals())
			if err != nil {
				return err
			}
			if len(vs) != n {
				return fmt.Errorf("read %d blobs", len(vs))
			}
			if n == 30 {
				return errors.New("fail after flushing")
			}
			return nil
		})))
	}))
	h.Append("in", 20)
	if got := h.SelectPartition("$$blobs", 0, squall.P().MapKeys()); len(got) != 20 {
		t.Fatalf("%d keys", len(got))
	}
	h.Append("in", 30)
	// Every attempt of the failing item was undone, flushed effects too.
	if got := h.SelectPartition("$$blobs", 0, squall.P().View(squall.ViewCount)); got[0].String() != "20" {
		t.Fatalf("count %s", got[0])
	}
	if len(h.Logs()) != 20+30*8 {
		t.Fatalf("%d logs: logs of failed items are kept", len(h.Logs()))
	}
}

// fakeT records fatal errors instead of failing.
type fakeT struct {
	testing.TB
	msgs []string
}

type fatal struct{}

func (f *fakeT) Helper()                   {}
func (f *fakeT) Logf(string, ...any)       {}
func (f *fakeT) Fatal(args ...any)         { f.msgs = append(f.msgs, fmt.Sprint(args...)); panic(fatal{}) }
func (f *fakeT) Fatalf(s string, a ...any) { f.Fatal(fmt.Sprintf(s, a...)) }

func fatalOf(fn func(t testing.TB)) (msg string) {
	ft := &fakeT{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			msg = strings.Join(ft.msgs, "\n")
		}
	}()
	fn(ft)
	return ""
}

func TestDefinitionErrors(t *testing.T) {
	nop := func(*squall.Ctx, squall.Value) error { return nil }
	for _, c := range []struct {
		name   string
		define func(*squall.ModuleBuilder)
		want   []string
	}{
		{"problems", func(m *squall.ModuleBuilder) {
			d := m.Depot("bad name", squall.Random())
			m.PState("$$p", squall.SetOf(squall.StringT))
			m.PState("$$p", squall.MapOf(squall.FloatT, squall.IntT))
			tp := m.Stream("t")
			tp.Source(d, tp.Stage("s", nil))
		}, []string{"module definition has 5 problems", `depots[0].name: name "bad name" has ' ' at byte 3`,
			"pstates[0].schema: the top level of a PState must be a map", `pstates[1].name: duplicate PState name "$$p"`,
			`topologies[0].stages[0]: stage "s" has no function`}},
		{"foreign handles", func(m *squall.ModuleBuilder) {
			other := &squall.ModuleBuilder{}
			d := other.Depot("d", squall.Random())
			t1, t2 := m.Stream("t1"), m.Stream("t2")
			t1.Source(d, t2.Stage("s", nop))
			t2.Source(m.Depot("d", squall.Random()), t2.Stage("s2", nop))
			t1.Stage("x", nop)
		}, []string{`topologies[0].sources[0].depot: depot "d" was declared by another ModuleBuilder`,
			`topologies[0].sources[0].stage: unknown stage "s"`}},
		{"panic", func(m *squall.ModuleBuilder) { panic("oops") }, []string{"squall_init failed (panic)", "panicked: oops", "goroutine"}},
		{"nondeterministic", func() func(*squall.ModuleBuilder) {
			n := 0
			return func(m *squall.ModuleBuilder) {
				n++
				m.Depot(fmt.Sprint("d", n), squall.Random())
			}
		}(), []string{"not deterministic"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := fatalOf(func(ft testing.TB) { New(ft, 2, Module(c.define)) })
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\nwants %q", msg, w)
				}
			}
		})
	}
}

func TestClientSelects(t *testing.T) {
	h := New(t, 4, Module(wordcount), Quiet())
	h.Append("sentences", sentence{"a", "x y x"})
	if _, err := h.TrySelect("$$counts", squall.P().MapKeys()); err == nil || !strings.Contains(err.Error(), "SelectPartition") {
		t.Fatalf("select without a key: %v", err)
	}
	var keys []string
	for p := range h.Partitions() {
		for _, k := range h.SelectPartition("$$counts", p, squall.P().MapKeys()) {
			keys = append(keys, k.String())
		}
	}
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	if _, err := h.TrySelectOne("$$counts", squall.P().MustKey("z")); !errors.Is(err, squall.ErrNotFound) {
		t.Fatalf("mustKey: %v", err)
	}
	if _, err := h.TrySelect("$$counts", squall.Key("x").Incr(1)); err == nil {
		t.Fatal("a transform path selected")
	}
	msg := fatalOf(func(ft testing.TB) {
		h2 := New(ft, 1, Module(wordcount))
		h2.Append("nope", 1)
	})
	if !strings.Contains(msg, `no depot "nope"; the module declares "sentences"`) {
		t.Fatalf("append to nothing: %s", msg)
	}
}
