package e2e

import (
	"context"
	"testing"

	"github.com/squall-run/squall/host"
)

// Per-language benchmarks of what a module costs before it processes
// anything: its start and its compile, for the wordcount example of every
// guest language (guestLangs).

// BenchmarkModuleStart measures, per guest language, what a partition task
// pays to get a fresh instance of the wordcount module (instantiate, WASI
// and the module's own init, the definition check; for Python also the
// interpreter's start and the import of the SDK and the user's code), with
// the compiled code cached; it reports the artifact's size and the linear
// memory of a started instance.
func BenchmarkModuleStart(b *testing.B) {
	for _, l := range guestLangs {
		b.Run(l.name, func(b *testing.B) {
			wasm := l.wasm(b, l.wordcount)
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

// BenchmarkModuleCompile measures, per guest language, the first compile of
// the wordcount module on a new host runtime: "cold" with no compilation
// cache, "cached" from wazero's on-disk cache (a restarted server). For
// Python and TypeScript, "shared" compiles a second, different module of
// the language on a runtime that already compiled one: the runtime binary
// is shared, so it costs only the file tree's parsing.
func BenchmarkModuleCompile(b *testing.B) {
	for _, l := range guestLangs {
		b.Run(l.name+"/cold", func(b *testing.B) { benchCompile(b, l.wasm(b, l.wordcount), "", nil) })
		b.Run(l.name+"/cached", func(b *testing.B) {
			wasm := l.wasm(b, l.wordcount)
			dir := b.TempDir()
			benchCompile(b, wasm, dir, func(r *host.Runtime) { compileOnce(b, r, wasm) }) // fills the cache
		})
	}
	for _, l := range guestLangs {
		if l.sharedRuntime {
			b.Run(l.name+"/shared", func(b *testing.B) { benchSharedCompile(b, l.wasm(b, l.wordcount), l.wasm(b, l.social)) })
		}
	}
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
