package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/build/quickjs"
)

// An sdk is one guest SDK of the suite: where it lives, where its version
// of a module lives, and how its modules are built with its real
// toolchain.
type sdk struct {
	// name is the language, also the directory of a module's version
	// (modules/<behaviour>/<name>, examples/<example>/<name>).
	name string
	// src is the SDK's directory, relative to the repository root.
	src string
	// build builds the module in dir (absolute) to the wasm file out.
	build func(dir, out string) error
	// version describes the toolchain, for the cache key.
	version func() (string, error)
	// sources reports whether a file (relative to a hashed directory)
	// is a build input; dirs reports whether a directory is skipped.
	sources func(name string) bool
	skipDir func(name string) bool
	// features are the optional behaviours the SDK implements; tests of a
	// feature run only for the SDKs that list it ("abi-1.1": microbatch
	// and query topologies, aggregation, tick depots).
	features []string
}

// sdks are the SDKs under test. A new SDK joins the suite here (and with
// its version of each module).
var sdks = []sdk{
	{
		name: "go", src: "guest-sdks/go",
		build: buildGo, version: goVersion,
		sources: func(n string) bool {
			return (strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) || n == "go.mod" || n == "go.sum"
		},
		skipDir:  func(n string) bool { return n == "testdata" },
		features: []string{"abi-1.1"},
	},
	{
		name: "rust", src: "guest-sdks/rust",
		build: buildRust, version: rustVersion,
		sources: func(n string) bool {
			return strings.HasSuffix(n, ".rs") || n == "Cargo.toml" || n == "Cargo.lock" || n == "config.toml"
		},
		skipDir:  func(n string) bool { return n == "target" || n == "tests" || n == "examples" },
		features: []string{"abi-1.1"},
	},
	{
		name: "python", src: "guest-sdks/python/src",
		build: buildPython, version: pythonVersion,
		sources:  func(n string) bool { return strings.HasSuffix(n, ".py") || n == "pyproject.toml" },
		skipDir:  func(n string) bool { return n == "__pycache__" || n == "tests" },
		features: []string{"abi-1.1"},
	},
	{
		name: "typescript", src: "guest-sdks/typescript",
		build: buildTypeScript, version: typescriptVersion,
		sources: func(n string) bool {
			return (strings.HasSuffix(n, ".ts") && !strings.HasSuffix(n, ".test.ts")) || strings.HasSuffix(n, ".js") ||
				n == "package.json" || n == "package-lock.json" || strings.HasPrefix(n, "tsconfig")
		},
		skipDir: func(n string) bool { return n == "node_modules" || n == "dist" || n == "test" || n == "tests" },
	},
}

// repoRoot is the repository root (this package is internal/conformance).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "guest-sdks", "go", "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", dir, err)
	}
	return dir
}

// cacheDir keeps built modules, cargo's target directory and wazero's
// compiled code between runs, outside the repository.
func cacheDir() string { return filepath.Join(os.TempDir(), "squall-conformance") }

var builds struct {
	mu   sync.Mutex
	done map[string]*buildResult
}

type buildResult struct {
	once sync.Once
	wasm []byte
	err  error
}

// moduleWasm returns the wasm of the module in src (relative to the
// repository root) written with s, built with s's real toolchain, from the
// cache when neither the module's sources, the SDK's nor the toolchain
// changed. A failed build fails the test with the compiler output.
func moduleWasm(t testing.TB, s sdk, src string) []byte {
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
	r.once.Do(func() { r.wasm, r.err = cachedBuild(root, s, src) })
	if r.err != nil {
		t.Fatalf("build %s (%s) to wasm: %v", src, s.name, r.err)
	}
	return r.wasm
}

func cachedBuild(root string, s sdk, src string) ([]byte, error) {
	v, err := s.version()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", v)
	for _, dir := range []string{src, s.src} {
		if err := hashSources(h, root, dir, s.sources, s.skipDir); err != nil {
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
	if err := s.build(filepath.Join(root, src), tmp); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, file); err != nil {
		return nil, err
	}
	return os.ReadFile(file)
}

// hashSources hashes the build inputs under dir by path and content, in a
// fixed order, leaving out hidden directories, nested directories that
// skipDir names, and (for Go) nested modules.
func hashSources(h interface{ Write([]byte) (int, error) }, root, dir string, isSource, skipDir func(string) bool) error {
	base := filepath.Join(root, dir)
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != base && (skipDir(d.Name()) || (strings.HasPrefix(d.Name(), ".") && d.Name() != ".cargo") || fileExists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if isSource(d.Name()) {
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

// goTool returns $GOROOT/bin/go when GOROOT is set, else go from PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if fileExists(p) {
			return p
		}
	}
	return "go"
}

func goVersion() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOVERSION").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %v\n%s", err, out)
	}
	return "go " + string(bytes.TrimSpace(out)), nil
}

