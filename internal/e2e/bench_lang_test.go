package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/engine"
)

// The Rust twin of examples/wordcount/go, for the per-language numbers of
// docs/benchmarks.md (the conformance suite proves it computes the same).
const wordcountRustSrc = "examples/wordcount/rust"

var rustBuilds sync.Map // src → []byte

// rustWasm builds a Rust module with cargo (incremental, in the crate's
// own target dir) once per process; a failed build fails the benchmark.
func rustWasm(b testing.TB, src string) []byte {
	b.Helper()
	if w, ok := rustBuilds.Load(src); ok {
		return w.([]byte)
	}
	out := filepath.Join(b.TempDir(), "module.wasm")
	if err := build.Rust(context.Background(), filepath.Join(repoRoot(b), src), out); err != nil {
		b.Fatalf("build %s: %v", src, err)
	}
	w, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	rustBuilds.Store(src, w)
	return w
}

func rustVariant(src, name string) variant {
	return func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory) {
		m, def := n.compile(name, rustWasm(b, src))
		return def, engine.WasmFactory(m, tasks)
	}
}

// BenchmarkModuleStart measures, per guest language, what a partition task
// pays to get a fresh instance of the wordcount module (instantiate, WASI
// and the module's own init, the definition check; for Python also the
// interpreter's start and the import of the SDK and the user's code), with
// the compiled code cached; it reports the artifact's size and the linear
// memory of a started instance.
func BenchmarkModuleStart(b *testing.B) {
	for _, lang := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"go", func(t testing.TB) []byte { return moduleWasm(t, wordcountSrc) }},
		{"rust", func(t testing.TB) []byte { return rustWasm(t, wordcountRustSrc) }},
		{"python", func(t testing.TB) []byte { return pythonWasm(t, wordcountPythonSrc) }},
		{"typescript", func(t testing.TB) []byte { return tsWasm(t, wordcountTSSrc) }},
	} {
		b.Run(lang.name, func(b *testing.B) {
			wasm := lang.wasm(b)
			n := newNode(b, benchConfig(b))
			m, _ := n.compile("wordcount", wasm)
			ctx := context.Background()
			var mem uint64
			b.ResetTimer()
			for b.Loop() {
				inst, err := m.Instantiate(ctx, host.InitParams{Tasks: tasks})
				if err != nil {
					b.Fatal(err)
				}
				mem = inst.MemoryBytes()
				if err := inst.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(wasm)), "wasm_bytes")
			b.ReportMetric(float64(mem), "mem_bytes")
		})
	}
}
