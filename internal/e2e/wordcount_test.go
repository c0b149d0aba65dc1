package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/engine"
)

// corpus is a set of random sentences and the word counts they must
// produce, computed from the words chosen (not by splitting the text):
// words of a vocabulary, with random capitals and punctuation.
type corpus struct {
	sentences []sentence
	counts    map[string]int64
}

type sentence struct {
	user, text string
	words      int
}

func (s sentence) record() abi.Value { return rec("user", s.user, "text", s.text) }

var vocabulary = strings.Fields(`the quick brown fox jumps over lazy dog
	squall rama depot pstate topology stage hop partition wasm engine pebble
	café naïve über ça 42 route66 x y z a i o u`)

func newCorpus(seed uint64, n, users int) corpus {
	r := rand.New(rand.NewPCG(seed, 99))
	c := corpus{counts: map[string]int64{}}
	seps := []string{" ", "  ", ", ", "! ", "? ", " -- ", "\t", "\n", "...", " (", ") ", "; ", " \"", "\" "}
	for i := range n {
		var sb strings.Builder
		k := r.IntN(16)
		for range k {
			w := vocabulary[r.IntN(len(vocabulary))]
			c.counts[w]++
			switch r.IntN(4) {
			case 0:
				w = strings.ToUpper(w)
			case 1:
				r0, size := utf8.DecodeRuneInString(w)
				w = string(unicode.ToUpper(r0)) + w[size:]
			}
			sb.WriteString(w)
			sb.WriteString(seps[r.IntN(len(seps))])
		}
		c.sentences = append(c.sentences, sentence{user: fmt.Sprintf("user%02d", i%users), text: sb.String(), words: k})
	}
	return c
}

// sub is the expectation of sentences [from, to).
func (c corpus) sub(from, to int) map[string]int64 {
	m := map[string]int64{}
	for _, s := range c.sentences[from:to] {
		for _, w := range words(s.text) {
			m[w]++
		}
	}
	return m
}

// checkCounts compares the whole $$wordCounts PState with want.
func checkCounts(t *testing.T, n *node, want map[string]int64) {
	t.Helper()
	got := n.intMap("wordcount", "$$wordCounts")
	if !maps.Equal(got, want) {
		for w, c := range want {
			if got[w] != c {
				t.Errorf("count[%q] = %d, want %d", w, got[w], c)
			}
		}
		for w, c := range got {
			if _, ok := want[w]; !ok {
				t.Errorf("count[%q] = %d, want none", w, c)
			}
		}
		t.FailNow()
	}
}

// TestWordcount runs examples/wordcount/go, built to wasm from source,
// through the engine over Pebble: 400 random sentences appended with
// every ack level, ACK appends returning their word counts, and every
// word's count exactly as expected, on the partition that owns it.
func TestWordcount(t *testing.T) {
	wasm := moduleWasm(t, wordcountSrc)
	n := newNode(t, fastConfig())
	def := n.deployWasm("wordcount", wasm)
	if want := wordcountDef(); !abi.Equal(def.Value(), want.Value()) {
		t.Fatalf("examples/wordcount/go declares\n%v\nand its native mirror\n%v", def.Value(), want.Value())
	}
	c := newCorpus(1, 400, 17)
	// The corpus's own expectation (from the words chosen) and the one from
	// splitting its text agree: the generator is sound.
	if !maps.Equal(c.counts, c.sub(0, len(c.sentences))) {
		t.Fatal("the corpus's counts and its split text disagree")
	}

	// The first half with ACK, one at a time: each ACK returns the
	// sentence's word count once every word is counted, and then its words
	// are visible.
	half := len(c.sentences) / 2
	for i, s := range c.sentences[:half] {
		res := n.append("wordcount", "sentences", s.record(), engine.AckAck)
		if got, ok := res.AckReturns["wordcount"]; !ok || !abi.Equal(got, abi.Int(int64(s.words))) {
			t.Errorf("ack return of %q: %v, want %d", s.text, got, s.words)
		}
		if res.Partition != keyPartition(abi.String(s.user)) {
			t.Errorf("%s's sentence went to partition %d", s.user, res.Partition)
		}
		if i%50 == 0 {
			checkCounts(t, n, c.sub(0, i+1))
		}
	}
	checkCounts(t, n, c.sub(0, half))

	// The rest from 8 clients at once, a quarter with ACK (see ackClients).
	rest := c.sentences[half:]
	ackClients(len(rest), 4, 8, func(i int, ack engine.AckLevel) {
		s := rest[i]
		res, err := n.tryAppend("wordcount", "sentences", s.record(), ack)
		if err != nil {
			t.Errorf("append %q with %s: %v", s.text, ack, err)
		} else if got := res.AckReturns["wordcount"]; ack == engine.AckAck && !abi.Equal(got, abi.Int(int64(s.words))) {
			t.Errorf("ack return of %q: %v, want %d", s.text, got, s.words)
		}
	})
	n.waitIdle("wordcount", time.Minute)
	checkCounts(t, n, c.counts)
	if got := n.selInt("wordcount", "$$wordCounts", abi.P().Key(abi.String("café"))); got != c.counts["café"] {
		t.Errorf("client select of café: %d, want %d", got, c.counts["café"])
	}
	if dl := n.deadLetters("wordcount"); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}

