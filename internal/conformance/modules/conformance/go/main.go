// Command conformance is the Go version of the conformance module: one
// module with a topology per behaviour of docs/conformance.md. Its twin in
// ../rust must behave identically, byte for byte.
package main

import (
	"errors"
	"fmt"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// str reads a string field of a record ("" when absent).
func str(v squall.Value, name string) string {
	s, _ := v.Field(name).AsString()
	return s
}

// Define declares the conformance module.
func Define(m *squall.ModuleBuilder) {
	m.Name("conformance")
	byName := m.Depot("values", squall.HashBy(squall.Key("name")))
	paths := m.Depot("paths", squall.HashBy(squall.Key("k")))
	hops := m.Depot("hops", squall.HashBy(squall.Key("k")))
	fails := m.Depot("fails", squall.HashBy(squall.Key("k")))
	rws := m.Depot("rw", squall.HashBy(squall.Key("k")))

	values := m.PState("$$values", squall.MapOf(squall.StringT, squall.AnyT))
	docs := m.PState("$$docs", squall.MapOf(squall.StringT, squall.AnyT))
	sub := m.PState("$$sub", squall.MapOf(squall.StringT, squall.MapOf(squall.StringT, squall.IntT).Subindexed()))
	subl := m.PState("$$subl", squall.MapOf(squall.StringT, squall.ListOf(squall.IntT).Subindexed()))
	subs := m.PState("$$subs", squall.MapOf(squall.StringT, squall.SetOf(squall.StringT).Subindexed()))
	ran := m.PState("$$ran", squall.RecordOf(squall.Field("seen", squall.MapOf(squall.StringT, squall.IntT).Subindexed())))
	attempts := m.PState("$$attempts", squall.MapOf(squall.StringT, squall.IntT))
	rw := m.PState("$$rw", squall.MapOf(squall.StringT, squall.AnyT))

	// (a, f, g) values: store each record's value under its name, emit it back.
	tv := m.Stream("values")
	store := tv.Stage("store", func(ctx *squall.Ctx, r squall.Value) error {
		v := r.Field("value")
		if err := ctx.Transform(values, squall.Key(str(r, "name")).Set(v)); err != nil {
			return err
		}
		return ctx.Emit(v)
	})
	tv.Source(byName, store)

	// (b) paths: every navigator and terminal, inline and subindexed.
	tp := m.Stream("paths")
	pst := tp.Stage("paths", func(ctx *squall.Ctx, r squall.Value) error {
		k := str(r, "k")
		switch str(r, "op") {
		case "setup":
			return setup(ctx, k, docs, sub, subl, subs)
		case "query":
			return query(ctx, k, docs, sub, subl, subs)
		case "mutate":
			return mutate(ctx, k, docs, sub, subl, subs)
		}
		return squall.Poisonf("unknown op %q", str(r, "op"))
	})
	tp.Source(paths, pst)

	// (c) hops: every partitioner; rec records which partition ran what.
	th := m.Stream("hops")
	var rec, mid *squall.Stage
	start := th.Stage("start", func(ctx *squall.Ctx, r squall.Value) error {
		n, _ := r.Field("n").AsInt()
		k := r.Field("k")
		tag := func(t string) squall.Value { return squall.List(squall.String(t), squall.Int(n)) }
		for _, err := range []error{
			ctx.Hop(rec, k, tag("hash")),
			ctx.Hop(rec, squall.Int(n*7+1), tag("hashInt")),
			ctx.HopAll(rec, tag("all")),
			ctx.HopGlobal(rec, tag("global")),
			ctx.HopShuffle(rec, tag("shuffle")),
			ctx.HopDirect(rec, int(n)%ctx.Partitions(), tag("direct")),
			ctx.HopOrigin(rec, tag("originRecord")),
			ctx.Hop(mid, squall.String(fmt.Sprintf("mid-%d", n)), squall.Int(n)),
		} {
			if err != nil {
				return err
			}
		}
		return ctx.Emit(ctx.Partition())
	})
	mid = th.Stage("mid", func(ctx *squall.Ctx, n squall.Value) error {
		i, _ := n.AsInt()
		return ctx.HopOrigin(rec, squall.List(squall.String("origin"), squall.Int(i)))
	})
	rec = th.Stage("rec", func(ctx *squall.Ctx, p squall.Value) error {
		t, _ := p.Index(0).AsString()
		n, _ := p.Index(1).AsInt()
		seen := fmt.Sprintf("%s/%d/%d", t, n, ctx.Partition())
		return ctx.Transform(ran, squall.Key("seen").Key(seen).Set(ctx.SourcePartition()))
	})
	th.Source(hops, start)

	// (d, e) failures: poison, retryable until attempt 2, always retryable.
	tf := m.Stream("fails")
	fail := tf.Stage("fail", func(ctx *squall.Ctx, r squall.Value) error {
		k := str(r, "k")
		switch str(r, "mode") {
		case "poison":
			return squall.Poisonf("poisoned %s", k)
		case "retry":
			if ctx.Attempt() < 1 { // the first delivery is attempt 0
				return errors.New("transient failure of " + k)
			}
		case "always":
			return errors.New("permanent failure of " + k)
		case "badpath":
			return ctx.Transform(attempts, squall.Key(k).Append(1)) // append to an int: the host rejects it
		}
		if err := ctx.Transform(attempts, squall.Key(k).Set(ctx.Attempt())); err != nil {
			return err
		}
		return ctx.Emit(squall.List(squall.String(k), squall.Int(int64(ctx.Attempt()))))
	})
	tf.Source(fails, fail)

	// (h) read your writes: a stage that writes, reads, writes what it read.
	tr := m.Stream("rw")
	rws1 := tr.Stage("rw", func(ctx *squall.Ctx, r squall.Value) error {
		k := str(r, "k")
		if err := ctx.Transform(rw, squall.Key(k).Key("n").NilToVal(0).Incr(1)); err != nil {
			return err
		}
		n, err := ctx.SelectOne(rw, squall.Key(k).Key("n"))
		if err != nil {
			return err
		}
		if err := ctx.Transform(rw, squall.Key(k).Key("seen").Append(n)); err != nil {
			return err
		}
		all, err := ctx.SelectOne(rw, squall.Key(k))
		if err != nil {
			return err
		}
		return ctx.Emit(all)
	})
	tr.Source(rws, rws1)
}

func setup(ctx *squall.Ctx, k string, docs, sub, subl, subs *squall.PState) error {
	doc, err := squall.ValueOf(map[string]any{
		"m": map[string]any{"a": 1, "b": 2, "c": 3, "d": 4},
		"l": []any{5, 1, 4, 2, 3},
		"s": squall.Set(squall.String("x"), squall.String("y"), squall.String("z")),
		"f": 1.5,
		"n": 10,
	})
	if err != nil {
		return err
	}
	ops := []struct {
		ps *squall.PState
		p  squall.Path
	}{
		{docs, squall.Key(k).Set(doc)},
		{subl, squall.Key(k).Append(10, 20, 30, 40)},
		{subs, squall.Key(k).Append("p", "q", "r")},
	}
	for i, name := range []string{"a", "b", "c", "d", "e", "f"} {
		ops = append(ops, struct {
			ps *squall.PState
			p  squall.Path
		}{sub, squall.Key(k).Key(name).Set(i + 1)})
	}
	for _, o := range ops {
		if err := ctx.Transform(o.ps, o.p); err != nil {
			return err
		}
	}
	return ctx.Emit("ok")
}

func query(ctx *squall.Ctx, k string, docs, sub, subl, subs *squall.PState) error {
	d, s, l, t := squall.Key(k), squall.Key(k), squall.Key(k), squall.Key(k)
	incl := squall.RangeOpts{ExcludeFrom: true, IncludeTo: true}
	rev := squall.RangeOpts{Reverse: true, Limit: 2}
	qs := []struct {
		label string
		ps    *squall.PState
		p     squall.Path
	}{
		{"d.whole", docs, d},
		{"d.key", docs, d.Key("m").Key("a")},
		{"d.keyMissing", docs, d.Key("m").Key("zz")},
		{"d.mustKey", docs, d.MustKey("m").MustKey("b")},
		{"d.mustKeyMissing", docs, d.Key("m").MustKey("zz")},
		{"d.all.m", docs, d.Key("m").All()},
		{"d.all.l", docs, d.Key("l").All()},
		{"d.all.s", docs, d.Key("s").All()},
		{"d.mapVals", docs, d.Key("m").MapVals()},
		{"d.mapKeys", docs, d.Key("m").MapKeys()},
		{"d.first.l", docs, d.Key("l").First()},
		{"d.last.l", docs, d.Key("l").Last()},
		{"d.nth.l", docs, d.Key("l").Nth(2)},
		{"d.nthOut.l", docs, d.Key("l").Nth(9)},
		{"d.first.m", docs, d.Key("m").First()},
		{"d.last.m", docs, d.Key("m").Last()},
		{"d.first.s", docs, d.Key("s").First()},
		{"d.sorted.m", docs, d.Key("m").SortedRange("b", "d")},
		{"d.sortedOpts.m", docs, d.Key("m").SortedRangeWith("a", "c", incl)},
		{"d.sortedRev.m", docs, d.Key("m").SortedRangeWith("a", "z", rev).MapKeys()},
		{"d.sorted.s", docs, d.Key("s").SortedRange("x", "z")},
		{"d.filter.eq", docs, d.Key("l").All().Filter(squall.Eq, 4)},
		{"d.filter.ne", docs, d.Key("l").All().Filter(squall.Ne, 4)},
		{"d.filter.lt", docs, d.Key("l").All().Filter(squall.Lt, 3)},
		{"d.filter.le", docs, d.Key("l").All().Filter(squall.Le, 3)},
		{"d.filter.gt", docs, d.Key("l").All().Filter(squall.Gt, 3)},
		{"d.filter.ge", docs, d.Key("l").All().Filter(squall.Ge, 3.5)},
		{"d.filter.exists", docs, d.Key("m").MapVals().FilterExists()},
		{"d.nilToVal", docs, d.Key("zz").NilToVal("dflt")},
		{"d.size.m", docs, d.Key("m").View(squall.ViewSize)},
		{"d.size.l", docs, d.Key("l").View(squall.ViewSize)},
		{"d.size.s", docs, d.Key("s").View(squall.ViewSize)},
		{"d.size.int", docs, d.Key("n").View(squall.ViewSize)},
		{"d.count.n", docs, d.Key("n").View(squall.ViewCount)},
		{"d.count.missing", docs, d.Key("zz").View(squall.ViewCount)},
		{"s.key", sub, s.Key("c")},
		{"s.mustKey", sub, s.MustKey("d")},
		{"s.all", sub, s.All()},
		{"s.mapVals", sub, s.MapVals()},
		{"s.mapKeys", sub, s.MapKeys()},
		{"s.first", sub, s.First()},
		{"s.last", sub, s.Last()},
		{"s.sorted", sub, s.SortedRange("b", "e")},
		{"s.sortedOpts", sub, s.SortedRangeWith("b", "e", incl)},
		{"s.sortedRev", sub, s.SortedRangeWith("a", "z", rev)},
		{"s.filter", sub, s.MapVals().Filter(squall.Gt, 3)},
		{"s.size", sub, s.View(squall.ViewSize)},
		{"s.count", sub, s.View(squall.ViewCount)},
		{"s.nilToVal", sub, s.Key("zz").NilToVal(-1)},
		{"l.all", subl, l.All()},
		{"l.first", subl, l.First()},
		{"l.last", subl, l.Last()},
		{"l.nth", subl, l.Nth(1)},
		{"l.size", subl, l.View(squall.ViewSize)},
		{"l.filter", subl, l.All().Filter(squall.Le, 20)},
		{"t.all", subs, t.All()},
		{"t.first", subs, t.First()},
		{"t.last", subs, t.Last()},
		{"t.size", subs, t.View(squall.ViewSize)},
		{"t.sorted", subs, t.SortedRange("p", "r")},
		{"t.filter", subs, t.All().Filter(squall.Ne, "q")},
	}
	out := make([]squall.MapEntry, 0, len(qs))
	for _, q := range qs {
		vs, err := ctx.Select(q.ps, q.p)
		r := squall.List(vs...)
		if err != nil {
			r = squall.String("error")
		}
		out = append(out, squall.MapEntry{Key: squall.String(q.label), Val: r})
	}
	return ctx.Emit(squall.Map(out...))
}

func mutate(ctx *squall.Ctx, k string, docs, sub, subl, subs *squall.PState) error {
	d := squall.Key(k)
	merge, err := squall.ValueOf(map[string]any{"z": 26, "a": 0})
	if err != nil {
		return err
	}
	ops := []struct {
		ps *squall.PState
		p  squall.Path
	}{
		{docs, d.Key("m").Key("a").Set(100)},
		{docs, d.Key("m").Key("b").Remove()},
		{docs, d.Key("n").Incr(5)},
		{docs, d.Key("f").IncrFloat(0.25)},
		{docs, d.Key("i").IncrFloat(2)},
		{docs, d.Key("l").Append(6, 7)},
		{docs, d.Key("l").Prepend(0)},
		{docs, d.Key("m").Merge(merge)},
		{docs, d.Key("s").Append("w")},
		{docs, d.Key("new").NilToVal(41).Incr(1)},
		{docs, d.Key("l").All().Filter(squall.Gt, 4).Incr(100)},
		{docs, d.Key("m").MapVals().Filter(squall.Lt, 5).Incr(1000)},
		{docs, d.Key("l").First().Set("head")},
		{docs, d.Key("l").Last().Remove()},
		{sub, d.Key("a").Incr(10)},
		{sub, d.Key("b").Remove()},
		{sub, d.Merge(merge)},
		{sub, d.MapVals().Filter(squall.Ge, 5).Incr(1000)},
		{sub, d.SortedRange("c", "e").MapVals().Incr(-1)},
		{subl, d.Append(50, 60)},
		{subl, d.Prepend(0)},
		{subl, d.Nth(2).Set(21)},
		{subl, d.Last().Remove()},
		{subs, d.Append("s2")},
		{subs, d.All().Filter(squall.Eq, "q").Remove()},
	}
	res := make([]squall.Value, 0, len(ops))
	for _, o := range ops {
		if err := ctx.Transform(o.ps, o.p); err != nil {
			res = append(res, squall.String("error"))
			continue
		}
		res = append(res, squall.String("ok"))
	}
	return ctx.Emit(squall.List(res...))
}

func init() { squall.Define(Define) }

// main is not run: the module is a WASI reactor.
func main() {}
