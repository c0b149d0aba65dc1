package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/rt"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// BenchmarkStages measures the SDK's guest runtime running this module's
// stages natively on batches of 1000 items (what the engine sends under
// load), against a host that accepts every effect and answers every
// query with 1: the guest's share of the cost of a wasm call, without
// wasm. The host's engine benchmarks (internal/engine) run the same
// batches through the module compiled to wasm.
func BenchmarkStages(b *testing.B) {
	const items = 1000
	r := rand.New(rand.NewPCG(1, 2))
	payloads := map[string][][]byte{}
	for i := range items {
		ws := make([]string, 8)
		for j := range ws {
			ws[j] = fmt.Sprintf("word%d", r.IntN(1000))
		}
		s, _ := squall.Encode(squall.MustValueOf(map[string]any{"user": fmt.Sprintf("user%d", i%100), "text": strings.Join(ws, " ")}))
		w, _ := squall.Encode(squall.String(fmt.Sprintf("word%d", r.IntN(1000))))
		n, _ := squall.Encode(squall.Int(8))
		payloads["split"] = append(payloads["split"], s)
		payloads["count"] = append(payloads["count"], w)
		payloads["sum"] = append(payloads["sum"], n)
	}
	for stage, kind := range map[string]uint8{"split": wire.ItemRecord, "count": wire.ItemHop, "sum": wire.ItemHop} {
		idx := map[string]uint16{"split": 0, "count": 1, "sum": 2}[stage]
		b.Run(stage, func(b *testing.B) {
			inst := rt.NewInstance(nil, nopHost{})
			init := wire.AppendHeader(nil, wire.KindInit, 0)
			init = append(init[:4], make([]byte, 28)...)
			init[4], init[8] = 1, 4 // host major 1, 4 tasks
			copy(inst.Inbox(len(init)), init)
			if st := inst.Init(len(init)); st != wire.StatusOK {
				b.Fatal("init failed")
			}
			frame := batchFrame(kind, idx, payloads[stage])
			n := copy(inst.Inbox(len(frame)), frame)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				copy(inst.Inbox(n), frame)
				if st := inst.Process(n); st != wire.StatusOK {
					b.Fatal("process failed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
		})
	}
}

// batchFrame encodes a batch frame of items of one kind for one stage.
func batchFrame(kind uint8, stage uint16, payloads [][]byte) []byte {
	b := wire.AppendHeader(nil, wire.KindBatch, uint32(len(payloads)))
	b = wire.AppendU64(b, 1) // batch id
	b = wire.AppendU32(b, 0) // partition
	b = wire.AppendU32(b, 0) // attempt
	b = wire.AppendU16(b, 0) // topology
	b = append(b, make([]byte, 6)...)
	b = wire.AppendU64(b, 1e18) // time
	b = wire.AppendU64(b, 7)    // seed
	for i, p := range payloads {
		b = wire.AppendU32(b, uint32(len(p)))
		b = append(b, kind, 0)
		b = wire.AppendU16(b, stage)
		depot, off := uint16(0), uint64(i)
		if kind == wire.ItemHop {
			depot, off = wire.NoDepot, 0
		}
		b = wire.AppendU16(b, depot)
		b = wire.AppendU16(b, 0) // attempt
		b = wire.AppendU32(b, 0) // source partition
		b = wire.AppendU64(b, off)
		b = wire.AppendU64(b, 1e18)
		b = append(b, p...)
	}
	return b
}

// nopHost accepts every effect and answers every query with a response
// of one OK result holding 1.
type nopHost struct{}

func (nopHost) Flush([]byte) int32 { return 0 }
func (nopHost) Take([]byte) int32  { return wire.ENOENT }
func (nopHost) Query(req, out []byte) int32 {
	resp := wire.AppendHeader(nil, wire.KindResponse, 1)
	resp = wire.AppendU32(resp, 1)
	resp = wire.AppendU32(resp, 0)
	resp = append(resp, 1)
	return int32(copy(out, resp))
}
