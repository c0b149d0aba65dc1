package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

// sentences returns n random sentences over a small vocabulary and the
// number of times each word occurs in them.
func sentences(n int, seed uint64) ([]string, map[string]int64) {
	r := rand.New(rand.NewPCG(seed, 1))
	want := map[string]int64{}
	out := make([]string, n)
	for i := range out {
		words := make([]string, 1+r.IntN(8))
		for j := range words {
			words[j] = fmt.Sprintf("w%d", r.IntN(50))
			want[words[j]]++
		}
		out[i] = strings.Join(words, " ")
	}
	return out, want
}

func TestWordcount(t *testing.T) {
	env := newEnv(t, fastConfig())
	env.deployNative(wordcountNative(wordcountDef("wc")), 4)
	sents, want := sentences(400, 1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < len(sents); i += 8 {
				res := env.append("wc", "sentences", abi.String(sents[i]), AckAck)
				// ACK: the words are counted and visible on return, and
				// the ack return is the split stage's word count.
				got, _ := res.AckReturns["wordcount"].AsInt()
				if got != int64(len(strings.Fields(sents[i]))) {
					t.Errorf("ack return %v for %q", res.AckReturns, sents[i])
				}
			}
		})
	}
	wg.Wait()
	for w, n := range want {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
	env.waitIdle("wc")
	if dls := env.deadLetters("wc", 4); len(dls) != 0 {
		t.Errorf("dead letters: %v", dls)
	}
	// Every word was counted on the partition that owns it.
	for w := range want {
		kb, _ := abi.Encode(abi.String(w))
		owner := abi.KeyPartition(kb, 4)
		for p := range uint32(4) {
			vs, err := env.e.SelectPartition(context.Background(), "wc", "counts", p, abi.P().Key(abi.String(w)))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := vs[0].AsInt(); (n != 0) != (p == owner) {
				t.Errorf("word %s: partition %d holds %v; owner is %d", w, p, vs[0], owner)
			}
		}
	}
}

func TestAckLevels(t *testing.T) {
	env := newEnv(t, fastConfig())
	env.deployNative(wordcountNative(wordcountDef("wc")), 2)

	r1 := env.append("wc", "sentences", abi.String("a b"), AckNone)
	r2 := env.append("wc", "sentences", abi.String("a c"), AckAppendAck)
	if r1.AckReturns != nil || r2.AckReturns != nil {
		t.Errorf("ack returns without ACK: %v %v", r1.AckReturns, r2.AckReturns)
	}
	d, err := env.db.LookupDepot("wc", "sentences")
	if err != nil {
		t.Fatal(err)
	}
	es, err := d.Read(r2.Partition, r2.Offset, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("APPEND_ACK record not readable at %d/%d: %v", r2.Partition, r2.Offset, err)
	}
	if v, _ := abi.Decode(es[0].Value); !abi.Equal(v, abi.String("a c")) {
		t.Errorf("record %v", v)
	}
	r3 := env.append("wc", "sentences", abi.String("a d e"), AckAck)
	if n, _ := r3.AckReturns["wordcount"].AsInt(); n != 3 {
		t.Errorf("ack returns %v", r3.AckReturns)
	}
	// ACK means visible: "d" is counted by the time the append returns.
	if got := env.count("wc", "counts", abi.String("d")); got != 1 {
		t.Errorf("count[d] = %d right after the ACK append", got)
	}
	env.waitIdle("wc")
	if got := env.count("wc", "counts", abi.String("a")); got != 3 {
		t.Errorf("count[a] = %d", got)
	}

	// A depot that no topology reads: ACK is APPEND_ACK.
	def := &abi.ModuleDef{Name: "noreader", Depots: []abi.DepotDef{{Name: "d", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}},
		PStates: []abi.PStateDef{}, Topologies: []abi.TopologyDef{}}
	env.deployNative(NewNativeModule(def), 1)
	if res := env.append("noreader", "d", abi.Int(1), AckAck); res.Offset != 0 {
		t.Errorf("offset %d", res.Offset)
	}

	// Errors.
	ctx := context.Background()
	if _, err := env.e.AppendToDepot(ctx, "nope", "d", abi.Int(1), AckAck); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown module: %v", err)
	}
	if _, err := env.e.AppendToDepot(ctx, "wc", "nope", abi.Int(1), AckAck); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown depot: %v", err)
	}
}

