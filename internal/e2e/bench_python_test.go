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

// The Python twin of examples/wordcount/go (the conformance suite proves
// it computes the same).
const wordcountPythonSrc = "examples/wordcount/python"

var pythonBuilds sync.Map // src → []byte

// pythonWasm builds a Python module with internal/build (the runtime from
// scripts/build-python-runtime.sh) once per process; a failed build fails
// the benchmark.
func pythonWasm(b testing.TB, src string) []byte {
	b.Helper()
	if w, ok := pythonBuilds.Load(src); ok {
		return w.([]byte)
	}
	out := filepath.Join(b.TempDir(), "module.wasm")
	if err := build.Python(context.Background(), filepath.Join(repoRoot(b), src), out); err != nil {
		b.Fatalf("build %s: %v", src, err)
	}
	w, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	pythonBuilds.Store(src, w)
	return w
}

func pythonVariant(src, name string) variant {
	return func(b *testing.B, n *node) (*abi.ModuleDef, engine.ProcessorFactory) {
		m, def := n.compile(name, pythonWasm(b, src))
		return def, engine.WasmFactory(m, tasks)
	}
}

// BenchmarkModuleCompile measures, per guest language, the first compile of
// the wordcount module on a new host runtime: "cold" with no compilation
// cache, "cached" from wazero's on-disk cache (a restarted server). For
// Python and TypeScript, "shared" compiles a second, different module of
// the language on a runtime that already compiled one: the runtime binary
// is shared, so it costs only the file tree's parsing.
func BenchmarkModuleCompile(b *testing.B) {
	for _, lang := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"go", func(t testing.TB) []byte { return moduleWasm(t, wordcountSrc) }},
		{"rust", func(t testing.TB) []byte { return rustWasm(t, wordcountRustSrc) }},
		{"python", func(t testing.TB) []byte { return pythonWasm(t, wordcountPythonSrc) }},
		{"typescript", func(t testing.TB) []byte { return tsWasm(t, wordcountTSSrc) }},
	} {
		b.Run(lang.name+"/cold", func(b *testing.B) { benchCompile(b, lang.wasm(b), "", nil) })
		b.Run(lang.name+"/cached", func(b *testing.B) {
			wasm := lang.wasm(b)
			dir := b.TempDir()
			benchCompile(b, wasm, dir, func(r *host.Runtime) { compileOnce(b, r, wasm) }) // fills the cache
		})
	}
	b.Run("python/shared", func(b *testing.B) {
		benchSharedCompile(b, pythonWasm(b, wordcountPythonSrc), pythonWasm(b, "examples/social/python"))
	})
	b.Run("typescript/shared", func(b *testing.B) {
		benchSharedCompile(b, tsWasm(b, wordcountTSSrc), tsWasm(b, socialTSSrc))
	})
}

// benchSharedCompile times compiling second on a runtime that compiled
// first, a module on the same language runtime.
func benchSharedCompile(b *testing.B, first, second []byte) {
	r := newBenchRuntime(b, "")
	compileOnce(b, r, first)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		m, err := r.Compile(ctx, "social", second)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchRuntime(b *testing.B, cacheDir string) *host.Runtime {
	b.Helper()
	cfg := host.DefaultConfig()
	cfg.CacheDir = cacheDir
	cfg.Logger = testLogger(b)
	r, err := host.NewRuntime(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// compileOnce compiles wasm on r and keeps the module open with r.
func compileOnce(b *testing.B, r *host.Runtime, wasm []byte) {
	b.Helper()
	if _, err := r.Compile(context.Background(), "first", wasm); err != nil {
		b.Fatal(err)
	}
}

// benchCompile times new runtime + Compile per iteration; prepare, when
// set, runs once on a runtime of the same cache directory first.
func benchCompile(b *testing.B, wasm []byte, cacheDir string, prepare func(*host.Runtime)) {
	ctx := context.Background()
	if prepare != nil {
		r := newBenchRuntime(b, cacheDir)
		prepare(r)
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		cfg := host.DefaultConfig()
		cfg.CacheDir = cacheDir
		cfg.Logger = testLogger(b)
		r, err := host.NewRuntime(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Compile(ctx, "wordcount", wasm); err != nil {
			b.Fatal(err)
		}
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(wasm)), "wasm_bytes")
}
