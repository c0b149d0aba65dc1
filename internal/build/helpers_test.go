package build

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/squall-run/squall/host"
)

// newRuntime starts a host runtime, with wazero's compilation cache in the
// temporary directory (the interpreter runtimes take seconds to compile),
// closed when the test ends.
func newRuntime(t *testing.T) *host.Runtime {
	t.Helper()
	cfg := host.DefaultConfig()
	cfg.CacheDir = filepath.Join(os.TempDir(), "squall-build-test-wazero")
	r, err := host.NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// compile compiles a built module on r; it is closed when the test ends.
func compile(t *testing.T, r *host.Runtime, name string, wasm []byte) *host.Module {
	t.Helper()
	m, err := r.Compile(context.Background(), name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// instantiate starts an instance of m with one partition; it is closed
// when the test ends.
func instantiate(t *testing.T, m *host.Module) *host.Instance {
	t.Helper()
	in, err := m.Instantiate(context.Background(), host.InitParams{Tasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in
}
