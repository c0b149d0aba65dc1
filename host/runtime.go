package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host/internal/files"
	"github.com/squall-run/squall/host/internal/interrupt"
	"github.com/squall-run/squall/host/internal/sandbox"
	"github.com/squall-run/squall/host/internal/wasmbin"
)

// Runtime compiles and runs guest modules. It owns a wazero runtime with
// the compiler engine, the host modules (squall_v1 and WASI preview1) and
// the compiled code of its modules. It is safe for concurrent use.
type Runtime struct {
	cfg    Config
	logger *slog.Logger
	rt     wazero.Runtime
	cache  wazero.CompilationCache // nil without CacheDir
	modCfg wazero.ModuleConfig     // the base configuration of every instance
	fsCfg  wazero.FSConfig         // the Mounts, for modules with a file tree

	mu       sync.Mutex
	closed   bool
	compiled map[[sha256.Size]byte]*compiled
	isClosed atomic.Bool // closed, readable without the lock
}

// compiled is the compiled code of one module binary, shared by every
// Module compiled from the same bytes.
type compiled struct {
	ready chan struct{} // closed when cm or err is set
	cm    wazero.CompiledModule
	err   error // the module's fault: not wasm, does not compile, wrong interface
	minor int   // the ABI minor of the module's marker
	init  bool  // exports _initialize
	refs  int
}

var errRuntimeClosed = errors.New("host: the runtime is closed")

// NewRuntime validates cfg and starts a runtime.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runtime{cfg: cfg, logger: cfg.Logger, compiled: map[[sha256.Size]byte]*compiled{}}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	// Not WithCloseOnContextDone: its check leaves native code for Go at
	// every loop back-edge, which costs Go guests about 4x. Compile
	// instruments modules with a cheaper check (see host/internal/interrupt
	// and Instance.tick) that keeps the guarantee: a guest that runs past
	// its deadline, or whose instance or runtime is closed, is stopped.
	rcfg := wazero.NewRuntimeConfigCompiler().
		WithCoreFeatures(api.CoreFeaturesV2)
	// The memory limit is enforced per instance by a sandbox.Limiter (see
	// Module.Instantiate), which, unlike WithMemoryLimitPages, lets the
	// host see the refused growth and report KindOutOfMemory.
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("host: compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rcfg = rcfg.WithCompilationCache(cache)
	}
	rt, err := newWazero(ctx, rcfg)
	if err != nil {
		r.closeCache(ctx)
		return nil, err
	}
	r.rt = rt
	if err := r.instantiateHostModules(ctx); err != nil {
		_ = rt.Close(ctx)
		r.closeCache(ctx)
		return nil, err
	}
	fsc := wazero.NewFSConfig()
	for _, m := range cfg.Mounts {
		// Not WithReadOnlyDirMount: see sandbox.ReadOnlyDir.
		fsc = fsc.(sysfs.FSConfig).WithSysFSMount(sandbox.ReadOnlyDir(m.HostDir), m.GuestPath)
	}
	r.fsCfg = fsc
	r.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithFSConfig(fsc)
	return r, nil
}

// newWazero starts a wazero runtime with the compiler engine, which
// panics on platforms it does not support; that becomes an error.
func newWazero(ctx context.Context, rcfg wazero.RuntimeConfig) (rt wazero.Runtime, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("host: the wazero compiler does not run on %s/%s (%v); Squall needs amd64 or arm64 on Linux, macOS, FreeBSD, NetBSD or Windows",
				runtime.GOOS, runtime.GOARCH, p)
		}
	}()
	return wazero.NewRuntimeWithConfig(ctx, rcfg), nil
}

func (r *Runtime) closeCache(ctx context.Context) {
	if r.cache != nil {
		_ = r.cache.Close(ctx)
	}
}

