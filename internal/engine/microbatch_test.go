package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

func (env *testEnv) invoke(module, query string, args ...abi.Value) abi.Value {
	env.t.Helper()
	v, err := env.e.Invoke(context.Background(), module, query, args, 0)
	if err != nil {
		env.t.Fatalf("invoke %s/%s: %v", module, query, err)
	}
	return v
}

func (env *testEnv) mbStatus(module, topo string) MicrobatchStatus {
	env.t.Helper()
	ts, err := env.e.Topologies(module)
	if err != nil {
		env.t.Fatal(err)
	}
	for _, t := range ts {
		if t.Name == topo && t.Microbatch != nil {
			return *t.Microbatch
		}
	}
	env.t.Fatalf("no microbatch topology %s/%s", module, topo)
	return MicrobatchStatus{}
}

// Transfers run in microbatches across partitions; while they run, every
// invocation of the query "total" (one snapshot, every partition) sees
// the same total: a reader never sees a debit without its credit, which
// lives on another partition, i.e. never part of a microbatch.
func TestMicrobatchTransfersVisibleAtomically(t *testing.T) {
	env := newEnv(t, fastConfig())
	env.deployNative(bankNative(bankDef("bank", 40)), 8)
	const accounts = 20
	for i := range accounts {
		env.append("bank", "deposits", deposit(account(i), 1000), AckAppendAck)
	}
	env.waitIdle("bank")
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(accounts*1000)) {
		t.Fatalf("total after the deposits = %v", got)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads atomic.Int64
	var bad atomic.Value
	wg.Go(func() {
		for !stop.Load() {
			v, err := env.e.Invoke(context.Background(), "bank", "total", nil, 0)
			if err != nil {
				bad.Store(err.Error())
				return
			}
			if !abi.Equal(v, abi.Int(accounts*1000)) {
				bad.Store("a query saw total " + v.String())
				return
			}
			reads.Add(1)
		}
	})
	rng := rand.New(rand.NewPCG(1, 2))
	var trs []abi.Value
	for id := range 1500 {
		from, to := rng.IntN(accounts), rng.IntN(accounts-1)
		if to >= from {
			to++
		}
		tr := transfer(id, account(from), account(to), int64(1+rng.IntN(300)))
		trs = append(trs, tr)
		env.append("bank", "transfers", tr, AckNone)
	}
	env.waitIdle("bank")
	stop.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
	t.Logf("%d consistent reads during the transfers; %d microbatches", reads.Load(), env.mbStatus("bank", "bank").Next)
	checkBank(t, env, "bank", trs, accounts*1000)
}

// checkBank checks that every transfer id was applied or refused exactly
// once and that the balances sum to total.
func checkBank(t *testing.T, env *testEnv, module string, transfers []abi.Value, total int64) {
	t.Helper()
	if got := env.invoke(module, "total"); !abi.Equal(got, abi.Int(total)) {
		t.Errorf("total = %v, want %d", got, total)
	}
	read := func(pstate string, acct, id abi.Value) int64 {
		vs, err := env.e.Select(context.Background(), module, pstate, abi.P().Key(acct).Key(id))
		if err != nil || len(vs) != 1 {
			t.Fatalf("select %s %v %v: %v %v", pstate, acct, id, vs, err)
		}
		n, _ := vs[0].AsInt()
		return n
	}
	applied := 0
	for _, tr := range transfers {
		id := field(tr, "id")
		a, r := read("applied", field(tr, "to"), id), read("refused", field(tr, "from"), id)
		if a+r != 1 {
			t.Errorf("transfer %v: applied %d times, refused %d times", id, a, r)
		}
		applied += int(a)
	}
	if applied == 0 {
		t.Error("no transfer was applied")
	}
	t.Logf("%d of %d transfers applied, the others refused", applied, len(transfers))
}