// partitionsDef has a depot of each partitioner kind and a topology that
// records, per partition, which records and hops it saw.
func partitionsDef() *abi.ModuleDef {
	str := &abi.Schema{Type: abi.SchemaString}
	return &abi.ModuleDef{
		Name: "parts",
		Depots: []abi.DepotDef{
			{Name: "byuser", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash, Key: abi.P().Key(abi.String("user"))}},
			{Name: "whole", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash}},
			{Name: "rand", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}},
			{Name: "internal", Partitioner: abi.DepotPartitioner{Kind: abi.DepotDisallow}},
		},
		PStates: []abi.PStateDef{
			// seen[key owned by the partition][label] = count
			{Name: "seen", Schema: abi.Schema{Type: abi.SchemaMap, Key: str,
				Val: &abi.Schema{Type: abi.SchemaMap, Key: str, Val: &abi.Schema{Type: abi.SchemaInt}}}},
			{Name: "total", Global: true, Schema: abi.Schema{Type: abi.SchemaMap, Key: str, Val: &abi.Schema{Type: abi.SchemaInt}}},
		},
		Topologies: []abi.TopologyDef{{Name: "t", Kind: abi.TopologyStream,
			Sources: []abi.SourceDef{{Depot: "byuser", Stage: "rec"}, {Depot: "whole", Stage: "rec"},
				{Depot: "rand", Stage: "fan"}, {Depot: "internal", Stage: "rec"}},
			Stages: []string{"rec", "fan", "recv", "global"}}},
	}
}

// ownKey returns a key owned by partition p of tasks.
func ownKey(p, tasks uint32) abi.Value {
	for i := 0; ; i++ {
		k := abi.String(fmt.Sprintf("k%d", i))
		kb, _ := abi.Encode(k)
		if abi.KeyPartition(kb, tasks) == p {
			return k
		}
	}
}

func partitionsNative(tasks uint32) *NativeModule {
	see := func(c *StageCtx, label string) error {
		return c.Transform("seen", abi.P().Key(ownKey(c.Partition(), tasks)).Key(abi.String(label)).Incr(1))
	}
	return NewNativeModule(partitionsDef()).
		Stage("t", "rec", func(c *StageCtx, p abi.Value) error {
			// Records land where their partitioner says.
			var key abi.Value
			switch c.Item().Depot {
			case 0:
				key, _ = p.Get(abi.String("user"))
			case 1:
				key = p
			}
			if c.Item().Depot <= 1 {
				kb, _ := abi.Encode(key)
				if want := abi.KeyPartition(kb, tasks); want != c.Partition() {
					return Poison(fmt.Errorf("record %v on partition %d, want %d", p, c.Partition(), want))
				}
			}
			if c.Item().Depot == 3 {
				return see(c, "internal")
			}
			// Appending to the disallow depot works with LOCAL only.
			if err := c.AppendLocal("internal", abi.String("from-rec"), AckNone); err != nil {
				return err
			}
			return see(c, "rec")
		}).
		Stage("t", "fan", func(c *StageCtx, p abi.Value) error {
			lbl := func(s string) abi.Value { return abi.List(abi.String(s), abi.Int(int64(c.Partition()))) }
			for _, err := range []error{
				c.Hop("recv", abi.PartitionAll, lbl("all")),
				c.Hop("recv", abi.PartitionGlobal, lbl("global")),
				c.Hop("recv", abi.PartitionOrigin, lbl("origin")),
				c.Hop("recv", abi.PartitionShuffle, lbl("shuffle")),
				c.HopDirect("recv", tasks-1, lbl("direct")),
				c.Hop("global", abi.PartitionGlobal, abi.Nil()),
			} {
				if err != nil {
					return err
				}
			}
			return nil
		}).
		Stage("t", "recv", func(c *StageCtx, p abi.Value) error {
			kind, _ := p.Index(0).AsString()
			from, _ := p.Index(1).AsInt()
			switch kind {
			case "global":
				if c.Partition() != 0 {
					return Poison(fmt.Errorf("global hop on %d", c.Partition()))
				}
			case "origin":
				if int64(c.Partition()) != from {
					return Poison(fmt.Errorf("origin hop from %d on %d", from, c.Partition()))
				}
			case "direct":
				if c.Partition() != tasks-1 {
					return Poison(fmt.Errorf("direct hop on %d", c.Partition()))
				}
			}
			return see(c, kind)
		}).
		Stage("t", "global", func(c *StageCtx, p abi.Value) error {
			return c.Transform("total", abi.P().Key(abi.String("n")).Incr(1))
		})
}

