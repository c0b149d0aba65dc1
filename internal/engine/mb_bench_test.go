package engine

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// BenchmarkMicrobatchTransfers is the native baseline of
// internal/e2e's BenchmarkBankTransfers: b.N random transfers between 256
// funded accounts through the native bank module's microbatch topology
// (funds check, debit, hop, credit, per-account history counts), on 4
// partitions, from the deploy to the commit of the last microbatch.
func BenchmarkMicrobatchTransfers(b *testing.B) {
	env := newEnv(b, Config{Logger: testLogger(b)})
	def := bankDef("bank", 1000)
	fill := func(depot, key string, recs []abi.Value) {
		d, err := env.db.Depot("bank", depot, storage.DepotOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var parts [4][]storage.Record
		for _, r := range recs {
			kb, _ := abi.Encode(field(r, key))
			enc, _ := abi.Encode(r)
			p := abi.KeyPartition(kb, 4)
			parts[p] = append(parts[p], storage.Record{Key: kb, Value: enc})
		}
		for p, rs := range parts {
			for len(rs) > 0 {
				n := min(len(rs), 1000)
				if _, err := d.Append(context.Background(), uint32(p), rs[:n]...); err != nil {
					b.Fatal(err)
				}
				rs = rs[n:]
			}
		}
	}
	var deps []abi.Value
	for i := range 256 {
		deps = append(deps, deposit(account(i), 1_000_000_000))
	}
	fill("deposits", "account", deps)
	r := rand.New(rand.NewPCG(11, 12))
	trs := make([]abi.Value, b.N)
	for i := range trs {
		from, to := r.IntN(256), r.IntN(255)
		if to >= from {
			to++
		}
		trs[i] = transfer(i, account(from), account(to), int64(1+r.IntN(1000)))
	}
	fill("transfers", "from", trs)
	b.ResetTimer()
	start := time.Now()
	env.deployNative(bankNative(def), 4)
	env.waitIdle("bank")
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(0, "ns/op")
}
