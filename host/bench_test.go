package host

import (
	"context"
	"testing"

	"github.com/squall-run/squall/abi"
)

// nopHandler accepts every effect and finds nothing.
type nopHandler struct{}

func (nopHandler) Effects(context.Context, []abi.Effect) []abi.Rejection { return nil }
func (nopHandler) Query(_ context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	return &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
}

// BenchmarkProcessEcho measures a batch of 100 records through the echo
// fixture: the frame written into the inbox, one squall_process call that
// decodes the batch and flushes an APPEND, a TRANSFORM and an OUTCOME per
// record in one frame, and the host decoding and checking those effects.
func BenchmarkProcessEcho(b *testing.B) {
	const items = 100
	r := newRuntime(b, testConfig(b))
	in := instantiate(b, compile(b, r, "echo"))
	vals := make([]abi.Value, items)
	for i := range vals {
		vals[i] = abi.Map(abi.MapEntry{Key: abi.String("user"), Val: abi.Int(int64(i))}, abi.MapEntry{Key: abi.String("n"), Val: abi.Int(1)})
	}
	batch := batchOf(vals...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := in.Process(ctx, batch, nopHandler{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
}

// BenchmarkInstantiate measures starting an instance of the echo fixture
// from its compiled code: instantiation, _initialize (the Go runtime),
// squall_inbox, squall_init and the definition check.
func BenchmarkInstantiate(b *testing.B) {
	r := newRuntime(b, testConfig(b))
	m := compile(b, r, "echo")
	ctx := context.Background()
	if _, err := m.Describe(ctx, initParams); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := m.Instantiate(ctx, initParams)
		if err != nil {
			b.Fatal(err)
		}
		in.Close(ctx)
	}
}

// BenchmarkCompile measures compiling the echo fixture (3 MB): cold (an
// empty on-disk cache), from the on-disk cache of an earlier run (a
// restarted server), and again in the same runtime (a second deploy of
// the same bytes, shared by content hash).
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	wasm := fixture(b, "echo")
	compileOnce := func(b *testing.B, cfg Config) {
		r, err := NewRuntime(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		m, err := r.Compile(ctx, "echo", wasm)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		r.Close(ctx)
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cfg := testConfig(b)
			cfg.CacheDir = b.TempDir()
			compileOnce(b, cfg)
		}
	})
	b.Run("disk-cache", func(b *testing.B) {
		cfg := testConfig(b)
		cfg.CacheDir = b.TempDir()
		compileOnce(b, cfg)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			compileOnce(b, cfg)
		}
	})
	b.Run("same-runtime", func(b *testing.B) {
		r := newRuntime(b, testConfig(b))
		keep := compile(b, r, "echo")
		_ = keep
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m, err := r.Compile(ctx, "echo", wasm)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
		}
	})
}
