package squalltest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

// mbModule: a microbatch topology that sums amounts per account on the
// account's partition (a hop), fails on "fail" and poisons "poison"; a
// query reads one account; a tick depot feeds a stream topology.
func mbModule(m *squall.ModuleBuilder) {
	m.Name("mb")
	in := m.Depot("in", squall.HashBy(squall.Key("k")))
	clock := m.TickDepot("clock", time.Second)
	mb := m.Microbatch("mb")
	sums := mb.PState("sums", squall.MapOf(squall.StringT, squall.AnyT))
	var add *squall.Stage
	route := mb.Stage("route", func(ctx *squall.Ctx, r squall.Value) error {
		return ctx.Hop(add, r.Field("acct"), r)
	})
	add = mb.Stage("add", func(ctx *squall.Ctx, r squall.Value) error {
		switch k, _ := r.Field("k").AsString(); k {
		case "fail":
			return errors.New("the ledger is unreachable")
		case "poison":
			return squall.Poison(errors.New("closed account"))
		}
		n, _ := r.Field("n").AsInt()
		if err := ctx.Aggregate(sums, squall.Sum(n), r.Field("acct"), "sum"); err != nil {
			return err
		}
		return ctx.Aggregate(sums, squall.TopN(2, n, r.Field("k")), r.Field("acct"), "top")
	})
	mb.Source(in, route)
	q := m.Query("sum", "acct")
	var read *squall.Stage
	q.Stage("start", func(ctx *squall.Ctx, args squall.Value) error { return ctx.Hop(read, args.Index(0), args.Index(0)) })
	read = q.Stage("read", func(ctx *squall.Ctx, acct squall.Value) error {
		v, err := ctx.SelectOne(sums, squall.P().Key(acct).Key("sum"))
		if err != nil {
			return err
		}
		return ctx.Return(v)
	})
	ticks := m.Stream("ticks")
	seen := ticks.PState("seen", squall.RecordOf(squall.Field("times", squall.ListOf(squall.IntT).Subindexed())), squall.Global())
	ticks.Source(clock, ticks.Stage("tick", func(ctx *squall.Ctx, t squall.Value) error {
		return ctx.Aggregate(seen, squall.AppendToList(t), "times")
	}))
}

func rec(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestMicrobatchAllOrNothing(t *testing.T) {
	h := squalltest.New(t, 4, squalltest.Module(mbModule), squalltest.Manual(), squalltest.MaxAttempts(3), squalltest.Quiet())
	h.Append("in", rec("k", "a", "acct", "x", "n", 5))
	h.Append("in", rec("k", "b", "acct", "y", "n", 7))
	h.Append("in", rec("k", "poison", "acct", "x", "n", 100))
	h.Run()
	if v, err := h.Invoke("sum", "x"); err != nil || v.String() != "5" {
		t.Fatalf("sum x = %v %v", v, err)
	}
	if dl := h.DeadLetters(); len(dl) != 1 || dl[0].Kind != "record" || !strings.Contains(dl[0].Error.Message, "closed account") {
		t.Fatalf("dead letters %+v", dl)
	}
	if n := h.Microbatches("mb"); n != 1 {
		t.Fatalf("%d microbatches", n)
	}
	// A failing record takes its whole microbatch down, then pauses it.
	h.Append("in", rec("k", "c", "acct", "y", "n", 1))
	h.Append("in", rec("k", "fail", "acct", "x", "n", 1))
	h.Run()
	paused, why := h.Paused("mb")
	if !paused || !strings.Contains(why, "the ledger is unreachable") || !strings.Contains(why, "microbatch 1 failed 3 times") {
		t.Fatalf("paused %v %q", paused, why)
	}
	if v, _ := h.Invoke("sum", "y"); v.String() != "7" {
		t.Fatalf("sum y = %v: part of the failed microbatch was applied", v)
	}
	if top := h.SelectOne("sums", squall.Key("x").Key("top")); top.String() != `[[5, "a"]]` {
		t.Fatalf("top %v", top)
	}
	if _, err := h.Invoke("sum"); err == nil || !strings.Contains(err.Error(), "takes 1 arguments (acct); got 0") {
		t.Fatalf("invoke without arguments: %v", err)
	}
	h.Tick("clock", 1000)
	h.Tick("clock", 2000)
	h.Run()
	if got := h.SelectPartition("seen", 0, squall.Key("times").All()); len(got) != 2 || got[1].String() != "2000" {
		t.Fatalf("ticks %v; dead letters %+v", got, h.DeadLetters())
	}
}