// A query topology checks its arguments, reads one partition or all, and
// a stage that runs past the deadline fails the invocation with
// ETIMEDOUT; the module keeps working.
func TestQueryTopologies(t *testing.T) {
	env := newEnv(t, fastConfig())
	def := bankDef("bank", 100)
	def.Queries = append(def.Queries,
		abi.QueryDef{Name: "slow", Stages: []string{"wait"}},
		abi.QueryDef{Name: "broken", Stages: []string{"fail"}},
		abi.QueryDef{Name: "writer", Stages: []string{"write"}},
		abi.QueryDef{Name: "grouped", Stages: []string{"fanout", "count"}},
		abi.QueryDef{Name: "nested", Args: []string{"account"}, Stages: []string{"call"}},
	)
	nm := bankNative(def).
		QueryStage("slow", "wait", func(c *StageCtx, _ abi.Value) error {
			<-c.Context().Done()
			return c.Context().Err()
		}).
		QueryStage("broken", "fail", func(c *StageCtx, _ abi.Value) error { return errors.New("boom") }).
		QueryStage("writer", "write", func(c *StageCtx, _ abi.Value) error {
			return c.Transform("balances", abi.P().Key(abi.String("x")).Set(abi.Int(1)))
		}).
		QueryStage("grouped", "fanout", func(c *StageCtx, _ abi.Value) error {
			return c.Hop("count", abi.PartitionAll, abi.Nil())
		}).
		QueryStage("grouped", "count", func(c *StageCtx, _ abi.Value) error {
			ks, err := c.Select("balances", abi.P().MapKeys())
			if err != nil {
				return err
			}
			for _, k := range ks {
				s, _ := k.AsString()
				if err := c.AggregateResult(abi.AggCount, []abi.Value{abi.String(s[:4])}, abi.Nil()); err != nil {
					return err
				}
				if err := c.AggregateResult(abi.AggSet, []abi.Value{abi.String("partitions")}, abi.Int(int64(c.Partition()))); err != nil {
					return err
				}
			}
			return nil
		}).
		QueryStage("nested", "call", func(c *StageCtx, args abi.Value) error {
			v, err := c.Invoke("balance", args.Index(0))
			if err != nil {
				return err
			}
			return c.Return(abi.List(abi.String("nested"), v))
		})
	env.deployNative(nm, 4)
	for i := range 12 {
		env.append("bank", "deposits", deposit(account(i), int64(10*i)), AckAppendAck)
	}
	env.waitIdle("bank")

	if got := env.invoke("bank", "balance", abi.String(account(7))); !abi.Equal(got, abi.Int(70)) {
		t.Errorf("balance of %s = %v, want 70", account(7), got)
	}
	if got := env.invoke("bank", "balance", abi.String("nobody")); !got.IsNil() {
		t.Errorf("balance of nobody = %v, want nil", got)
	}
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(660)) {
		t.Errorf("total = %v, want 660", got)
	}
	got := env.invoke("bank", "grouped")
	if n := field(got, "acct"); !abi.Equal(n, abi.Int(12)) {
		t.Errorf("grouped count = %v (result %v), want 12", n, got)
	}
	if ps := field(got, "partitions"); ps.Len() != 4 {
		t.Errorf("grouped saw partitions %v, want all 4", ps)
	}
	if got := env.invoke("bank", "nested", abi.String(account(3))); !abi.Equal(got, abi.List(abi.String("nested"), abi.Int(30))) {
		t.Errorf("nested = %v", got)
	}

	ctx := context.Background()
	_, err := env.e.Invoke(ctx, "bank", "balance", nil, 0)
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Code != abi.EINVAL || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "query balance takes 1 arguments (account); got 0") {
		t.Errorf("no arguments: %v", err)
	}
	_, err = env.e.Invoke(ctx, "bank", "slow", nil, 30*time.Millisecond)
	if !errors.As(err, &qe) || qe.Code != abi.ETIMEDOUT || !strings.Contains(err.Error(), "ran past its deadline of 30ms") {
		t.Errorf("slow: %v", err)
	}
	_, err = env.e.Invoke(ctx, "bank", "broken", nil, 0)
	if !errors.As(err, &qe) || qe.Code != abi.EFAILED || !strings.Contains(err.Error(), "stage fail on partition") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("broken: %v", err)
	}
	_, err = env.e.Invoke(ctx, "bank", "writer", nil, 0)
	if !errors.As(err, &qe) || qe.Code != abi.EFAILED || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("writer: %v", err)
	}
	if _, err := env.e.Invoke(ctx, "bank", "nope", nil, 0); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "its queries: total, balance") {
		t.Errorf("unknown query: %v", err)
	}
	// The module still answers.
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(660)) {
		t.Errorf("total after the failures = %v", got)
	}
}

