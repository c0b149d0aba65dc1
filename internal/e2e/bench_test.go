package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/storage"
)

// Benchmarks of the examples through the engine on 4 partitions over
// Pebble, each with a wasm variant (the example built from source) and a
// native one (the same stage logic as engine.NativeModule stages, see
// native_test.go), run in the same process. The wasm/native ratio of
// BenchmarkWordcount is the cost of running stages in wasm:
//
//	go test ./internal/e2e/ -run '^$' -bench . -benchtime 2s
//
// Throughput benchmarks fill the depots directly in the store before the
// engine starts, so that they time the processing alone: from the deploy
// (with the processors already instantiated) to the commit of the last
// record's progress. Each checks what it computed afterwards.

// variant makes the definition and processor factory of a module on a
// node.
type variant func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory)

// variant is the module of the language in src, built and deployed as
// name.
func (l guestLang) variant(src, name string) variant {
	return func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory) {
		m, def := n.compile(name, l.wasm(b, src))
		return def, engine.WasmFactory(m, tasks)
	}
}

func nativeVariant(nm func() *engine.NativeModule) variant {
	return func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory) {
		m := nm()
		f, err := m.Factory()
		if err != nil {
			b.Fatal(err)
		}
		return m.Def, f
	}
}

// prewarmed makes each partition's first processor before the timer
// starts (a wasm instance takes milliseconds to start), and the others
// with f.
func prewarmed(b *testing.B, f engine.ProcessorFactory) engine.ProcessorFactory {
	ready := make([]engine.Processor, tasks)
	for p := range uint32(tasks) {
		pr, err := f(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		ready[p] = pr
	}
	var mu sync.Mutex
	return func(ctx context.Context, p uint32) (engine.Processor, error) {
		mu.Lock()
		pr := ready[p]
		ready[p] = nil
		mu.Unlock()
		if pr != nil {
			return pr, nil
		}
		return f(ctx, p)
	}
}

// filler appends records to a depot directly in the store, routed as the
// engine routes them, in bulk.
type filler struct {
	b    *testing.B
	dep  *storage.Depot
	key  string
	recs [tasks][]storage.Record
}

func newFiller(b *testing.B, n *node, module, depot, key string) *filler {
	dep, err := n.db.Depot(module, depot, storage.DepotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return &filler{b: b, dep: dep, key: key}
}

func (f *filler) add(r abi.Value) {
	kv, _ := r.Get(abi.String(f.key))
	k, err := abi.Encode(kv)
	if err != nil {
		f.b.Fatal(err)
	}
	v, err := abi.Encode(r)
	if err != nil {
		f.b.Fatal(err)
	}
	p := abi.KeyPartition(k, tasks)
	f.recs[p] = append(f.recs[p], storage.Record{Key: k, Value: v})
	if len(f.recs[p]) == 1000 {
		f.flush(p)
	}
}

func (f *filler) flush(p uint32) {
	if len(f.recs[p]) > 0 {
		if _, err := f.dep.Append(context.Background(), p, f.recs[p]...); err != nil {
			f.b.Fatal(err)
		}
		f.recs[p] = f.recs[p][:0]
	}
}

func (f *filler) done() {
	for p := range uint32(tasks) {
		f.flush(p)
	}
}

// timeProcessing deploys the module with prewarmed processors and times
// it until every record is processed. It also reports the CPU time of the
// process per op (b.N is the benchmark's events): unlike events/s it
// hardly moves with what else runs on the machine.
func timeProcessing(b *testing.B, n *node, def *abi.ModuleDef, f engine.ProcessorFactory) time.Duration {
	f = prewarmed(b, f)
	b.ResetTimer()
	start := time.Now()
	cpu0, ok := processCPUTime()
	n.deploy(def, f)
	n.waitIdle(def.Name, 10*time.Minute)
	elapsed := time.Since(start)
	cpu1, _ := processCPUTime()
	b.StopTimer()
	if ok {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	return elapsed
}

// benchConfig is the engine's default configuration, quiet.
func benchConfig(b *testing.B) engine.Config { return engine.Config{Logger: testLogger(b)} }

// BenchmarkWordcount measures examples/wordcount/go: sentences of 8 words
// (from a vocabulary of 1,000, by 100 users), each split on its user's
// partition, every word hopped to the partition that owns it and counted
// there, and an ack return emitted. It reports sentences (events) and
// words per second, for the example in every guest language ("wasm" is
// Go's, as in the other benchmarks) and natively.
func BenchmarkWordcount(b *testing.B) {
	for _, l := range guestLangs {
		name := l.name
		if l.name == goLang.name {
			name = "wasm"
		}
		b.Run(name, func(b *testing.B) { benchWordcount(b, l.variant(l.wordcount, "wordcount")) })
	}
	b.Run("native", func(b *testing.B) { benchWordcount(b, nativeVariant(wordcountNative)) })
}

func benchWordcount(b *testing.B, v variant) {
	const perSentence = 8
	n := newNode(b, benchConfig(b))
	def, f := v(b, n)
	fill := newFiller(b, n, def.Name, "sentences", "user")
	r := rand.New(rand.NewPCG(1, 2))
	ws := make([]string, perSentence)
	for i := range b.N {
		for j := range ws {
			ws[j] = fmt.Sprintf("w%d", r.IntN(1000))
		}
		fill.add(rec("user", fmt.Sprintf("user%d", i%100), "text", strings.Join(ws, " ")))
	}
	fill.done()
	elapsed := timeProcessing(b, n, def, f)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N*perSentence)/elapsed.Seconds(), "words/s")

	total := int64(0)
	for _, c := range n.intMap(def.Name, "$$wordCounts") {
		total += c
	}
	if total != int64(b.N*perSentence) {
		b.Fatalf("%d words counted, want %d", total, b.N*perSentence)
	}
}

// BenchmarkSocialFanout measures examples/social/go: posts by 64 authors
// with 100 followers each (among 2,000 users), each counted on its
// author's partition, its followers read there (one page) and the post
// hopped to each follower's partition and appended to their timeline
// (subindexed list). The follows are processed before the timer starts.
// It reports posts and timeline writes per second.
func BenchmarkSocialFanout(b *testing.B) {
	b.Run("wasm", func(b *testing.B) { benchSocialFanout(b, goLang.variant(socialSrc, "social")) })
	b.Run("native", func(b *testing.B) { benchSocialFanout(b, nativeVariant(socialNative)) })
}

func benchSocialFanout(b *testing.B, v variant) {
	const authors, fanout, users = 64, 100, 2000
	n := newNode(b, benchConfig(b))
	def, f := v(b, n)
	r := rand.New(rand.NewPCG(3, 4))
	fill := newFiller(b, n, def.Name, "follows", "to")
	for a := range authors {
		for _, u := range r.Perm(users)[:fanout] {
			fill.add(followRec(fmt.Sprintf("user%04d", u), fmt.Sprintf("author%02d", a)))
		}
	}
	fill.done()
	n.deploy(def, f)
	n.waitIdle(def.Name, 10*time.Minute)

	// The posts, on a node started again (the follows processed).
	n.restart()
	def, f = v(b, n)
	fill = newFiller(b, n, def.Name, "posts", "author")
	for i := range b.N {
		a := fmt.Sprintf("author%02d", i%authors)
		fill.add(post{Author: a, ID: int64(i), Text: fmt.Sprintf("post %d of %s: some words of text", i, a)}.record())
	}
	fill.done()
	elapsed := timeProcessing(b, n, def, f)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "posts/s")
	b.ReportMetric(float64(b.N*fanout)/elapsed.Seconds(), "timeline-writes/s")

	posts := int64(0)
	for _, c := range n.intMap(def.Name, "$$postCounts") {
		posts += c
	}
	if posts != int64(b.N) {
		b.Fatalf("%d posts counted, want %d", posts, b.N)
	}
	writes := int64(0)
	for u := range users {
		writes += n.selInt(def.Name, "$$timelines", abi.P().Key(abi.String(fmt.Sprintf("user%04d", u))).View(abi.ViewSize))
	}
	if writes != int64(b.N*fanout) {
		b.Fatalf("%d timeline entries, want %d", writes, b.N*fanout)
	}
}