func TestPartitioners(t *testing.T) {
	const tasks = 4
	env := newEnv(t, fastConfig())
	env.deployNative(partitionsNative(tasks), tasks)
	const n = 40
	for i := range n {
		u := abi.String(fmt.Sprintf("user%d", i))
		r := env.append("parts", "byuser", abi.Map(abi.MapEntry{Key: abi.String("user"), Val: u}, abi.MapEntry{Key: abi.String("i"), Val: abi.Int(int64(i))}), AckAck)
		kb, _ := abi.Encode(u)
		if r.Partition != abi.KeyPartition(kb, tasks) {
			t.Errorf("byuser record %d on partition %d", i, r.Partition)
		}
		env.append("parts", "whole", abi.Int(int64(i)), AckAck)
		env.append("parts", "rand", abi.Int(int64(i)), AckAck)
	}
	if _, err := env.e.AppendToDepot(context.Background(), "parts", "internal", abi.Int(1), AckAck); !errors.Is(err, ErrInvalid) {
		t.Errorf("client append to a disallow depot: %v", err)
	}
	env.waitIdle("parts")
	if dls := env.deadLetters("parts", tasks); len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls)
	}
	sum := func(label string) (total int64, per [tasks]int64) {
		for p := range uint32(tasks) {
			vs, err := env.e.SelectPartition(context.Background(), "parts", "seen", p, abi.P().Key(ownKey(p, tasks)).Key(abi.String(label)))
			if err != nil {
				t.Fatal(err)
			}
			per[p], _ = vs[0].AsInt()
			total += per[p]
		}
		return total, per
	}
	if got, _ := sum("rec"); got != 2*n {
		t.Errorf("rec: %d", got)
	}
	if got, _ := sum("internal"); got != 2*n {
		t.Errorf("internal (LOCAL appends to the disallow depot): %d", got)
	}
	if _, per := sum("all"); per != [tasks]int64{n, n, n, n} {
		t.Errorf("all: %v", per)
	}
	if _, per := sum("global"); per != [tasks]int64{n, 0, 0, 0} {
		t.Errorf("global: %v", per)
	}
	if got, _ := sum("origin"); got != n {
		t.Errorf("origin: %d", got)
	}
	if got, per := sum("shuffle"); got != n || per[0] == n || per[1] == n || per[2] == n || per[3] == n {
		t.Errorf("shuffle: %v", per)
	}
	if _, per := sum("direct"); per != [tasks]int64{0, 0, 0, n} {
		t.Errorf("direct: %v", per)
	}
	if got := env.count("parts", "total", abi.String("n")); got != n {
		t.Errorf("global PState: %d", got)
	}
}