// A microbatch whose stage keeps failing is retried from scratch, then
// the topology pauses with the error; nothing of the microbatch is
// applied, not even the records of other partitions that succeeded. A
// poisoned record is dead-lettered alone.
func TestMicrobatchFailurePausesAndPoisonDeadLetters(t *testing.T) {
	env := newEnv(t, fastConfig())
	def := bankDef("bank", 1000)
	calls := atomic.Int64{}
	nm := bankNative(def)
	base := nm.stages[[2]string{"bank", "deposit"}]
	nm.Stage("bank", "deposit", func(c *StageCtx, rec abi.Value) error {
		calls.Add(1)
		switch field(rec, "account").String() {
		case `"poison"`:
			return Poison(errors.New("this account is closed"))
		case `"fail"`:
			return errors.New("the ledger is unreachable")
		}
		return base(c, rec)
	})
	env.deployNative(nm, 4)
	env.append("bank", "deposits", deposit("a", 5), AckAppendAck)
	env.append("bank", "deposits", deposit("poison", 5), AckAppendAck)
	env.append("bank", "deposits", deposit("b", 7), AckAppendAck)
	env.waitIdle("bank")
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(12)) {
		t.Fatalf("total = %v, want 12 (a and b, not the poisoned deposit)", got)
	}
	env.waitFor(func() bool { return len(env.deadLetters("bank", 4)) >= 1 })
	dls := env.deadLetters("bank", 4)
	if len(dls) != 1 || dls[0].Stage != "deposit" || !strings.Contains(dls[0].Error.Message, "this account is closed") || dls[0].Depot != "deposits" {
		t.Fatalf("dead letters: %+v", dls)
	}

	// Now a record that always fails, next to good records of other
	// partitions in the same microbatch: they are appended while the
	// module is not deployed, so the next microbatch holds all three.
	before := env.mbStatus("bank", "bank").Next
	if err := env.e.Undeploy(context.Background(), "bank"); err != nil {
		t.Fatal(err)
	}
	dep, err := env.db.LookupDepot("bank", "deposits")
	if err != nil {
		t.Fatal(err)
	}
	parts := map[uint32]bool{}
	for _, rec := range []abi.Value{deposit("c", 100), deposit("fail", 1), deposit("d", 100)} {
		kb, _ := abi.Encode(field(rec, "account"))
		enc, _ := abi.Encode(rec)
		p := abi.KeyPartition(kb, 4)
		parts[p] = true
		if _, err := dep.Append(context.Background(), p, storage.Record{Key: kb, Value: enc}); err != nil {
			t.Fatal(err)
		}
	}
	if len(parts) < 2 {
		t.Fatalf("the records share partitions %v; pick other accounts", parts)
	}
	env.deployNative(nm, 4)
	env.waitFor(func() bool { return env.mbStatus("bank", "bank").Paused })
	st := env.mbStatus("bank", "bank")
	if st.Next != before || !strings.Contains(st.Error, "the ledger is unreachable") || !strings.Contains(st.Error, "paused") {
		t.Fatalf("status %+v, want microbatch %d paused", st, before)
	}
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(12)) {
		t.Fatalf("total = %v after the failing microbatch, want 12: part of it was applied", got)
	}
	// A restart retries the paused microbatch; it still fails and pauses.
	env.restart()
	env.deployNative(nm, 4)
	env.waitFor(func() bool { return env.mbStatus("bank", "bank").Paused })
	if got := env.invoke("bank", "total"); !abi.Equal(got, abi.Int(12)) {
		t.Fatalf("total = %v, want 12", got)
	}
}

