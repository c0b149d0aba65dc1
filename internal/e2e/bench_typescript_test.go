package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/engine"
)

// The TypeScript twin of examples/wordcount/go: QuickJS in wasm running
// the esbuild bundle of the project (as bytecode), for the per-language
// numbers of docs/benchmarks.md next to Go and Rust.
const (
	wordcountTSSrc = "examples/wordcount/typescript"
	socialTSSrc    = "examples/social/typescript"
)

var tsBuilds sync.Map // src → *buildResult

// tsWasm builds a TypeScript project with squall build's builder once per
// process (npm ci when needed, tsc, esbuild, QuickJS bytecode); a failed
// build fails the test with tsc's or esbuild's output.
func tsWasm(t testing.TB, src string) []byte {
	t.Helper()
	v, _ := tsBuilds.LoadOrStore(src, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		dir, err := os.MkdirTemp("", "squall-e2e-ts-*")
		if err != nil {
			r.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "module.wasm")
		if r.err = build.TypeScript(context.Background(), filepath.Join(repoRoot(t), src), out); r.err == nil {
			r.wasm, r.err = os.ReadFile(out)
		}
	})
	if r.err != nil {
		t.Fatalf("build %s: %v", src, r.err)
	}
	return r.wasm
}

func tsVariant(src, name string) variant {
	return func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory) {
		m, def := n.compile(name, tsWasm(b, src))
		return def, engine.WasmFactory(m, tasks)
	}
}

// TestWordcountTypeScript runs the TypeScript wordcount through the engine
// from 4 concurrent ACK appenders: every append gets the sentence's word
// count back and the counts are exact.
func TestWordcountTypeScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the TypeScript example with npm, tsc, esbuild and the QuickJS runtime")
	}
	n := newNode(t, fastConfig())
	n.deployWasm("wordcount", tsWasm(t, wordcountTSSrc))
	c := newCorpus(7, 300, 64)
	parallel(len(c.sentences), 4, func(i int) {
		s := c.sentences[i]
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
}

// BenchmarkWordcountTypeScript is BenchmarkWordcount's workload on the
// TypeScript module (compare with BenchmarkWordcount/rust and /wasm).
func BenchmarkWordcountTypeScript(b *testing.B) {
	b.Run("typescript", func(b *testing.B) { benchWordcount(b, tsVariant(wordcountTSSrc, "wordcount")) })
}