// faultyDef is wordcount whose stages misbehave on words that say so.
func faultyNative(def *abi.ModuleDef, tasks uint32, hooks map[string]StageFunc) *NativeModule {
	nm := wordcountNative(def)
	count := nm.stages[[2]string{"wordcount", "count"}]
	split := nm.stages[[2]string{"wordcount", "split"}]
	nm.Stage("wordcount", "split", func(c *StageCtx, p abi.Value) error {
		s, _ := p.AsString()
		for _, w := range strings.Fields(s) {
			if h := hooks["split:"+w]; h != nil {
				if err := h(c, p); err != nil {
					return err
				}
			}
		}
		return split(c, p)
	})
	nm.Stage("wordcount", "count", func(c *StageCtx, p abi.Value) error {
		w, _ := p.AsString()
		if h := hooks["count:"+w]; h != nil {
			if err := h(c, p); err != nil {
				return err
			}
		}
		return count(c, p)
	})
	return nm
}

func TestPoisonAndRejections(t *testing.T) {
	const tasks = 4
	env := newEnv(t, fastConfig())
	hooks := map[string]StageFunc{
		// Poisons before writing anything: the batch commits as it is.
		"split:poison": func(c *StageCtx, p abi.Value) error { return Poison(errors.New("bad sentence")) },
		// Writes, then poisons: the batch runs again without the item.
		"split:dirty": func(c *StageCtx, p abi.Value) error {
			if err := c.AppendLocal("sentences", abi.String("never appended"), AckNone); err != nil {
				return err
			}
			return Poison(errors.New("dirty poison"))
		},
		// A hop stage poisons one word; the sentence's other words count.
		"count:badword": func(c *StageCtx, p abi.Value) error { return Poison(errors.New("bad word")) },
		// A transform the host rejects (a key of another partition).
		"count:wrongpart": func(c *StageCtx, p abi.Value) error {
			return c.Transform("counts", abi.P().Key(ownKey((c.Partition()+1)%tasks, tasks)).Incr(1))
		},
	}
	env.deployNative(faultyNative(wordcountDef("wc"), tasks, hooks), tasks)
	ctx := context.Background()
	sents := []string{"a b", "poison a", "b c", "a dirty", "c badword a", "wrongpart c", "a"}
	var perr *ProcessingError
	for _, s := range sents {
		_, err := env.e.AppendToDepot(ctx, "wc", "sentences", abi.String(s), AckAck)
		bad := strings.Contains(s, "poison") || strings.Contains(s, "dirty") || strings.Contains(s, "bad") || strings.Contains(s, "wrong")
		if bad != errors.As(err, &perr) {
			t.Errorf("append %q: %v", s, err)
		}
	}
	env.waitIdle("wc")
	for w, n := range map[string]int64{"a": 3, "b": 2, "c": 3, "poison": 0, "dirty": 0, "badword": 0, "wrongpart": 0} {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
	dls := env.deadLetters("wc", tasks)
	got := map[string]DeadLetter{}
	for _, d := range dls {
		s, _ := d.Payload.AsString()
		got[s] = d
	}
	if len(dls) != 4 {
		t.Errorf("%d dead letters: %+v", len(dls), dls)
	}
	if d := got["poison a"]; d.Stage != "split" || d.Reason != "poison" || d.Depot != "sentences" || !strings.Contains(d.Error.Message, "bad sentence") {
		t.Errorf("poison: %+v", d)
	}
	if d := got["a dirty"]; d.Reason != "poison" || !strings.Contains(d.Error.Message, "dirty poison") {
		t.Errorf("dirty: %+v", d)
	}
	if d := got["badword"]; d.Stage != "count" || d.Depot != "" || !strings.Contains(d.Error.Message, "bad word") {
		t.Errorf("badword: %+v", d)
	}
	if d := got["wrongpart"]; d.Reason != "the host rejected an effect" || d.Error.Kind != "EWRONGPART" {
		t.Errorf("wrongpart: %+v", d)
	}
	// The dirty item's append was discarded with it.
	dep, _ := env.db.LookupDepot("wc", "sentences")
	total := uint64(0)
	for p := range uint32(tasks) {
		_, next, _ := dep.Bounds(p)
		total += next
	}
	if total != uint64(len(sents)) {
		t.Errorf("the depot holds %d records, want %d", total, len(sents))
	}
}

func TestRetry(t *testing.T) {
	env := newEnv(t, fastConfig())
	var mu sync.Mutex
	attempts := map[string][]int{}
	hooks := map[string]StageFunc{
		// Fails twice (after writing), then succeeds.
		"count:flaky": func(c *StageCtx, p abi.Value) error {
			mu.Lock()
			attempts["flaky"] = append(attempts["flaky"], c.Attempt())
			mu.Unlock()
			if c.Attempt() < 2 {
				if err := c.Transform("counts", abi.P().Key(p).Incr(100)); err != nil {
					return err
				}
				return errors.New("not yet")
			}
			return nil
		},
		// Always fails: dead-lettered after MaxAttempts (4).
		"split:never": func(c *StageCtx, p abi.Value) error {
			mu.Lock()
			attempts["never"] = append(attempts["never"], c.Attempt())
			mu.Unlock()
			return errors.New("still failing")
		},
	}
	env.deployNative(faultyNative(wordcountDef("wc"), 2, hooks), 2)
	env.append("wc", "sentences", abi.String("a flaky b"), AckAck)
	if _, err := env.e.AppendToDepot(context.Background(), "wc", "sentences", abi.String("never x"), AckAck); err == nil {
		t.Error("the exhausted record's ACK append succeeded")
	}
	env.append("wc", "sentences", abi.String("a"), AckAck)
	env.waitIdle("wc")
	for w, n := range map[string]int64{"a": 2, "b": 1, "flaky": 1, "never": 0, "x": 0} {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts["flaky"]) != "[0 1 2]" || fmt.Sprint(attempts["never"]) != "[0 1 2 3]" {
		t.Errorf("attempts: %v", attempts)
	}
	dls := env.deadLetters("wc", 2)
	if len(dls) != 1 || dls[0].Attempts != 4 || !strings.Contains(dls[0].Reason, "retried 4 times") || dls[0].Error.Message != "still failing" {
		t.Errorf("dead letters: %+v", dls)
	}
}

// TestFailingCalls: calls that fail (a trap, a timeout...) discard the
// processor; the batch is retried on a fresh one and nothing is lost or
// counted twice.
func TestFailingCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func(int) error
	}{
		{"plain", nil},
		{"fatal", func(n int) error { return &CallError{Detail: abi.ErrorDetail{Kind: "trap", Message: "unreachable"}} }},
		{"deadline", func(n int) error { return context.DeadlineExceeded }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, fastConfig())
			nm := wordcountNative(wordcountDef("wc"))
			inner, err := nm.Factory()
			if err != nil {
				t.Fatal(err)
			}
			cf := &countingFactory{inner: inner, failCalls: 5, failWith: tc.err}
			env.deploy(nm.Def, 2, cf.factory)
			sents, want := sentences(50, 7)
			for _, s := range sents {
				env.append("wc", "sentences", abi.String(s), AckAppendAck)
			}
			env.waitIdle("wc")
			for w, n := range want {
				if got := env.count("wc", "counts", abi.String(w)); got != n {
					t.Errorf("count[%s] = %d, want %d", w, got, n)
				}
			}
			if made, closed := cf.made.Load(), cf.closed.Load(); made < 6 || closed < 5 {
				t.Errorf("processors made %d, closed %d; every failed call should discard its processor", made, closed)
			}
			if dls := env.deadLetters("wc", 2); len(dls) != 0 {
				t.Errorf("dead letters: %+v", dls)
			}
		})
	}
}

