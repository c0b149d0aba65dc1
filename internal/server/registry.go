package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/engine"
)

// wasmMagic starts every WebAssembly binary.
var wasmMagic = []byte("\x00asm")

// Registry keeps the modules deployed on a node: their compiled code,
// definitions and artifacts. Artifacts are stored in Dir as NAME.wasm
// with a NAME.json manifest, written before the engine deploys them, so
// that a restart deploys them again ([Registry.Restore]).
type Registry struct {
	dir string
	rt  *host.Runtime
	eng *engine.Engine
	log *slog.Logger
	now func() time.Time

	mu   sync.Mutex
	mods map[string]*deployed // deployed or failed modules
	busy map[string]bool      // names being deployed
}

// deployed is one module of the registry.
type deployed struct {
	info apiconv.ModuleInfo
	def  *abi.ModuleDef // nil when the module failed to restore
	mod  *host.Module
	fail string // why a stored module could not be restored
}

// manifest is the NAME.json file stored beside an artifact.
type manifest struct {
	Name       string    `json:"name"`
	Tasks      uint32    `json:"tasks"`
	Size       uint64    `json:"size"`
	SHA256     string    `json:"sha256"`
	ABIVersion string    `json:"abi_version"`
	DeployedAt time.Time `json:"deployed_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Generation uint64    `json:"generation"`
}

// NewRegistry returns a registry storing artifacts in dir (created if
// needed), compiling them with rt and deploying them on eng.
func NewRegistry(dir string, rt *host.Runtime, eng *engine.Engine, log *slog.Logger) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("server: module directory: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{dir: dir, rt: rt, eng: eng, log: log, now: time.Now,
		mods: map[string]*deployed{}, busy: map[string]bool{}}, nil
}

// Restore deploys every module stored in the registry's directory, in
// name order. A module that cannot be deployed is logged and listed as
// FAILED with the reason; the others still start. It returns how many
// modules run.
func (r *Registry) Restore(ctx context.Context) (int, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return 0, fmt.Errorf("server: read module directory: %w", err)
	}
	n := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		if err := r.restore(ctx, filepath.Join(r.dir, e.Name())); err != nil {
			r.log.Error("a stored module could not be deployed again", "manifest", e.Name(), "err", err)
			continue
		}
		n++
	}
	return n, nil
}

func (r *Registry) restore(ctx context.Context, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("damaged manifest: %w", err)
	}
	info := apiconv.ModuleInfo{Name: m.Name, State: squallv1.ModuleState_MODULE_STATE_FAILED, Tasks: m.Tasks,
		ArtifactSize: m.Size, ABIVersion: m.ABIVersion, DeployedAt: m.DeployedAt, UpdatedAt: m.UpdatedAt, Generation: m.Generation}
	info.ArtifactSHA256, _ = hex.DecodeString(m.SHA256)
	failed := func(err error) error {
		r.mu.Lock()
		r.mods[m.Name] = &deployed{info: info, fail: err.Error()}
		r.mu.Unlock()
		return err
	}
	wasm, err := os.ReadFile(filepath.Join(r.dir, m.Name+".wasm"))
	if err != nil {
		return failed(err)
	}
	if sum := sha256.Sum256(wasm); hex.EncodeToString(sum[:]) != m.SHA256 {
		return failed(fmt.Errorf("stored artifact of %q does not match its digest", m.Name))
	}
	mod, def, err := r.compile(ctx, m.Name, m.Tasks, wasm)
	if err != nil {
		return failed(err)
	}
	if err := r.eng.Deploy(ctx, engine.ModuleSpec{Name: m.Name, Def: def, Tasks: m.Tasks, NewProcessor: engine.WasmFactory(mod, m.Tasks)}); err != nil {
		_ = mod.Close(ctx)
		return failed(err)
	}
	info.State = squallv1.ModuleState_MODULE_STATE_RUNNING
	r.mu.Lock()
	r.mods[m.Name] = &deployed{info: info, def: def, mod: mod}
	r.mu.Unlock()
	r.log.Info("module deployed again", "module", m.Name, "tasks", m.Tasks)
	return nil
}

// invalidModuleError is a module the server refuses: not wasm, not
// compilable, or with a definition that fails.
type invalidModuleError struct{ err error }

func (e *invalidModuleError) Error() string { return e.err.Error() }
func (e *invalidModuleError) Unwrap() error { return e.err }

// compile compiles wasm and reads its definition.
func (r *Registry) compile(ctx context.Context, name string, tasks uint32, wasm []byte) (*host.Module, *abi.ModuleDef, error) {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, nil, &invalidModuleError{errors.New("the artifact is not a WebAssembly module (it does not start with \\0asm); build it with `squall build DIR`")}
	}
	if name == "" {
		name = "module"
	}
	mod, err := r.rt.Compile(ctx, name, wasm)
	if err != nil {
		if errors.Is(err, host.ErrInvalidModule) {
			return nil, nil, &invalidModuleError{err}
		}
		return nil, nil, err
	}
	def, err := mod.Describe(ctx, host.InitParams{Tasks: tasks})
	if err != nil {
		_ = mod.Close(ctx)
		var ge *host.GuestError
		if errors.As(err, &ge) || errors.Is(err, host.ErrInvalidModule) {
			return nil, nil, &invalidModuleError{err}
		}
		return nil, nil, err
	}
	return mod, def, nil
}

// Deploy compiles wasm, reads its definition and, unless validateOnly,
// stores it and deploys it as name (empty: the name it declares) with
// tasks partitions.
func (r *Registry) Deploy(ctx context.Context, name string, tasks uint32, wasm []byte, validateOnly bool) (*squallv1.ModuleDescription, error) {
	mod, def, err := r.compile(ctx, name, tasks, wasm)
	if err != nil {
		return nil, err
	}
	keep := false
	defer func() {
		if !keep {
			_ = mod.Close(ctx)
		}
	}()
	if name == "" {
		name = def.Name
	}
	sum := sha256.Sum256(wasm)
	now := r.now().UTC()
	info := apiconv.ModuleInfo{Name: name, State: squallv1.ModuleState_MODULE_STATE_RUNNING, Tasks: tasks,
		ArtifactSize: uint64(len(wasm)), ArtifactSHA256: sum[:], ABIVersion: fmt.Sprintf("1.%d", mod.ABIMinor()),
		DeployedAt: now, UpdatedAt: now, Generation: 1}
	if validateOnly {
		info.State = squallv1.ModuleState_MODULE_STATE_UNSPECIFIED
		return r.describe(def, info)
	}

	r.mu.Lock()
	if _, ok := r.mods[name]; ok || r.busy[name] {
		r.mu.Unlock()
		return nil, &existsError{module: name}
	}
	r.busy[name] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.busy, name)
		r.mu.Unlock()
	}()

	m := manifest{Name: name, Tasks: tasks, Size: info.ArtifactSize, SHA256: hex.EncodeToString(sum[:]),
		ABIVersion: info.ABIVersion, DeployedAt: now, UpdatedAt: now, Generation: 1}
	if err := r.store(m, wasm); err != nil {
		return nil, err
	}
	if err := r.eng.Deploy(ctx, engine.ModuleSpec{Name: name, Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(mod, tasks)}); err != nil {
		r.unstore(name)
		return nil, err
	}
	keep = true
	r.mu.Lock()
	r.mods[name] = &deployed{info: info, def: def, mod: mod}
	r.mu.Unlock()
	r.log.Info("module deployed", "module", name, "tasks", tasks, "bytes", len(wasm))
	return r.describe(def, info)
}

func (r *Registry) describe(def *abi.ModuleDef, info apiconv.ModuleInfo) (*squallv1.ModuleDescription, error) {
	return apiconv.DescribeModule(def, info)
}

// store writes the artifact, then its manifest, each atomically.
func (r *Registry) store(m manifest, wasm []byte) error {
	if err := writeFileAtomic(filepath.Join(r.dir, m.Name+".wasm"), wasm); err != nil {
		return fmt.Errorf("server: store the artifact of %q: %w", m.Name, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.dir, m.Name+".json"), b); err != nil {
		return fmt.Errorf("server: store the manifest of %q: %w", m.Name, err)
	}
	return nil
}

func (r *Registry) unstore(name string) {
	_ = os.Remove(filepath.Join(r.dir, name+".json"))
	_ = os.Remove(filepath.Join(r.dir, name+".wasm"))
}

// writeFileAtomic writes b to a temporary file, syncs it and renames it
// to file.
func writeFileAtomic(file string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// get returns a module of the registry, or a notFoundError listing the
// modules there are.
func (r *Registry) get(name string) (*deployed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.mods[name]
	if d == nil {
		return nil, &notFoundError{kind: "module", name: name, have: r.namesLocked()}
	}
	if d.def == nil {
		return nil, &failedModuleError{module: name, reason: d.fail}
	}
	return d, nil
}

func (r *Registry) namesLocked() []string {
	names := make([]string, 0, len(r.mods))
	for n := range r.mods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// list returns the modules ordered by name.
func (r *Registry) list() []*deployed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*deployed, 0, len(r.mods))
	for _, n := range r.namesLocked() {
		out = append(out, r.mods[n])
	}
	return out
}

// Close releases the compiled modules. Close the engine first.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.mods {
		if d.mod != nil {
			_ = d.mod.Close(ctx)
		}
	}
	r.mods = map[string]*deployed{}
	return nil
}

// ReplaceStored replaces the stored artifact of module name in the module
// directory dir of a node that is not running: the next start deploys
// wasm instead (the engine accepts it only if its definition is the
// deployed one). It counts one more generation. It returns
// false when no module of that name is stored.
func ReplaceStored(dir, name string, wasm []byte) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return false, fmt.Errorf("server: damaged manifest of %q: %w", name, err)
	}
	sum := sha256.Sum256(wasm)
	m.Size, m.SHA256, m.UpdatedAt, m.Generation = uint64(len(wasm)), hex.EncodeToString(sum[:]), time.Now().UTC(), m.Generation+1
	r := &Registry{dir: dir}
	return true, r.store(m, wasm)
}