// Close closes every instance and module of the runtime and releases the
// compiled code. Calls running in instances fail with KindCanceled.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.isClosed.Store(true)
	r.compiled = nil
	r.mu.Unlock()
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// Compile compiles a module binary and checks that it can run on this host
// (ABI.md §11, §12.1 steps 1-2) without instantiating anything. name
// identifies the module in errors and logs. Modules compiled from the same
// bytes share their compiled code, so compiling a binary again is cheap.
//
// A module's file tree (the abi.FilesSection custom section, ABI.md §2.5)
// is not part of its code: modules that differ only in their files, such
// as two Python modules built with the same runtime, share compiled code.
//
// Errors that are the module's fault match ErrInvalidModule (errors.Is); an
// *abi.InterfaceError in the chain lists every ABI problem at once.
func (r *Runtime) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	if name == "" {
		return nil, errors.New("host: Compile needs a module name (for errors and logs)")
	}
	if err := wasmbin.Check(wasm); err != nil {
		return nil, &moduleError{module: name, cause: err}
	}
	wasm, tree, err := wasmbin.SplitCustom(wasm, abi.FilesSection)
	if err != nil {
		return nil, &moduleError{module: name, msg: "not a valid WebAssembly module", cause: err}
	}
	modCfg := r.modCfg
	if tree != nil {
		fsys, err := files.Parse(tree, files.DefaultLimits)
		if err != nil {
			return nil, &moduleError{module: name, msg: "its file tree (custom section " + abi.FilesSection + ") is invalid", cause: err}
		}
		modCfg = r.modCfg.WithFSConfig(r.fsCfg.(sysfs.FSConfig).WithSysFSMount(sandbox.ReadOnlyFS(fsys), abi.FilesMount))
	}
	key := sha256.Sum256(wasm)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errRuntimeClosed
	}
	c, ok := r.compiled[key]
	if !ok {
		c = &compiled{ready: make(chan struct{})}
		r.compiled[key] = c
	}
	c.refs++
	r.mu.Unlock()

	if !ok {
		r.compile(ctx, c, wasm)
		close(c.ready)
	} else {
		select {
		case <-c.ready:
		case <-ctx.Done():
			r.release(key, c)
			return nil, ctx.Err()
		}
	}
	if c.err != nil {
		r.release(key, c)
		var me *moduleError
		if errors.As(c.err, &me) {
			return nil, &moduleError{module: name, msg: me.msg, cause: me.cause}
		}
		return nil, fmt.Errorf("host: module %q: %w", name, c.err)
	}
	return &Module{r: r, name: name, key: key, c: c, modCfg: modCfg}, nil
}

// compile fills c from wasm. It compiles the module instrumented with the
// interrupt checks, and checks the interface of the module as written.
func (r *Runtime) compile(ctx context.Context, c *compiled, wasm []byte) {
	// The instrumentation parses the whole binary first, and rejects
	// counts larger than the bytes that follow them before wazero sizes
	// anything by them.
	code, err := interrupt.Instrument(wasm, interrupt.DefaultBudget)
	if err != nil {
		msg := "not a valid WebAssembly module"
		var ue *interrupt.UnsupportedError
		if errors.As(err, &ue) {
			msg = "a WebAssembly feature Squall does not support"
		}
		c.err = &moduleError{msg: msg, cause: err}
		return
	}
	cm, err := r.rt.CompileModule(ctx, code)
	if err != nil {
		if ctx.Err() != nil {
			c.err = ctx.Err()
			return
		}
		c.err = &moduleError{msg: "not a valid WebAssembly module", cause: err}
		return
	}
	secs, err := wasmbin.Read(wasm)
	if err != nil {
		_ = cm.Close(ctx)
		c.err = &moduleError{msg: "not a valid WebAssembly module", cause: err}
		return
	}
	iface := moduleInterface(cm, secs)
	minor, err := abi.CheckInterface(iface, abi.Minor, r.cfg.MemoryLimitPages)
	if err != nil {
		_ = cm.Close(ctx)
		c.err = &moduleError{cause: err}
		return
	}
	c.cm, c.minor = cm, minor
	_, c.init = cm.ExportedFunctions()[abi.ExportInitialize]
}

// release drops one reference to c, closing its compiled code after the
// last one (or after a failed compilation).
func (r *Runtime) release(key [sha256.Size]byte, c *compiled) {
	r.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && r.compiled != nil && r.compiled[key] == c {
		delete(r.compiled, key)
	}
	closed := r.closed
	r.mu.Unlock()
	if last && c.cm != nil && !closed {
		// Instances already running keep working (wazero documents it).
		_ = c.cm.Close(context.Background())
	}
}

// moduleInterface maps what wazero and the binary say about a module to
// what abi.CheckInterface needs.
func moduleInterface(cm wazero.CompiledModule, secs *wasmbin.Sections) abi.ModuleInterface {
	var m abi.ModuleInterface
	funcs := cm.ImportedFunctions()
	for _, im := range secs.Imports {
		ai := abi.Import{Module: im.Module, Name: im.Name, Kind: abi.ExternKind(im.Kind)}
		if im.Kind == wasmbin.KindFunc && im.Index < len(funcs) {
			ai.Type = funcType(funcs[im.Index])
		}
		m.Imports = append(m.Imports, ai)
	}
	exported := cm.ExportedFunctions()
	for _, ex := range secs.Exports {
		ae := abi.Export{Name: ex.Name, Kind: abi.ExternKind(ex.Kind)}
		if fd, ok := exported[ex.Name]; ok && ex.Kind == wasmbin.KindFunc {
			ae.Type = funcType(fd)
		}
		m.Exports = append(m.Exports, ae)
	}
	if mem, ok := cm.ExportedMemories()[abi.ExportMemory]; ok {
		m.MemoryMinPages = mem.Min()
	}
	return m
}

func funcType(fd api.FunctionDefinition) abi.FuncType {
	conv := func(ts []api.ValueType) []abi.ValType {
		out := make([]abi.ValType, len(ts))
		for i, t := range ts {
			out[i] = abi.ValType(t)
		}
		return out
	}
	return abi.FuncType{Params: conv(fd.ParamTypes()), Results: conv(fd.ResultTypes())}
}