// TestPoisonCall: an item that makes every call fail (a panic: a trap) is
// isolated and dead-lettered; the items batched with it are processed.
func TestPoisonCall(t *testing.T) {
	env := newEnv(t, Config{BackoffBase: 1, BackoffMax: 2, MaxAttempts: 3, MaxBatchItems: 100, Seed: 3})
	hooks := map[string]StageFunc{
		"split:crash": func(c *StageCtx, p abi.Value) error { panic("guest crashed") },
	}
	env.deployNative(faultyNative(wordcountDef("wc"), 1, hooks), 1)
	// Appended before the task reads them, so they share a batch.
	dep, err := env.db.LookupDepot("wc", "sentences")
	if err != nil {
		t.Fatal(err)
	}
	_ = dep
	var recs []string
	for i := range 20 {
		if i == 7 {
			recs = append(recs, "crash here")
		} else {
			recs = append(recs, "ok")
		}
	}
	for _, s := range recs {
		env.append("wc", "sentences", abi.String(s), AckNone)
	}
	env.waitIdle("wc")
	if got := env.count("wc", "counts", abi.String("ok")); got != 19 {
		t.Errorf("count[ok] = %d", got)
	}
	dls := env.deadLetters("wc", 1)
	if len(dls) != 1 || dls[0].Error.Kind != "panic" || dls[0].Attempts != 3 {
		t.Errorf("dead letters: %+v", dls)
	}
}