// Aggregators into PStates inside a microbatch, grouped by key; a stream
// topology may not write a PState that a microbatch topology owns.
func TestMicrobatchAggregatorsAndOwnership(t *testing.T) {
	env := newEnv(t, fastConfig())
	str, anyS := &abi.Schema{Type: abi.SchemaString}, &abi.Schema{Type: abi.SchemaAny}
	def := &abi.ModuleDef{
		Name:   "agg",
		Depots: []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("user"))}}},
		PStates: []abi.PStateDef{
			{Name: "stats", Owner: "mb", Schema: abi.Schema{Type: abi.SchemaMap, Key: str, Val: anyS}},
			{Name: "tags", Owner: "mb", Schema: abi.Schema{Type: abi.SchemaMap, Key: str,
				Val: &abi.Schema{Type: abi.SchemaSet, Elem: str, Subindexed: true}}},
		},
		Topologies: []abi.TopologyDef{
			{Name: "mb", Kind: abi.TopologyMicrobatch, Sources: []abi.SourceDef{{Depot: "events", Stage: "agg"}}, Stages: []string{"agg"}},
			{Name: "intruder", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "events", Stage: "write"}}, Stages: []string{"write"}},
		},
	}
	nm := NewNativeModule(def).
		Stage("mb", "agg", func(c *StageCtx, rec abi.Value) error {
			u, n := field(rec, "user"), field(rec, "n")
			k := func(s string) []abi.Value { return []abi.Value{u, abi.String(s)} }
			for _, step := range []func() error{
				func() error { return c.Aggregate("stats", abi.AggCount, k("count"), abi.Nil()) },
				func() error { return c.Aggregate("stats", abi.AggSum, k("sum"), n) },
				func() error { return c.Aggregate("stats", abi.AggMin, k("min"), n) },
				func() error { return c.Aggregate("stats", abi.AggMax, k("max"), n) },
				func() error { return c.Aggregate("stats", abi.AggList, k("list"), n) },
				func() error { return c.Aggregate("stats", abi.AggMap, k("map"), abi.List(n, abi.Bool(true))) },
				func() error { return c.AggregateTopN("stats", k("top"), n, field(rec, "id"), 2) },
				func() error { return c.Aggregate("tags", abi.AggSet, []abi.Value{u}, field(rec, "tag")) },
			} {
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		}).
		Stage("intruder", "write", func(c *StageCtx, rec abi.Value) error {
			return c.Transform("stats", abi.P().Key(field(rec, "user")).Set(abi.Nil()))
		})
	env.deployNative(nm, 2)
	ev := func(id string, n int64, tag string) abi.Value {
		return abi.Map(abi.MapEntry{Key: abi.String("user"), Val: abi.String("u")}, abi.MapEntry{Key: abi.String("id"), Val: abi.String(id)},
			abi.MapEntry{Key: abi.String("n"), Val: abi.Int(n)}, abi.MapEntry{Key: abi.String("tag"), Val: abi.String(tag)})
	}
	env.append("agg", "events", ev("a", 5, "x"), AckAppendAck)
	env.append("agg", "events", ev("b", 2, "y"), AckAppendAck)
	env.append("agg", "events", ev("c", 9, "x"), AckAppendAck)
	env.waitIdle("agg")
	vs, err := env.e.Select(context.Background(), "agg", "stats", abi.P().Key(abi.String("u")))
	if err != nil {
		t.Fatal(err)
	}
	want := abi.Map(
		abi.MapEntry{Key: abi.String("count"), Val: abi.Int(3)},
		abi.MapEntry{Key: abi.String("sum"), Val: abi.Int(16)},
		abi.MapEntry{Key: abi.String("min"), Val: abi.Int(2)},
		abi.MapEntry{Key: abi.String("max"), Val: abi.Int(9)},
		abi.MapEntry{Key: abi.String("list"), Val: abi.List(abi.Int(5), abi.Int(2), abi.Int(9))},
		abi.MapEntry{Key: abi.String("map"), Val: abi.Map(abi.MapEntry{Key: abi.Int(2), Val: abi.Bool(true)},
			abi.MapEntry{Key: abi.Int(5), Val: abi.Bool(true)}, abi.MapEntry{Key: abi.Int(9), Val: abi.Bool(true)})},
		abi.MapEntry{Key: abi.String("top"), Val: abi.List(abi.List(abi.Int(9), abi.String("c")), abi.List(abi.Int(5), abi.String("a")))},
	)
	if len(vs) != 1 || !abi.Equal(vs[0], want) {
		t.Errorf("stats = %v\nwant %v", vs, want)
	}
	tags, err := env.e.Select(context.Background(), "agg", "tags", abi.P().Key(abi.String("u")).All())
	if err != nil || !abi.Equal(abi.List(tags...), abi.List(abi.String("x"), abi.String("y"))) {
		t.Errorf("tags = %v %v", tags, err)
	}
	// Depot records (dead letters) show once synced, a moment after the
	// progress that counted them.
	env.waitFor(func() bool { return len(env.deadLetters("agg", 2)) >= 3 })
	dls := env.deadLetters("agg", 2)
	if len(dls) != 3 {
		t.Fatalf("%d dead letters, want the 3 intruder writes: %+v", len(dls), dls)
	}
	for _, dl := range dls {
		if dl.Topology != "intruder" || !strings.Contains(dl.Error.Message, `PState "stats" is owned by topology "mb"`) {
			t.Errorf("dead letter %+v", dl)
		}
	}
}

