package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
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

// goTool returns the go command: $GOROOT/bin/go when GOROOT is set, else
// go from PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// wasmEnv is the environment of a wasm build: wasip1, no cgo, no
// workspace (the module's go.mod replaces the SDK with the repository's).
func wasmEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
}

func buildModule(root, src string) ([]byte, error) {
	out, err := exec.Command(goTool(), "env", "GOVERSION").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go env GOVERSION: %v\n%s", err, out)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", bytes.TrimSpace(out))
	for _, dir := range []string{src, sdkSrc} {
		if err := hashSources(h, root, dir); err != nil {
			return nil, err
		}
	}
	name := strings.ReplaceAll(src, "/", "_")
	file := filepath.Join(cacheDir(), "wasm", name+"-"+hex.EncodeToString(h.Sum(nil))[:20]+".wasm")
	if b, err := os.ReadFile(file); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.tmp%d", file, os.Getpid())
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", tmp, ".")
	cmd.Dir = filepath.Join(root, src)
	cmd.Env = wasmEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in %s: %v\n%s", cmd.Dir, err, b)
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, err
	}
	// Builds of older sources are not needed any more.
	if old, err := filepath.Glob(filepath.Join(filepath.Dir(file), name+"-*.wasm")); err == nil {
		for _, o := range old {
			if o != file {
				_ = os.Remove(o)
			}
		}
	}
	return os.ReadFile(file)
}

// hashSources hashes the files of dir that a build reads: Go files other
// than tests, go.mod and go.sum, by path and content, in a fixed order.
// Nested modules (directories with their own go.mod) and testdata are left
// out, as the build leaves them out.
func hashSources(h interface{ Write([]byte) (int, error) }, root, dir string) error {
	base := filepath.Join(root, dir)
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != base && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || fileExists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if (strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) || n == "go.mod" || n == "go.sum" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestBuildCacheKey checks that the cache key follows the sources: the
// same tree hashes the same, and a change to a module's source or the
// SDK's changes it, while test files do not.
func TestBuildCacheKey(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func() string {
		h := sha256.New()
		for _, d := range []string{"ex", sdkSrc} {
			if err := hashSources(h, root, d); err != nil {
				t.Fatal(err)
			}
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	write("ex/go.mod", "module ex\n")
	write("ex/main.go", "package main\n")
	write(sdkSrc+"/go.mod", "module sdk\n")
	write(sdkSrc+"/a.go", "package squall\n")
	k0 := key()
	if key() != k0 {
		t.Fatal("the key is not deterministic")
	}
	write("ex/main_test.go", "package main\n")
	write(sdkSrc+"/testdata/x.go", "package x\n")
	if key() != k0 {
		t.Error("a test file or testdata changed the key")
	}
	write("ex/main.go", "package main // changed\n")
	k1 := key()
	if k1 == k0 {
		t.Error("a change to the module's source kept the key")
	}
	write(sdkSrc+"/internal/b.go", "package internal\n")
	if key() == k1 {
		t.Error("a new SDK source file kept the key")
	}
}

// wazeroCache is the directory of wazero's compilation cache.
func wazeroCache() string { return filepath.Join(cacheDir(), "wazero") }