func TestRestartResumes(t *testing.T) {
	env := newEnv(t, fastConfig())
	def := wordcountDef("wc")
	env.deployNative(wordcountNative(def), 4)
	sents, want := sentences(300, 3)
	for _, s := range sents[:150] {
		env.append("wc", "sentences", abi.String(s), AckAppendAck)
	}
	// Close drains what is in flight; what was not read yet stays for
	// after the restart.
	env.restart()
	env.deployNative(wordcountNative(def), 0)
	for _, s := range sents[150:] {
		env.append("wc", "sentences", abi.String(s), AckAppendAck)
	}
	env.waitIdle("wc")
	for w, n := range want {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
	// Again, with nothing new: nothing is replayed.
	env.restart()
	env.deployNative(wordcountNative(def), 4)
	env.waitIdle("wc")
	for w, n := range want {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("after the second restart: count[%s] = %d, want %d", w, got, n)
		}
	}
}

func TestDeployChecks(t *testing.T) {
	env := newEnv(t, fastConfig())
	ctx := context.Background()
	f, _ := wordcountNative(wordcountDef("wc")).Factory()
	for _, tc := range []struct {
		spec ModuleSpec
		want string
	}{
		{ModuleSpec{Def: wordcountDef("wc"), Tasks: 3, NewProcessor: f}, "power of two"},
		{ModuleSpec{Def: wordcountDef("wc"), NewProcessor: f}, "power of two"},
		{ModuleSpec{Def: wordcountDef("wc"), Tasks: 2}, "NewProcessor"},
		{ModuleSpec{Def: &abi.ModuleDef{Name: "x", Depots: []abi.DepotDef{{Name: DeadLetterDepot, Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}}}}, Tasks: 1, NewProcessor: f}, "reserved"},
		{ModuleSpec{Def: &abi.ModuleDef{Name: "bad name!"}, Tasks: 1, NewProcessor: f}, "module name"},
	} {
		if err := env.e.Deploy(ctx, tc.spec); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("deploy %v: %v, want an error about %q", tc.spec.Def.Name, err, tc.want)
		}
	}
	env.deploy(wordcountDef("wc"), 2, f)
	if err := env.e.Deploy(ctx, ModuleSpec{Def: wordcountDef("wc"), Tasks: 2, NewProcessor: f}); err == nil || !strings.Contains(err.Error(), "already deployed") {
		t.Errorf("second deploy: %v", err)
	}
	env.restart()
	if err := env.e.Deploy(ctx, ModuleSpec{Def: wordcountDef("wc"), Tasks: 4, NewProcessor: f}); err == nil || !strings.Contains(err.Error(), "fixed at first deploy") {
		t.Errorf("deploy with another task count: %v", err)
	}
	other := wordcountDef("wc")
	other.Topologies[0].Stages = append(other.Topologies[0].Stages, "extra")
	if err := env.e.Deploy(ctx, ModuleSpec{Def: other, NewProcessor: f}); err == nil || !strings.Contains(err.Error(), "updates are not supported") {
		t.Errorf("deploy with another definition: %v", err)
	}
	env.deploy(wordcountDef("wc"), 0, f)
	if n, _ := env.e.Tasks("wc"); n != 2 {
		t.Errorf("tasks %d", n)
	}
}