// BenchmarkAckLatency measures the latency of an ACK append to
// examples/wordcount/go (a sentence of 8 words: durable, split, every word
// hopped and counted, all committed and visible, the ack return back) at
// a steady 200 appends per second, and reports its median and 99th
// percentile in microseconds. The load is open: each append starts on a
// fixed timetable, whether or not the earlier ones are done, so a slow
// append does not delay the next ones and hide their wait (no coordinated
// omission).
func BenchmarkAckLatency(b *testing.B) {
	b.Run("wasm", func(b *testing.B) { benchAckLatency(b, goLang.variant(wordcountSrc, "wordcount")) })
	b.Run("native", func(b *testing.B) { benchAckLatency(b, nativeVariant(wordcountNative)) })
}

func benchAckLatency(b *testing.B, v variant) {
	const rate = 200
	n := newNode(b, benchConfig(b))
	def, f := v(b, n)
	n.deploy(def, prewarmed(b, f))
	r := rand.New(rand.NewPCG(5, 6))
	ws := make([]string, 8)
	recs := make([]abi.Value, b.N)
	for i := range recs {
		for j := range ws {
			ws[j] = fmt.Sprintf("w%d", r.IntN(1000))
		}
		recs[i] = rec("user", fmt.Sprintf("user%d", i%50), "text", strings.Join(ws, " "))
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * time.Second / rate)
		time.Sleep(time.Until(due))
		wg.Go(func() {
			if _, err := n.tryAppend(def.Name, "sentences", recs[i], engine.AckAck); err != nil {
				b.Errorf("append %d: %v", i, err)
			}
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op") // the rate, not a cost
}