// TestWordcountRestart closes the node and opens it again on the same
// directory: drained (nothing is processed again: the counts stay exact),
// and stopped hard in the middle of a stream (nothing is lost: every count
// is at least what was appended, and records whose processing was cut
// short are processed again). Each time the module is deployed again from
// the wasm, on a fresh host runtime, and processing continues.
func TestWordcountRestart(t *testing.T) {
	wasm := moduleWasm(t, wordcountSrc)
	n := newNode(t, fastConfig())
	n.deployWasm("wordcount", wasm)
	c := newCorpus(2, 600, 9)

	for _, s := range c.sentences[:200] {
		n.append("wordcount", "sentences", s.record(), engine.AckNone)
	}
	n.waitIdle("wordcount", time.Minute)
	// A drained close: nothing is processed again after the restart.
	// (Closing with records not yet read is TestDrainWithBacklog.)
	n.restart()
	if _, err := n.e.Lag("wordcount"); err == nil {
		t.Fatal("the module runs before it is deployed again")
	}
	def := n.deployWasm("wordcount", wasm)
	if lag, err := n.e.Lag("wordcount"); err != nil || lag != 0 {
		t.Fatalf("after a drained close: lag %d, %v", lag, err)
	}
	checkCounts(t, n, c.sub(0, 200))

	// Processing continues: ACK appends after the restart.
	for _, s := range c.sentences[200:300] {
		res := n.append("wordcount", "sentences", s.record(), engine.AckAck)
		if got := res.AckReturns["wordcount"]; !abi.Equal(got, abi.Int(int64(s.words))) {
			t.Fatalf("ack return after restart: %v, want %d", got, s.words)
		}
	}
	checkCounts(t, n, c.sub(0, 300))

	// A deploy with another task count is refused: the count is fixed.
	ctx := context.Background()
	n.restart()
	m, _ := n.compile("wordcount", wasm)
	err := n.e.Deploy(ctx, engine.ModuleSpec{Def: def, Tasks: 8, NewProcessor: engine.WasmFactory(m, 8)})
	if err == nil || !strings.Contains(err.Error(), "task count is fixed") {
		t.Fatalf("deploy with 8 tasks after 4: %v", err)
	}
	n.deploy(def, engine.WasmFactory(m, tasks))

	// A hard stop in the middle of a stream: records whose processing was
	// not complete are processed again after the restart.
	for _, s := range c.sentences[300:] {
		n.append("wordcount", "sentences", s.record(), engine.AckAppendAck)
	}
	n.hardStop()
	n.open()
	n.deployWasm("wordcount", wasm)
	n.waitIdle("wordcount", time.Minute)
	got := n.intMap("wordcount", "$$wordCounts")
	replayed := int64(0)
	for w, want := range c.counts {
		if got[w] < want {
			t.Errorf("count[%q] = %d after a hard stop, want at least %d: appended data was lost", w, got[w], want)
		}
		replayed += got[w] - want
	}
	if len(got) != len(c.counts) {
		t.Errorf("%d words counted, want %d", len(got), len(c.counts))
	}
	t.Logf("after the hard stop, %d word counts were applied again (at-least-once)", replayed)
	if dl := n.deadLetters("wordcount"); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}

