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

// guestLang is a guest language the tests and benchmarks build modules
// of, from source, with the real toolchain.
type guestLang struct {
	name string
	// build builds the module in a directory and returns its wasm.
	build func(ctx context.Context, dir string) ([]byte, error)
	// wordcount and social are the language's twins of the examples (the
	// conformance suite proves they compute the same).
	wordcount, social string
	// sharedRuntime: the language's modules are one runtime binary (an
	// interpreter) plus the user's code, so a second module compiles
	// mostly from what the first one compiled.
	sharedRuntime bool
}

// The guest languages. Go is the language of most tests; its builds are
// cached on disk between runs (see buildGo).
var (
	goLang     = guestLang{name: "go", build: buildGo, wordcount: wordcountSrc, social: socialSrc}
	rustLang   = guestLang{name: "rust", build: buildInto(build.Rust), wordcount: "examples/wordcount/rust", social: "examples/social/rust"}
	pythonLang = guestLang{name: "python", build: buildInto(build.Python), wordcount: "examples/wordcount/python", social: "examples/social/python", sharedRuntime: true}
	tsLang     = guestLang{name: "typescript", build: buildInto(build.TypeScript), wordcount: "examples/wordcount/typescript", social: "examples/social/typescript", sharedRuntime: true}
)

// guestLangs are the languages of the per-language benchmarks.
var guestLangs = []guestLang{goLang, rustLang, pythonLang, tsLang}

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

// wasm returns the wasm of the module in src (relative to the repository
// root), built once per process. A failed build fails the test with the
// toolchain's output.
func (l guestLang) wasm(t testing.TB, src string) []byte {
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
	r.once.Do(func() { r.wasm, r.err = l.build(context.Background(), filepath.Join(root, src)) })
	if r.err != nil {
		t.Fatalf("build %s to wasm: %v", src, r.err)
	}
	return r.wasm
}

// moduleWasm returns the wasm of the Go module in src (relative to the
// repository root), from the cache when neither the module's sources, the
// SDK's nor the Go version changed.
func moduleWasm(t testing.TB, src string) []byte {
	t.Helper()
	return goLang.wasm(t, src)
}

// buildGo builds the Go module in dir with internal/build's cache, keyed
// by the Go version and the sources of the module and of the SDK its
// go.mod replaces.
func buildGo(ctx context.Context, dir string) ([]byte, error) {
	p, err := build.GoCached(ctx, dir, filepath.Join(cacheDir(), "wasm"))
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// buildInto makes a guestLang.build of a builder of internal/build that
// writes the module to a file (Rust's cargo keeps its incremental state in
// the crate's own target directory; Python and TypeScript reuse a cached
// runtime).
func buildInto(b func(ctx context.Context, dir, out string) error) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, dir string) ([]byte, error) {
		tmp, err := os.MkdirTemp("", "squall-e2e-build-*")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		out := filepath.Join(tmp, "module.wasm")
		if err := b(ctx, dir, out); err != nil {
			return nil, err
		}
		return os.ReadFile(out)
	}
}

// wazeroCache is the directory of wazero's compilation cache.
func wazeroCache() string { return filepath.Join(cacheDir(), "wazero") }
