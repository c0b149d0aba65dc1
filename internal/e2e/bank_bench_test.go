package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
)

// Benchmarks of examples/bank/go (wasm) on 4 partitions: microbatch
// throughput and latency, and query topology latency.
//
//	go test ./internal/e2e/ -run '^$' -bench Bank -benchtime 2s

const (
	benchAccounts = 256
	benchFunds    = 1_000_000_000
)

func benchDeposit(i int) abi.Value {
	return rec("account", bankAccount(i), "amount", benchFunds)
}

// BenchmarkBankTransfers measures transfers per second through the
// microbatch topology: b.N random transfers between 256 funded accounts,
// in the depot before the deploy; from the deploy to the commit of the
// microbatch that holds the last one. Each transfer is a funds check, a
// debit and a history entry on the sender's partition, a hop, a credit and
// a history entry on the receiver's partition, and a tally (group-by)
// hop: 3 stage calls, 8 PState writes.
func BenchmarkBankTransfers(b *testing.B) {
	n := newNode(b, benchConfig(b))
	def, f := goLang.variant(bankSrc, "bank")(b, n)
	fill := newFiller(b, n, def.Name, "deposits", "account")
	for i := range benchAccounts {
		fill.add(benchDeposit(i))
	}
	fill.done()
	fill = newFiller(b, n, def.Name, "transfers", "from")
	r := rand.New(rand.NewPCG(11, 12))
	for i := range b.N {
		from, to := r.IntN(benchAccounts), r.IntN(benchAccounts-1)
		if to >= from {
			to++
		}
		fill.add(bankTransfer(fmt.Sprint("t", i), bankAccount(from), bankAccount(to), int64(1+r.IntN(1000))))
	}
	fill.done()
	elapsed := timeProcessing(b, n, def, f)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
	b.ReportMetric(0, "ns/op")
	total, err := n.e.Invoke(context.Background(), def.Name, "total", nil, 0)
	if err != nil || !abi.Equal(total, abi.Int(benchAccounts*benchFunds)) {
		b.Fatalf("total %v %v", total, err)
	}
	ts, _ := n.e.Topologies(def.Name)
	b.ReportMetric(float64(b.N)/float64(max(ts[0].Microbatch.Next, 1)), "transfers/microbatch")
}

// BenchmarkBankLatency measures the end-to-end latency of a transfer
// under a steady open load of 500 transfers per second: from the start of
// its APPEND_ACK append until a client select sees its entry in the
// sender's history (its microbatch committed), p50 and p99 in
// microseconds.
func BenchmarkBankLatency(b *testing.B) {
	const rate = 500
	n := newNode(b, benchConfig(b))
	def, f := goLang.variant(bankSrc, "bank")(b, n)
	n.deploy(def, prewarmed(b, f))
	for i := range benchAccounts {
		n.append(def.Name, "deposits", benchDeposit(i), engine.AckAppendAck)
	}
	n.waitIdle(def.Name, time.Minute)
	lat := make([]time.Duration, b.N)
	var mu sync.Mutex
	sent := make([]int64, benchAccounts) // transfers appended per sender
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * time.Second / rate)
		time.Sleep(time.Until(due))
		// Senders only send and receivers only receive, so a sender's
		// history counts exactly its transfers committed.
		from, to := i%(benchAccounts/2), benchAccounts/2+i%(benchAccounts/2)
		mu.Lock()
		sent[from]++
		want := sent[from]
		mu.Unlock()
		wg.Go(func() {
			tr := bankTransfer(fmt.Sprint("t", i), bankAccount(from), bankAccount(to), 1)
			if _, err := n.tryAppend(def.Name, "transfers", tr, engine.AckAppendAck); err != nil {
				b.Errorf("append %d: %v", i, err)
				return
			}
			path := abi.P().Key(abi.String(bankAccount(from))).Key(abi.String("count"))
			for {
				vs, err := n.e.Select(context.Background(), def.Name, "accounts", path)
				if err != nil {
					b.Errorf("select: %v", err)
					return
				}
				if c, _ := vs[0].AsInt(); c >= want {
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkBankQuery measures query topology invocations, one after the
// other, on 256 accounts with 16 history entries each: "account(id, 10)"
// touches the one partition that owns id (a hash hop, a read of the
// balance and of the last 10 entries of a subindexed map); "total()"
// touches all 4 partitions (a hop to all, a scan of every balance, a SUM
// into the result).
func BenchmarkBankQuery(b *testing.B) {
	n := newNode(b, benchConfig(b))
	def, f := goLang.variant(bankSrc, "bank")(b, n)
	n.deploy(def, prewarmed(b, f))
	for i := range benchAccounts {
		n.append(def.Name, "deposits", benchDeposit(i), engine.AckNone)
	}
	for i := range benchAccounts * 8 {
		n.append(def.Name, "transfers", bankTransfer(fmt.Sprint("t", i), bankAccount(i%benchAccounts), bankAccount((i+7)%benchAccounts), 3), engine.AckNone)
	}
	n.waitIdle(def.Name, time.Minute)
	for _, c := range []struct {
		name  string
		query string
		args  func(i int) []abi.Value
	}{
		{"one-partition", "account", func(i int) []abi.Value {
			return []abi.Value{abi.String(bankAccount(i % benchAccounts)), abi.Int(10)}
		}},
		{"all-partitions", "total", func(int) []abi.Value { return nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, b.N)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if _, err := n.e.Invoke(ctx, def.Name, c.query, c.args(i), 0); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.90), "p90-µs")
	b.ReportMetric(us(0.99), "p99-µs")
	b.ReportMetric(us(1), "max-µs")
}
