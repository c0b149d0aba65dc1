package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/squall-run/squall/internal/build"
)

// Module sources, relative to the repository root.
const (
	wordcountSrc = "examples/wordcount/go"
	socialSrc    = "examples/social/go"
	panicSrc     = "internal/e2e/testdata/panicmod"
	sdkSrc       = "guest-sdks/go"
)

// repoRoot is the repository root (this package is internal/e2e).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, sdkSrc, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", dir, err)
	}
	return dir
}

// cacheDir is where built modules and wazero's compiled code are kept
// between runs.
func cacheDir() string { return filepath.Join(os.TempDir(), "squall-e2e") }

// builds holds, per source directory, the result of its build in this
// process.
var builds struct {
	mu   sync.Mutex
	done map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	wasm []byte
	err  error
}

// moduleWasm returns the wasm of the Go module in src (relative to the
// repository root), built with the real Go toolchain, from the cache when
// neither the module's sources, the SDK's nor the Go version changed. A
// failed build fails the test with the compiler output.
func moduleWasm(t testing.TB, src string) []byte {
	t.Helper()
	root := repoRoot(t)
	builds.mu.Lock()
	if builds.done == nil {
		builds.done = map[string]*buildResult{}
	}
	r := builds.done[src]
	if r == nil {
		r = &buildResult{}
		builds.done[src] = r
	}
	builds.mu.Unlock()
	r.once.Do(func() { r.wasm, r.err = buildModule(root, src) })
	if r.err != nil {
		t.Fatalf("build %s to wasm: %v", src, r.err)
	}
	return r.wasm
}

// buildModule builds the Go module in src with internal/build's cache,
// keyed by the Go version and the sources of the module and of the SDK its
// go.mod replaces.
func buildModule(root, src string) ([]byte, error) {
	p, err := build.GoCached(context.Background(), filepath.Join(root, src), filepath.Join(cacheDir(), "wasm"))
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// wazeroCache is the directory of wazero's compilation cache.
func wazeroCache() string { return filepath.Join(cacheDir(), "wazero") }
