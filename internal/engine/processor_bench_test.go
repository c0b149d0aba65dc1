package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// Benchmarks of the processors alone, without storage: the word count
// module's batches (1000 items, as the engine forms them under load) run
// by the native stages and by the wasm module, against a handler that
// accepts every effect and answers every query with 1. The difference
// between the two is the cost of running the stages in wasm; the
// engine's own work (storage, routing, commits) is the same for both and
// is measured by BenchmarkWordcount*.

// nopHandler accepts every effect and answers every query with 1.
type nopHandler struct{}

func (nopHandler) Effects(context.Context, []abi.Effect) []abi.Rejection { return nil }
func (nopHandler) Query(_ context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	rs := make([]abi.Result, len(q.Queries))
	for i := range rs {
		rs[i] = abi.Result{Value: abi.Int(1)}
	}
	return &abi.QueryResponse{Results: rs}
}

// wordcountBatches returns a batch of each stage of the example module:
// split (sentence records of 8 words), count (word hops) and sum (hops of
// word counts).
func wordcountBatches(items int) map[string]*abi.BatchFrame {
	r := rand.New(rand.NewPCG(1, 2))
	mk := func(stage uint16, kind abi.ItemKind, payload func(i int) abi.Value) *abi.BatchFrame {
		f := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: 1, TimeUnixNano: 1e18, Seed: 7}}
		for i := range items {
			p, err := abi.Encode(payload(i))
			if err != nil {
				panic(err)
			}
			it := abi.BatchItem{Kind: kind, Stage: stage, Depot: abi.NoDepot, Payload: p, EventTimeUnixNano: 1e18}
			if kind == abi.ItemRecord {
				it.Depot, it.Offset = 0, uint64(i)
			}
			f.Items = append(f.Items, it)
		}
		return f
	}
	return map[string]*abi.BatchFrame{
		"split": mk(0, abi.ItemRecord, func(i int) abi.Value {
			ws := make([]string, 8)
			for j := range ws {
				ws[j] = fmt.Sprintf("word%d", r.IntN(1000))
			}
			return sentenceRecord(fmt.Sprintf("user%d", i%100), strings.Join(ws, " "))
		}),
		"count": mk(1, abi.ItemHop, func(int) abi.Value { return abi.String(fmt.Sprintf("word%d", r.IntN(1000))) }),
		"sum":   mk(2, abi.ItemHop, func(int) abi.Value { return abi.Int(8) }),
	}
}

func benchProcessor(b *testing.B, module func(*testing.B) (*abi.ModuleDef, ProcessorFactory)) {
	const items = 1000
	_, factory := module(b)
	for _, stage := range []string{"split", "count", "sum"} {
		batch := wordcountBatches(items)[stage]
		b.Run(stage, func(b *testing.B) {
			ctx := context.Background()
			p, err := factory(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(ctx)
			// The goroutine keeps its thread so that the thread's CPU time
			// measures the calls, whatever else shares the machine.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, ok := threadCPUTime()
			for range b.N {
				if err := p.Process(ctx, batch, nopHandler{}); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := threadCPUTime()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
			if ok {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*items), "cpu-ns/item")
			}
		})
	}
}

// BenchmarkProcessorNative runs the word count batches through the native
// stages.
func BenchmarkProcessorNative(b *testing.B) { benchProcessor(b, nativeExample) }

// BenchmarkProcessorWasm runs the word count batches through the Go SDK's
// example module in wasm.
func BenchmarkProcessorWasm(b *testing.B) {
	benchProcessor(b, func(b *testing.B) (*abi.ModuleDef, ProcessorFactory) { return wasmExample(b, 4) })
}
