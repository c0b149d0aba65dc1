// Command abi11 is the Go version of the conformance module of ABI 1.1
// (docs/conformance.md, behaviours (i) to (l)): a microbatch topology with
// every aggregator, query topologies, a query invoked from a stream
// topology, and a tick depot. Its twins in other languages must behave
// identically, byte for byte.
package main

import (
	"time"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// Define declares the module.
func Define(m *squall.ModuleBuilder) {
	m.Name("abi11")
	events := m.Depot("events", squall.HashBy(squall.Key("k")))
	calls := m.Depot("calls", squall.HashBy(squall.Key("k")))
	clock := m.TickDepot("clock", 20*time.Millisecond)

	// (i, j) microbatch: every record hops to the partition of its group
	// and is aggregated there with every aggregator but LIST, whose order
	// would depend on how the records fall into microbatches (the query
	// "all" aggregates a LIST).
	mb := m.Microbatch("mb", squall.MaxRecords(3))
	aggs := mb.PState("$$aggs", squall.MapOf(squall.StringT, squall.AnyT))
	var apply *squall.Stage
	route := mb.Stage("route", func(ctx *squall.Ctx, r squall.Value) error {
		return ctx.Hop(apply, r.Field("g"), r)
	})
	apply = mb.Stage("apply", func(ctx *squall.Ctx, r squall.Value) error {
		g, n, k := r.Field("g"), r.Field("n"), r.Field("k")
		for _, a := range []struct {
			agg squall.Agg
			key string
		}{
			{squall.Count(), "count"},
			{squall.Sum(n), "sum"},
			{squall.Min(n), "min"},
			{squall.Max(n), "max"},
			{squall.AddToSet(k), "set"},
			{squall.PutInMap(k, n), "map"},
			{squall.TopN(2, n, k), "top"},
		} {
			if err := ctx.Aggregate(aggs, a.agg, g, a.key); err != nil {
				return err
			}
		}
		return nil
	})
	mb.Source(events, route)

	// (k) queries: one partition, every partition with a group-by result,
	// and one invoking another.
	group := m.Query("group", "g")
	var read *squall.Stage
	group.Stage("start", func(ctx *squall.Ctx, args squall.Value) error { return ctx.Hop(read, args.Index(0), args.Index(0)) })
	read = group.Stage("read", func(ctx *squall.Ctx, g squall.Value) error {
		v, err := ctx.SelectOne(aggs, squall.P().Key(g))
		if err != nil {
			return err
		}
		return ctx.Return(v)
	})
	all := m.Query("all")
	var each *squall.Stage
	all.Stage("fanout", func(ctx *squall.Ctx, _ squall.Value) error { return ctx.HopAll(each, nil) })
	each = all.Stage("each", func(ctx *squall.Ctx, _ squall.Value) error {
		gs, err := ctx.Select(aggs, squall.P().MapKeys())
		if err != nil {
			return err
		}
		for _, g := range gs {
			c, err := ctx.SelectOne(aggs, squall.P().Key(g).Key("count"))
			if err != nil {
				return err
			}
			if err := ctx.AggregateResult(squall.Sum(c), "total"); err != nil {
				return err
			}
			if err := ctx.AggregateResult(squall.PutInMap(g, c), "groups"); err != nil {
				return err
			}
			if err := ctx.AggregateResult(squall.AddToSet(ctx.Partition()), "partitions"); err != nil {
				return err
			}
			// Partitions run in order, keys in order: a deterministic list.
			if err := ctx.AggregateResult(squall.AppendToList(g), "order"); err != nil {
				return err
			}
		}
		return nil
	})
	both := m.Query("both", "a", "b")
	both.Stage("call", func(ctx *squall.Ctx, args squall.Value) error {
		a, err := ctx.Invoke(group, args.Index(0))
		if err != nil {
			return err
		}
		b, err := ctx.Invoke(group, args.Index(1))
		if err != nil {
			return err
		}
		return ctx.Return(squall.List(a.Field("sum"), b.Field("sum")))
	})

	// (k) a stream topology invokes a query and returns its result.
	caller := m.Stream("caller")
	called := m.PState("$$called", squall.MapOf(squall.StringT, squall.AnyT))
	ask := caller.Stage("ask", func(ctx *squall.Ctx, r squall.Value) error {
		v, err := ctx.Invoke(group, r.Field("g"))
		if err != nil {
			return err
		}
		if err := ctx.Transform(called, squall.Key(r.Field("k")).Set(v.Field("count"))); err != nil {
			return err
		}
		return ctx.Emit(v.Field("max"))
	})
	caller.Source(calls, ask)

	// (l) a tick depot: every tick is an int on partition 0, counted on
	// every partition.
	ticker := m.Stream("ticker")
	ticks := ticker.PState("$$ticks", squall.IntT)
	var count *squall.Stage
	tick := ticker.Stage("tick", func(ctx *squall.Ctx, t squall.Value) error {
		if _, ok := t.AsInt(); !ok || ctx.Partition() != 0 {
			return squall.Poisonf("a tick is an int on partition 0, got %s on %d", t, ctx.Partition())
		}
		return ctx.HopAll(count, nil)
	})
	count = ticker.Stage("count", func(ctx *squall.Ctx, _ squall.Value) error {
		return ctx.Aggregate(ticks, squall.Count())
	})
	ticker.Source(clock, tick)
}

func init() { squall.Define(Define) }

func main() {}
