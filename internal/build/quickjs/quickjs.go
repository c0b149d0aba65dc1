// Package quickjs provides Squall's JavaScript runtime for TypeScript
// modules: QuickJS compiled to a wasm32-wasi reactor together with a C
// runtime (runtime/) that implements the guest ABI (abi/ABI.md) and hands
// frames to the SDK's JavaScript. [Runtime] builds it with the script
// build-runtime.sh (Debian's clang and wasi-libc, QuickJS from Debian's
// source package) into the user cache, keyed by the QuickJS version and the
// hash of the sources, so it is built once per machine and version. Both
// the script and the C sources are embedded in this package, so `squall
// build` works outside the repository. [Compile] precompiles a bundle to
// QuickJS bytecode by running the runtime itself under wazero.
package quickjs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

//go:embed build-runtime.sh runtime
var sources embed.FS

// Version is the QuickJS version the runtime is built from (Debian's
// version of the quickjs source package).
const Version = "2025.04.26"

// EnvRuntime names an environment variable that, when set, is the path of
// a runtime.wasm to use instead of building one.
const EnvRuntime = "SQUALL_QUICKJS_RUNTIME"

// CacheDir is where Squall keeps builds of toolchain pieces:
// $XDG_CACHE_HOME/squall, else ~/.cache/squall.
func CacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("quickjs: no cache directory: %w", err)
	}
	return filepath.Join(d, "squall"), nil
}

var runtimeOnce struct {
	mu   sync.Mutex
	path string
}

// Runtime returns the path of the runtime's wasm file, building it first
// when the cache has none for these sources (about a minute: it downloads
// QuickJS's source package and compiles it). It installs nothing: when
// clang, wasi-libc or the deb-src entry are missing, the error says to run
// scripts/build-quickjs-runtime.sh, which installs them.
func Runtime(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvRuntime); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("quickjs: %s=%s: %w", EnvRuntime, p, err)
		}
		return p, nil
	}
	runtimeOnce.mu.Lock()
	defer runtimeOnce.mu.Unlock()
	if runtimeOnce.path != "" {
		if _, err := os.Stat(runtimeOnce.path); err == nil {
			return runtimeOnce.path, nil
		}
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	src, err := unpack(filepath.Join(cache, "quickjs"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(src, "build-runtime.sh"))
	// No apt-get from a build: scripts/build-quickjs-runtime.sh (setup)
	// installs what is missing; compiling with what is there is fine.
	cmd.Env = append(os.Environ(), "SQUALL_CACHE="+cache, "SQUALL_NO_INSTALL=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("quickjs: building the runtime (%s) failed: %w\n%s", filepath.Join(src, "build-runtime.sh"), err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	p := lines[len(lines)-1]
	if !strings.HasSuffix(p, ".wasm") {
		return "", fmt.Errorf("quickjs: the runtime build printed no wasm path: %q", stdout.String())
	}
	runtimeOnce.path = p
	return p, nil
}

// embedded lists the embedded files, in lexical order.
func embedded() ([]string, error) {
	var files []string
	err := fs.WalkDir(sources, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, p)
		return nil
	})
	return files, err
}

// SourcesHash identifies the runtime's sources (the build script and the C
// runtime) and the QuickJS version: it changes whenever the runtime.wasm
// they build may change. Caches of built modules key on it.
func SourcesHash() string {
	h := sha256.New()
	fmt.Fprintf(h, "quickjs %s\n", Version)
	files, _ := embedded()
	for _, f := range files {
		b, _ := sources.ReadFile(f)
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// unpack writes the embedded script and C sources under dir, in a
// directory named by their hash, and returns it.
func unpack(dir string) (string, error) {
	files, err := embedded()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "src-"+SourcesHash())
	if _, err := os.Stat(filepath.Join(out, "build-runtime.sh")); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("quickjs: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, "src-*.tmp")
	if err != nil {
		return "", fmt.Errorf("quickjs: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		b, _ := sources.ReadFile(f)
		p := filepath.Join(tmp, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("quickjs: %w", err)
		}
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return "", fmt.Errorf("quickjs: %w", err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if _, statErr := os.Stat(filepath.Join(out, "build-runtime.sh")); statErr == nil {
			return out, nil // another build unpacked the same sources first
		}
		return "", fmt.Errorf("quickjs: %w", err)
	}
	return out, nil
}

// SyntaxError is a script that QuickJS cannot compile.
type SyntaxError struct{ Message string }

func (e *SyntaxError) Error() string { return "quickjs: " + e.Message }

// Compile compiles script (the esbuild bundle; its stack frames will name
// bundle.js) to QuickJS bytecode, by calling the runtime's squall_compile
// export under wazero. The bytecode is tied to the runtime's QuickJS
// build, which is why it is produced by that same binary. cacheDir, if
// not empty, keeps wazero's compiled code between builds.
func Compile(ctx context.Context, runtimeWasm, script []byte, cacheDir string) ([]byte, error) {
	cfg := wazero.NewRuntimeConfig()
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("quickjs: compilation cache: %w", err)
		}
		defer cache.Close(ctx)
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer r.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, fmt.Errorf("quickjs: WASI: %w", err)
	}
	// The ABI's host functions: compiling calls none of them.
	refuse := api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
		stack[0] = uint64(uint32(0xFFFFFFF9)) // -ESTATE
	})
	i32 := api.ValueTypeI32
	_, err := r.NewHostModuleBuilder("squall_v1").
		NewFunctionBuilder().WithGoModuleFunction(refuse, []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("flush").
		NewFunctionBuilder().WithGoModuleFunction(refuse, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).Export("query").
		NewFunctionBuilder().WithGoModuleFunction(refuse, []api.ValueType{i32, i32}, []api.ValueType{i32}).Export("take").
		Instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("quickjs: %w", err)
	}
	var stderr bytes.Buffer
	mod, err := r.InstantiateWithConfig(ctx, runtimeWasm, wazero.NewModuleConfig().
		WithStartFunctions("_initialize").WithStderr(&stderr).WithName("quickjs"))
	if err != nil {
		return nil, fmt.Errorf("quickjs: instantiating the runtime: %w", err)
	}
	inbox, compile := mod.ExportedFunction("squall_inbox"), mod.ExportedFunction("squall_compile")
	if inbox == nil || compile == nil {
		return nil, errors.New("quickjs: the runtime has no squall_inbox or squall_compile export")
	}
	res, err := inbox.Call(ctx, uint64(len(script)))
	if err != nil || res[0] == 0 {
		return nil, fmt.Errorf("quickjs: no inbox of %d bytes for the script (%v)", len(script), err)
	}
	if !mod.Memory().Write(uint32(res[0]), script) {
		return nil, errors.New("quickjs: the inbox lies outside the memory")
	}
	res, err = compile.Call(ctx, uint64(len(script)))
	if err != nil {
		return nil, fmt.Errorf("quickjs: compiling the bundle: %w\n%s", err, stderr.String())
	}
	ptr := uint32(res[0])
	head, ok := mod.Memory().Read(ptr, 8)
	if ptr == 0 || !ok {
		return nil, errors.New("quickjs: compiling the bundle ran out of memory")
	}
	status, n := binary.LittleEndian.Uint32(head), binary.LittleEndian.Uint32(head[4:])
	body, ok := mod.Memory().Read(ptr+8, n)
	if !ok {
		return nil, errors.New("quickjs: squall_compile returned a result outside the memory")
	}
	if status != 0 {
		return nil, &SyntaxError{Message: string(body)}
	}
	return bytes.Clone(body), nil
}