// start_from "end" skips what the depot held at the first deploy, and a
// tick depot feeds its topology on a timer.
func TestMicrobatchStartFromEndAndTicks(t *testing.T) {
	env := newEnv(t, fastConfig())
	counts := abi.Schema{Type: abi.SchemaMap, Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}
	first := &abi.ModuleDef{Name: "late",
		Depots:  []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates: []abi.PStateDef{{Name: "unused", Schema: counts}},
		Topologies: []abi.TopologyDef{{Name: "s", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "events", Stage: "noop"}},
			Stages: []string{"noop"}}}}
	env.deployNative(NewNativeModule(first).Stage("s", "noop", func(*StageCtx, abi.Value) error { return nil }), 2)
	for range 5 {
		env.append("late", "events", abi.String("old"), AckAppendAck)
	}
	if err := env.e.Destroy(context.Background(), "late"); err != nil {
		t.Fatal(err)
	}
	_ = first
	def := &abi.ModuleDef{Name: "ticks",
		Depots: []abi.DepotDef{
			{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}},
			{Name: "clock", Partitioner: abi.DepotPartitioner{Kind: abi.DepotTick, TickMillis: 5}},
		},
		PStates: []abi.PStateDef{{Name: "counts", Schema: counts, Owner: "mb"}, {Name: "ticks", Schema: abi.Schema{Type: abi.SchemaInt}}},
		Topologies: []abi.TopologyDef{
			{Name: "mb", Kind: abi.TopologyMicrobatch, Sources: []abi.SourceDef{{Depot: "events", Stage: "count", StartFrom: abi.StartEnd}},
				Stages: []string{"count", "tally"}},
			{Name: "t", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "clock", Stage: "tick"}}, Stages: []string{"tick", "all"}},
		},
	}
	nm := NewNativeModule(def).
		Stage("mb", "count", func(c *StageCtx, rec abi.Value) error {
			return c.HopHash("tally", rec, rec)
		}).
		Stage("mb", "tally", func(c *StageCtx, rec abi.Value) error {
			return c.Aggregate("counts", abi.AggCount, []abi.Value{rec}, abi.Nil())
		}).
		Stage("t", "tick", func(c *StageCtx, rec abi.Value) error {
			if _, ok := rec.AsInt(); !ok || c.Partition() != 0 {
				return Poison(errors.New("a tick is an int on partition 0"))
			}
			return c.Hop("all", abi.PartitionAll, rec)
		}).
		Stage("t", "all", func(c *StageCtx, rec abi.Value) error {
			return c.Transform("ticks", abi.P().NilToVal(abi.Int(0)).Incr(1))
		})
	env.deployNative(nm, 2)
	for range 4 {
		env.append("ticks", "events", abi.String("old"), AckAppendAck)
	}
	// A second deploy after a restart must not move "end" forward.
	env.restart()
	env.deployNative(nm, 2)
	for range 3 {
		env.append("ticks", "events", abi.String("new"), AckAppendAck)
	}
	env.waitFor(func() bool {
		return env.mbStatus("ticks", "mb").Next > 0 && env.count("ticks", "counts", abi.String("new")) == 3
	})
	if n := env.count("ticks", "counts", abi.String("old")); n != 4 {
		// "end" was fixed at the first deploy, before the 4 "old" records.
		t.Errorf("old records counted %d times, want 4 (appended after the first deploy)", n)
	}
	env.waitFor(func() bool {
		vs, err := env.e.SelectPartition(context.Background(), "ticks", "ticks", 1, abi.P())
		if err != nil || len(vs) != 1 {
			t.Fatalf("select ticks: %v %v", vs, err)
		}
		n, _ := vs[0].AsInt()
		return n >= 3
	})
	if _, err := env.e.AppendToDepot(context.Background(), "ticks", "clock", abi.Int(1), AckAppendAck); !errors.Is(err, ErrInvalid) {
		t.Errorf("append to a tick depot: %v", err)
	}
}

