package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

// abi11Module is the module of behaviours (i) to (l), for SDKs with the
// feature "abi-1.1".
const abi11Module = "internal/conformance/modules/abi11/"

// (i) a microbatch topology hops every record to its group's partition
// and (j) aggregates it there with every aggregator; (k) query topologies
// read one partition or all, aggregate into their result, invoke each
// other and are invoked by a stream topology; bad arguments fail with the
// host's message; (l) a tick depot feeds a stream topology.
func TestABI11(t *testing.T) {
	acrossSDKsWith(t, "abi-1.1", func(l string) string { return abi11Module + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		groups := []string{"a", "b", "c"}
		for i := range 10 {
			r := rec("k", fmt.Sprintf("k%d", i), "g", groups[i%3], "n", i*7%10)
			if _, err := n.e.AppendToDepot(context.Background(), def.Name, "events", r, 1); err != nil {
				t.Fatal(err)
			}
		}
		n.waitIdle(def.Name)
		only := *def
		only.PStates = nil
		for _, ps := range def.PStates {
			if ps.Name == "$$aggs" {
				only.PStates = append(only.PStates, ps)
			}
		}
		tr.lines = append(tr.lines, n.dump(&only, nil)...)

		invoke := func(q string, args ...abi.Value) abi.Value {
			v, err := n.e.Invoke(context.Background(), def.Name, q, args, 0)
			if err != nil {
				tr.add("query %s %s: error %s", q, show(abi.List(args...)), strings.TrimPrefix(err.Error(), "engine: "))
				return abi.Nil()
			}
			tr.add("query %s %s: %s", q, show(abi.List(args...)), show(v))
			return v
		}
		a := invoke("group", abi.String("a"))
		if got := field(a, "count"); !abi.Equal(got, abi.Int(4)) {
			t.Errorf("group a count %v (%v), want 4", got, a)
		}
		if got := field(a, "top"); !abi.Equal(got, abi.List(abi.List(abi.Int(3), abi.String("k9")), abi.List(abi.Int(2), abi.String("k6")))) {
			t.Errorf("group a top %v", got)
		}
		invoke("group", abi.String("nobody"))
		all := invoke("all")
		if got := field(all, "total"); !abi.Equal(got, abi.Int(10)) {
			t.Errorf("all total %v (%v), want 10", got, all)
		}
		if got := field(all, "groups"); !abi.Equal(got, abi.Map(abi.MapEntry{Key: abi.String("a"), Val: abi.Int(4)},
			abi.MapEntry{Key: abi.String("b"), Val: abi.Int(3)}, abi.MapEntry{Key: abi.String("c"), Val: abi.Int(3)})) {
			t.Errorf("all groups %v", got)
		}
		invoke("both", abi.String("a"), abi.String("c"))
		invoke("group")
		invoke("both", abi.String("a"))

		rets := tr.ack(n, def.Name, "calls", rec("k", "c1", "g", "b"))
		if got := rets["caller"]; !abi.Equal(got, field(invoke("group", abi.String("b")), "max")) {
			t.Errorf("caller ack return %v", got)
		}
		only.PStates = nil
		for _, ps := range def.PStates {
			if ps.Name == "$$called" {
				only.PStates = append(only.PStates, ps)
			}
		}
		tr.lines = append(tr.lines, n.dump(&only, nil)...)

		// Ticks arrive on a timer: the transcript says only that every
		// partition counted at least 3, and nothing was dead-lettered.
		deadline := time.Now().Add(30 * time.Second)
		for p := range uint32(tasks) {
			for {
				vs, err := n.e.SelectPartition(context.Background(), def.Name, "$$ticks", p, abi.P())
				if err != nil {
					t.Fatal(err)
				}
				if c, _ := vs[0].AsInt(); c >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("partition %d counted %v ticks after 30 s", p, vs)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		tr.add("ticks: every partition counted at least 3")
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

func field(v abi.Value, k string) abi.Value {
	f, _ := v.Get(abi.String(k))
	return f
}