func buildGo(dir, out string) error {
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared in %s: %v\n%s", dir, err, b)
	}
	return nil
}

// Debian's Rust toolchain, which scripts/install-rust-wasm.sh installs
// (rustup's cargo, first on PATH, cannot drive rustc 1.63).
const (
	cargoTool = "/usr/bin/cargo"
	rustcTool = "/usr/bin/rustc"
	rustWasm  = "wasm32-wasi"
)

var errNoRust = errors.New("the Rust toolchain for wasm32-wasi is missing: run scripts/install-rust-wasm.sh")

func rustVersion() (string, error) {
	if !fileExists(cargoTool) || !fileExists(rustcTool) {
		return "", errNoRust
	}
	out, err := exec.Command(rustcTool, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v\n%s\n%v", rustcTool, err, out, errNoRust)
	}
	return "rust " + string(bytes.TrimSpace(out)), nil
}

func buildRust(dir, out string) error {
	target := filepath.Join(cacheDir(), "cargo-target")
	cmd := exec.Command(cargoTool, "build", "--release", "--locked", "--target", rustWasm)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RUSTC="+rustcTool, "RUSTDOC=/usr/bin/rustdoc", "CARGO_TARGET_DIR="+target)
	b, err := cmd.CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cargo build --release --target %s in %s: %v\n%s", rustWasm, dir, err, b)
		if bytes.Contains(b, []byte("can't find crate for `std`")) || bytes.Contains(b, []byte("rust-lld")) {
			msg += "\n" + errNoRust.Error()
		}
		return errors.New(msg)
	}
	name, err := crateName(filepath.Join(dir, "Cargo.toml"))
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(filepath.Join(target, rustWasm, "release", strings.ReplaceAll(name, "-", "_")+".wasm"))
	if err != nil {
		return err
	}
	return os.WriteFile(out, wasm, 0o644)
}

// typescriptVersion is Node's version and the QuickJS runtime's sources
// (tsc and esbuild are pinned by each package's lock file, which is hashed
// with the sources).
func typescriptVersion() (string, error) {
	out, err := exec.Command("node", "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("node --version: %v\n%s\n%v", err, out, build.ErrNoNode)
	}
	return "node " + string(bytes.TrimSpace(out)) + " quickjs " + quickjs.SourcesHash(), nil
}

// buildTypeScript builds with squall build's own TypeScript builder (npm
// ci when node_modules is missing, tsc --noEmit, esbuild, bytecode).
func buildTypeScript(dir, out string) error {
	return build.TypeScript(context.Background(), dir, out)
}

// crateName reads the package name of a Cargo.toml.
func crateName(manifest string) (string, error) {
	b, err := os.ReadFile(manifest)
	if err != nil {
		return "", err
	}
	inPackage := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			inPackage = line == "[package]"
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && inPackage && strings.TrimSpace(k) == "name" {
			return strings.Trim(strings.TrimSpace(v), `"`), nil
		}
	}
	return "", fmt.Errorf("%s: no package name", manifest)
}

// pythonVersion names the Python runtime build (the CPython version and
// the hash of its recipe and shim), the build's staging code and the
// CPython that compiles the modules' code.
func pythonVersion() (string, error) {
	id, err := build.PythonBuildID()
	if err != nil {
		return "", err
	}
	out, err := exec.Command("python3.11", "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("python3.11 --version: %v\n%s\n%w", err, out, build.ErrNoPython)
	}
	return "python " + id + " " + string(bytes.TrimSpace(out)), nil
}

// buildPython builds a Python module with internal/build, as squall build
// does.
func buildPython(dir, out string) error {
	return build.Python(context.Background(), dir, out)
}

// supports reports whether the SDK implements a feature (sdk.features).
func (s sdk) supports(feature string) bool { return slices.Contains(s.features, feature) }