// TestNestedAck: a topology's APPEND with ACK joins the appended record's
// processing into the appending item's tree, so the client's ACK waits for
// it.
func TestNestedAck(t *testing.T) {
	def := &abi.ModuleDef{
		Name: "chain",
		Depots: []abi.DepotDef{
			{Name: "in", Partitioner: abi.DepotPartitioner{Kind: abi.DepotRandom}},
			{Name: "mid", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash}},
		},
		PStates: []abi.PStateDef{{Name: "done", Schema: abi.Schema{Type: abi.SchemaMap,
			Key: &abi.Schema{Type: abi.SchemaInt}, Val: &abi.Schema{Type: abi.SchemaBool}}}},
		Topologies: []abi.TopologyDef{
			{Name: "first", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "in", Stage: "fwd"}}, Stages: []string{"fwd"}},
			{Name: "second", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "mid", Stage: "mark"}}, Stages: []string{"mark"}},
		},
	}
	nm := NewNativeModule(def).
		Stage("first", "fwd", func(c *StageCtx, p abi.Value) error {
			if err := c.Emit(abi.String("forwarded")); err != nil {
				return err
			}
			return c.Append("mid", p, AckAck)
		}).
		Stage("second", "mark", func(c *StageCtx, p abi.Value) error {
			return c.Transform("done", abi.P().Key(p).Set(abi.Bool(true)))
		})
	env := newEnv(t, fastConfig())
	env.deployNative(nm, 4)
	for i := range 30 {
		res := env.append("chain", "in", abi.Int(int64(i)), AckAck)
		if s, _ := res.AckReturns["first"].AsString(); s != "forwarded" {
			t.Errorf("ack returns %v", res.AckReturns)
		}
		vs, err := env.e.Select(context.Background(), "chain", "done", abi.P().Key(abi.Int(int64(i))))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := vs[0].AsBool(); !b {
			t.Fatalf("record %d: the ACK returned before the appended record was processed", i)
		}
	}
}

