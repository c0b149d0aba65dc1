package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
)

// BenchmarkWordcountStages runs batches of the wordcount example's two
// stages (1000 items, as the engine forms them under load) through one
// instance of the example in each compiled guest language, against a
// handler that accepts every effect, without the engine or storage. It is
// the guest's share of BenchmarkWordcount (plus the host's per-call work),
// reported as CPU ns per item of the benchmark's thread: what to compare
// languages and SDK changes on, whatever else shares the machine.
func BenchmarkWordcountStages(b *testing.B) {
	const items = 1000
	for _, l := range []guestLang{goLang, rustLang} {
		b.Run(l.name, func(b *testing.B) { benchStages(b, l, items) })
	}
}

// benchStages runs the stage batches through the wordcount example of l.
func benchStages(b *testing.B, l guestLang, items int) {
	n := newNode(b, benchConfig(b))
	m, def := n.compile("wordcount", l.wasm(b, l.wordcount))
	split, count := stageIndex(b, def, "split"), stageIndex(b, def, "count")
	r := rand.New(rand.NewPCG(1, 2))
	batches := []struct {
		name  string
		batch *abi.BatchFrame
	}{
		{"split", stageBatch(items, split, abi.ItemRecord, func(i int) abi.Value {
			ws := make([]string, 8)
			for j := range ws {
				ws[j] = fmt.Sprintf("w%d", r.IntN(1000))
			}
			return rec("user", fmt.Sprintf("user%d", i%100), "text", strings.Join(ws, " "))
		})},
		{"count", stageBatch(items, count, abi.ItemHop, func(int) abi.Value { return abi.String(fmt.Sprintf("w%d", r.IntN(1000))) })},
	}
	for _, s := range batches {
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			in, err := m.Instantiate(ctx, host.InitParams{Tasks: tasks})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close(ctx)
			// The goroutine keeps its thread so that the thread's CPU
			// time measures the calls alone.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, ok := threadCPUTime()
			for b.Loop() {
				if _, err := in.Process(ctx, s.batch, acceptAll{}); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := threadCPUTime()
			if ok {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*items), "cpu-ns/item")
			}
		})
	}
}

// stageIndex is the index of the stage name in the module's first
// topology.
func stageIndex(b *testing.B, def *abi.ModuleDef, name string) uint16 {
	b.Helper()
	for i, s := range def.Topologies[0].Stages {
		if s == name {
			return uint16(i)
		}
	}
	b.Fatalf("module %s has no stage %q", def.Name, name)
	return 0
}

// stageBatch is a batch of items of one stage with the given payloads.
func stageBatch(items int, stage uint16, kind abi.ItemKind, payload func(i int) abi.Value) *abi.BatchFrame {
	f := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: 1, TimeUnixNano: 1e18, Seed: 7}}
	for i := range items {
		p, err := abi.Encode(payload(i))
		if err != nil {
			panic(err) // lint:allow-panic the benchmark's own payloads always encode
		}
		it := abi.BatchItem{Kind: kind, Stage: stage, Depot: abi.NoDepot, Payload: p, EventTimeUnixNano: 1e18}
		if kind == abi.ItemRecord {
			it.Depot, it.Offset = 0, uint64(i)
		}
		f.Items = append(f.Items, it)
	}
	return f
}

// acceptAll accepts every effect and answers every query with 1.
type acceptAll struct{}

func (acceptAll) Effects(context.Context, []abi.Effect) []abi.Rejection { return nil }
func (acceptAll) Query(_ context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	rs := make([]abi.Result, len(q.Queries))
	for i := range rs {
		rs[i] = abi.Result{Value: abi.Int(1)}
	}
	return &abi.QueryResponse{Results: rs}
}