// start_from on stream topologies too: "end" skips what the depot held at
// the first deploy, an offset starts there; both survive a restart.
func TestStreamStartFrom(t *testing.T) {
	env := newEnv(t, fastConfig())
	counts := abi.Schema{Type: abi.SchemaMap, Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}
	topo := func(name string, sf string, off int64) abi.TopologyDef {
		return abi.TopologyDef{Name: name, Kind: abi.TopologyStream, Stages: []string{"count"},
			Sources: []abi.SourceDef{{Depot: "events", Stage: "count", StartFrom: sf, StartOffset: off}}}
	}
	def := &abi.ModuleDef{Name: "sf",
		Depots:     []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates:    []abi.PStateDef{{Name: "counts", Schema: counts}},
		Topologies: []abi.TopologyDef{topo("all", "", 0), topo("late", abi.StartEnd, 0), topo("from3", abi.StartOffset, 3)},
	}
	nm := NewNativeModule(def)
	for _, tp := range def.Topologies {
		nm.Stage(tp.Name, "count", func(c *StageCtx, rec abi.Value) error {
			return c.Transform("counts", abi.P().Key(abi.String(tp.Name)).NilToVal(abi.Int(0)).Incr(1))
		})
	}
	// Five records are in the depot before the first deploy.
	d, err := env.db.Depot("sf", "events", storage.DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		enc, _ := abi.Encode(abi.Int(int64(i)))
		if _, err := d.Append(context.Background(), 0, storage.Record{Value: enc}); err != nil {
			t.Fatal(err)
		}
	}
	env.deployNative(nm, 1)
	env.waitIdle("sf")
	// While the module is down a record arrives: "end" was fixed at the
	// first deploy, so "late" processes it.
	env.close()
	db, err := storage.Open(env.dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err = db.Depot("sf", "events", storage.DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := abi.Encode(abi.Int(8))
	if _, err := d.Append(context.Background(), 0, storage.Record{Value: enc}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	env.open()
	env.deployNative(nm, 1)
	for range 2 {
		env.append("sf", "events", abi.Int(9), AckAppendAck)
	}
	env.waitIdle("sf")
	for name, want := range map[string]int64{"all": 8, "late": 3, "from3": 5} {
		if got := env.count("sf", "counts", abi.String(name)); got != want {
			t.Errorf("topology %s counted %d records, want %d", name, got, want)
		}
	}
}

// max_records bounds each source and partition of a microbatch, and every
// item of a microbatch sees its number as the batch id, on every
// partition; start_from offset starts there.
func TestMicrobatchMaxRecordsAndBatchID(t *testing.T) {
	env := newEnv(t, fastConfig())
	seen := abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{{Name: "ids", Schema: abi.Schema{Type: abi.SchemaMap,
		Key: &abi.Schema{Type: abi.SchemaInt}, Val: &abi.Schema{Type: abi.SchemaInt}}}}}
	def := &abi.ModuleDef{Name: "mr",
		Depots:  []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates: []abi.PStateDef{{Name: "seen", Schema: seen, Owner: "mb"}},
		Topologies: []abi.TopologyDef{{Name: "mb", Kind: abi.TopologyMicrobatch, MaxRecords: 3, Stages: []string{"note", "all"},
			Sources: []abi.SourceDef{{Depot: "events", Stage: "note", StartFrom: abi.StartOffset, StartOffset: 2}}}},
	}
	nm := NewNativeModule(def).
		Stage("mb", "note", func(c *StageCtx, rec abi.Value) error {
			if err := c.Transform("seen", abi.P().Key(abi.String("ids")).Key(rec).Set(abi.Int(int64(c.BatchID())))); err != nil {
				return err
			}
			return c.Hop("all", abi.PartitionAll, rec)
		}).
		Stage("mb", "all", func(c *StageCtx, rec abi.Value) error {
			n, _ := rec.AsInt()
			return c.Transform("seen", abi.P().Key(abi.String("ids")).Key(abi.Int(1000+n)).Set(abi.Int(int64(c.BatchID()))))
		})
	d, err := env.db.Depot("mr", "events", storage.DepotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 { // offsets 0..11 on partition 0; 2..11 are processed
		enc, _ := abi.Encode(abi.Int(int64(i)))
		if _, err := d.Append(context.Background(), 0, storage.Record{Value: enc}); err != nil {
			t.Fatal(err)
		}
	}
	env.deployNative(nm, 2)
	env.waitIdle("mr")
	if st := env.mbStatus("mr", "mb"); st.Next != 4 {
		t.Fatalf("%d microbatches for 10 records at most 3 per microbatch, want 4", st.Next)
	}
	get := func(p uint32, k int64) (int64, bool) {
		vs, err := env.e.SelectPartition(context.Background(), "mr", "seen", p, abi.P().Key(abi.String("ids")).MustKey(abi.Int(k)))
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 {
			return 0, false
		}
		n, _ := vs[0].AsInt()
		return n, true
	}
	for i := int64(0); i < 12; i++ {
		b, ok := get(0, i)
		switch {
		case i < 2 && ok:
			t.Errorf("record %d is before start_from offset 2 but was processed", i)
		case i >= 2 && (!ok || b != (i-2)/3):
			t.Errorf("record %d: microbatch %d (%v), want %d", i, b, ok, (i-2)/3)
		}
		for p := range uint32(2) {
			if hb, ok := get(p, 1000+i); i >= 2 && (!ok || hb != b) {
				t.Errorf("record %d: partition %d saw microbatch %d (%v), its source saw %d", i, p, hb, ok, b)
			}
		}
	}
}

// A microbatch whose stages hop in a loop fails at the microbatch timeout,
// is retried, and pauses its topology; the engine stays responsive.
func TestMicrobatchHopLoopPauses(t *testing.T) {
	cfg := fastConfig()
	cfg.MicrobatchTimeout = 50 * time.Millisecond
	cfg.MaxAttempts = 2
	env := newEnv(t, cfg)
	def := &abi.ModuleDef{Name: "loop",
		Depots:  []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates: []abi.PStateDef{{Name: "unused", Schema: abi.Schema{Type: abi.SchemaInt}, Owner: "mb"}},
		Topologies: []abi.TopologyDef{{Name: "mb", Kind: abi.TopologyMicrobatch, Stages: []string{"spin"},
			Sources: []abi.SourceDef{{Depot: "events", Stage: "spin"}}}},
	}
	nm := NewNativeModule(def).Stage("mb", "spin", func(c *StageCtx, rec abi.Value) error {
		return c.Hop("spin", abi.PartitionShuffle, rec)
	})
	env.deployNative(nm, 2)
	env.append("loop", "events", abi.Int(1), AckAppendAck)
	env.waitFor(func() bool { return env.mbStatus("loop", "mb").Paused })
	if st := env.mbStatus("loop", "mb"); !strings.Contains(st.Error, "ran longer than 50ms") || st.Next != 0 {
		t.Fatalf("status %+v", st)
	}
}