// TestRestartReplaysOnlyIncomplete: after a stop that leaves a tree
// incomplete (here: an item retrying), a restart processes that record
// again, but not the later records whose trees were complete.
func TestRestartReplaysOnlyIncomplete(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAttempts = 1000
	env := newEnv(t, cfg)
	var stuck sync.Mutex
	stuckOn := true
	hooks := map[string]StageFunc{
		"count:stuck": func(c *StageCtx, p abi.Value) error {
			stuck.Lock()
			defer stuck.Unlock()
			if stuckOn {
				return errors.New("stuck")
			}
			return nil
		},
	}
	def := wordcountDef("wc")
	env.deployNative(faultyNative(def, 1, hooks), 1)
	env.append("wc", "sentences", abi.String("stuck a"), AckAppendAck)
	env.append("wc", "sentences", abi.String("b"), AckAck)
	env.append("wc", "sentences", abi.String("c"), AckAck)
	if got := env.count("wc", "counts", abi.String("a")); got != 1 {
		t.Fatalf("count[a] = %d", got)
	}
	// Stop hard: the stuck tree stays incomplete.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := env.e.Close(ctx); err == nil {
		t.Error("Close with a done context reported a drain")
	}
	if err := env.db.Close(); err != nil {
		t.Fatal(err)
	}
	env.e, env.db = nil, nil
	env.open()
	stuck.Lock()
	stuckOn = false
	stuck.Unlock()
	env.deployNative(faultyNative(def, 1, hooks), 1)
	env.waitIdle("wc")
	for w, n := range map[string]int64{"stuck": 1, "a": 2, "b": 1, "c": 1} {
		if got := env.count("wc", "counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
}

func TestProgressSnapshot(t *testing.T) {
	s := &srcState{readOff: 10}
	if p := s.snapshot(nil); p.low != 10 || p.hi != 10 || len(p.inflight) != 0 {
		t.Errorf("idle: %+v", p)
	}
	for off := uint64(10); off < 20; off++ {
		s.add(off)
	}
	s.readOff = 20
	for _, off := range []uint64{10, 12, 13, 15, 19} {
		s.complete(off)
	}
	p := s.snapshot(map[uint64]bool{14: true})
	if p.low != 11 || p.hi != 20 || fmt.Sprint(p.inflight) != "[16 17 18]" {
		t.Errorf("snapshot: %+v", p)
	}
	for off, want := range map[uint64]bool{10: false, 11: false, 12: true, 14: true, 16: false, 19: true, 20: false} {
		if p.done(off) != want {
			t.Errorf("done(%d) = %v", off, !want)
		}
	}
	if n := p.remaining(0, 25); n != 1+3+5 {
		t.Errorf("remaining %d", n)
	}
	// Round trip through the record.
	ts := &topoState{info: &topoInfo{def: &abi.TopologyDef{Name: "t", Stages: []string{"s"}}}, nextBatch: 7,
		sources: []*srcState{{info: &sourceInfo{depot: &depotInfo{def: &abi.DepotDef{Name: "d"}}}}}}
	prog, err := decodeProgress(encodeProgress(ts, []srcProgress{p}))
	if err != nil {
		t.Fatal(err)
	}
	if got := prog.srcs[srcKey{"d", "s"}]; prog.batch != 7 || !got.equal(&p) {
		t.Errorf("round trip: %+v", prog)
	}
	// More in flight than a record lists: hi is the first left out.
	s = &srcState{}
	for off := range uint64(maxListed + 10) {
		s.add(off)
	}
	s.readOff = maxListed + 10
	if p := s.snapshot(nil); p.low != 0 || len(p.inflight) != maxListed || p.hi != maxListed+1 {
		t.Errorf("capped: low %d hi %d listed %d", p.low, p.hi, len(p.inflight))
	}
	// After a restart, offsets the loaded progress lists as not done and
	// not read again yet stay listed.
	s = &srcState{readOff: 12, loaded: srcProgress{low: 11, hi: 20, inflight: []uint64{13, 17}}}
	s.add(11)
	if p := s.snapshot(nil); p.low != 11 || p.hi != 20 || fmt.Sprint(p.inflight) != "[13 17]" {
		t.Errorf("after restart: %+v", p)
	}
	if _, err := decodeProgress([]byte{0x81, 0xa7, 's', 'o', 'u', 'r', 'c', 'e', 's', 0x91, 0x93, 0xa1, 'd', 0xa1, 's', 0x01}); err == nil {
		t.Error("a damaged record decoded")
	}
}

// TestCloseWithStuckTree: Close cannot drain a tree whose item keeps
// failing; when its context ends it stops the tasks anyway, and the ACK
// append waiting for that tree fails with ErrClosed.
func TestCloseWithStuckTree(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAttempts = 1000
	cfg.BackoffBase, cfg.BackoffMax = 20*time.Millisecond, 20*time.Millisecond
	env := newEnv(t, cfg)
	hooks := map[string]StageFunc{
		"count:stuck": func(c *StageCtx, p abi.Value) error { return errors.New("stuck") },
	}
	env.deployNative(faultyNative(wordcountDef("wc"), 2, hooks), 2)
	errc := make(chan error, 1)
	go func() {
		_, err := env.e.AppendToDepot(context.Background(), "wc", "sentences", abi.String("a stuck"), AckAck)
		errc <- err
	}()
	env.waitFor(func() bool { return env.count("wc", "counts", abi.String("a")) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := env.e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("the waiting ACK append: %v", err)
	}
	if _, err := env.e.AppendToDepot(context.Background(), "wc", "sentences", abi.String("late"), AckAck); !errors.Is(err, ErrClosed) {
		t.Errorf("append after Close: %v", err)
	}
	if err := env.e.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := env.db.Close(); err != nil {
		t.Fatal(err)
	}
	env.e, env.db = nil, nil
}
