package host

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Guest fixtures are Go programs under testdata/fixtures/<name>, built for
// wasip1 on demand and cached outside the repository, keyed by a hash of
// their sources (the fixture, the shared guest helper, the abi package),
// go.mod and the Go version, so reruns do not build again.

// commandFixtures are built as WASI commands, not reactors.
var commandFixtures = map[string]bool{"command": true}

var (
	fixtureMu    sync.Mutex
	fixtureOnce  = map[string]*fixtureBuild{}
	fixtureSlots = make(chan struct{}, 2) // builds at a time (2 cores shared)
)

type fixtureBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// fixture returns the wasm bytes of testdata/fixtures/<name>.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	fixtureMu.Lock()
	b, ok := fixtureOnce[name]
	if !ok {
		b = &fixtureBuild{}
		fixtureOnce[name] = b
	}
	fixtureMu.Unlock()
	b.once.Do(func() { b.wasm, b.err = buildFixture(name) })
	if b.err != nil {
		t.Fatalf("fixture %s: %v", name, b.err)
	}
	return b.wasm
}

// testCacheRoot is where fixtures and the wazero compilation cache of the
// tests live: $SQUALL_TEST_CACHE, or the user cache directory.
func testCacheRoot() string {
	if d := os.Getenv("SQUALL_TEST_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "squall", "host-test")
	}
	return filepath.Join(os.TempDir(), "squall-host-test")
}

func buildFixture(name string) ([]byte, error) {
	key, err := fixtureKey(name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(testCacheRoot(), "fixtures")
	out := filepath.Join(dir, name+"-"+key[:16]+".wasm")
	if b, err := os.ReadFile(out); err == nil {
		return b, nil
	}
	fixtureSlots <- struct{}{}
	defer func() { <-fixtureSlots }()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{"build", "-trimpath", "-o", tmp.Name()}
	if !commandFixtures[name] {
		args = append(args, "-buildmode=c-shared")
	}
	args = append(args, "./testdata/fixtures/"+name)
	cmd := exec.Command(goTool(), args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, outb)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// goTool is the go command: the one running the tests ($GOROOT/bin/go,
// as go test sets GOROOT), else the first on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// fixtureKey hashes what the build of fixture name depends on.
func fixtureKey(name string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %v\n", runtime.Version(), name, commandFixtures[name])
	for _, root := range []string{"testdata/fixtures/" + name, "testdata/fixtures/internal", "../abi", "../go.mod", "../go.sum"} {
		var files []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" && p != root && !strings.HasPrefix(root, "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(p, "_test.go") || !(strings.HasSuffix(p, ".go") || strings.HasPrefix(filepath.Base(p), "go.")) {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// wazeroVersion reads the wazero version from go.mod, to key the tests'
// compilation cache (wazero cannot find its own version in a test binary
// and would share one cache between versions).
func wazeroVersion(t testing.TB) string {
	t.Helper()
	f, err := os.Open("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "github.com/tetratelabs/wazero" {
			return fields[1]
		}
	}
	t.Fatal("wazero not found in go.mod")
	return ""
}

// testConfig returns a configuration for tests: the shared compilation
// cache and a logger that writes to the test log.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.CacheDir = filepath.Join(testCacheRoot(), "wazero-"+wazeroVersion(t))
	return cfg
}

// newRuntime starts a runtime closed at the end of the test.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	ctx := context.Background()
	r, err := NewRuntime(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(ctx) })
	return r
}