// TestWordcountNativeMatchesWasm holds the benchmarks' native stages to
// the example: the same sentences, malformed records included, give the
// same ack returns, counts and dead letters through both.
func TestWordcountNativeMatchesWasm(t *testing.T) {
	wasm := moduleWasm(t, wordcountSrc)
	c := newCorpus(3, 120, 5)
	// Three records the split stage cannot read, and one it reads as the
	// empty user's.
	odd := []abi.Value{rec("user", "ann", "text", 42), rec("user", 7, "text", "x"), rec("user", "bob", "text", abi.List(abi.String("a"))), rec("text", "no user at all")}
	run := func(n *node) (rets []abi.Value, counts map[string]int64, dead []string) {
		for _, s := range c.sentences {
			rets = append(rets, n.append("wordcount", "sentences", s.record(), engine.AckAck).AckReturns["wordcount"])
		}
		for _, r := range odd {
			res, err := n.tryAppend("wordcount", "sentences", r, engine.AckAck)
			var perr *engine.ProcessingError
			if err != nil && !errors.As(err, &perr) {
				t.Fatalf("append %v: %v", r, err)
			}
			rets = append(rets, res.AckReturns["wordcount"])
		}
		n.waitIdle("wordcount", time.Minute)
		for _, dl := range n.deadLetters("wordcount") {
			dead = append(dead, fmt.Sprintf("%s %s %v", dl.Stage, dl.Reason, dl.Payload))
		}
		return rets, n.intMap("wordcount", "$$wordCounts"), dead
	}
	nw := newNode(t, fastConfig())
	nw.deployWasm("wordcount", wasm)
	wr, wc, wd := run(nw)
	nn := newNode(t, fastConfig())
	nn.deployNative(wordcountNative())
	nr, nc, nd := run(nn)
	for i := range wr {
		if !abi.Equal(wr[i], nr[i]) {
			t.Errorf("record %d: ack return %v from wasm, %v from native", i, wr[i], nr[i])
		}
	}
	if !maps.Equal(wc, nc) {
		t.Errorf("counts differ:\nwasm   %v\nnative %v", wc, nc)
	}
	if fmt.Sprint(sorted(wd)) != fmt.Sprint(sorted(nd)) || len(wd) != 3 {
		t.Errorf("dead letters differ:\nwasm   %q\nnative %q", wd, nd)
	}
}

// TestWordcountConcurrentAck appends from 8 clients at once, all with ACK,
// through the wasm module, the native one (faster, so records are more
// often processed before their appender's WAL sync returns) and the
// TypeScript one (QuickJS in wasm): every append is acknowledged with its
// ack return, and the counts are exact. (The engine once lost such
// acknowledgments.)
func TestWordcountConcurrentAck(t *testing.T) {
	for _, v := range []struct {
		name      string
		sentences int
		slow      bool // not in -short mode
		deploy    func(t *testing.T, n *node)
	}{
		{"wasm", 1000, false, func(t *testing.T, n *node) { n.deployWasm("wordcount", moduleWasm(t, wordcountSrc)) }},
		{"native", 4000, false, func(t *testing.T, n *node) { n.deployNative(wordcountNative()) }},
		// Builds the example with npm, tsc, esbuild and the QuickJS runtime.
		{"typescript", 300, true, func(t *testing.T, n *node) { n.deployWasm("wordcount", tsLang.wasm(t, tsLang.wordcount)) }},
	} {
		t.Run(v.name, func(t *testing.T) {
			if v.slow && testing.Short() {
				t.Skip("slow: builds with external toolchains")
			}
			n := newNode(t, fastConfig())
			v.deploy(t, n)
			c := newCorpus(6, v.sentences, 64)
			parallel(len(c.sentences), 8, func(i int) {
				s := c.sentences[i]
				// A bound, not a timing check: QuickJS is slower than Go and Rust.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := n.e.AppendToDepot(ctx, "wordcount", "sentences", s.record(), engine.AckAck)
				if err != nil {
					t.Errorf("sentence %d: %v", i, err)
				} else if got := res.AckReturns["wordcount"]; !abi.Equal(got, abi.Int(int64(s.words))) {
					t.Errorf("sentence %d: ack return %v, want %d", i, got, s.words)
				}
			})
			checkCounts(t, n, c.counts)
		})
	}
}
