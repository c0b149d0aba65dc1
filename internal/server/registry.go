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
	// Artifact is the artifact's file name in the module directory; empty
	// means NAME.wasm. An update writes the new artifact under a new name,
	// then the manifest: the manifest's rename is the update's commit
	// point, so a crash leaves the old artifact or the new one, never a
	// mix.
	Artifact string `json:"artifact,omitempty"`
}

// artifactFile returns the artifact's file name.
func (m *manifest) artifactFile() string {
	if m.Artifact != "" {
		return m.Artifact
	}
	return m.Name + ".wasm"
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
	wasm, err := os.ReadFile(filepath.Join(r.dir, m.artifactFile()))
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
	if err := r.eng.Deploy(ctx, engine.ModuleSpec{Name: m.Name, Def: def, Tasks: m.Tasks, NewProcessor: engine.WasmFactory(mod, m.Tasks), ABIMinor: mod.ABIMinor()}); err != nil {
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
	if err := r.eng.Deploy(ctx, engine.ModuleSpec{Name: name, Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(mod, tasks), ABIMinor: mod.ABIMinor()}); err != nil {
		_ = r.unstore(name)
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
	if err := writeFileAtomic(filepath.Join(r.dir, m.artifactFile()), wasm); err != nil {
		return fmt.Errorf("server: store the artifact of %q: %w", m.Name, err)
	}
	return r.storeManifest(m)
}

// storeManifest writes the manifest atomically.
func (r *Registry) storeManifest(m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(r.dir, m.Name+".json"), b); err != nil {
		return fmt.Errorf("server: store the manifest of %q: %w", m.Name, err)
	}
	return nil
}

// unstore removes the manifest of name (first: without it the module is
// not stored), then every artifact file of name.
func (r *Registry) unstore(name string) error {
	if err := os.Remove(filepath.Join(r.dir, name+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("server: remove the manifest of %q: %w", name, err)
	}
	r.removeArtifacts(name, "")
	return nil
}

// artifactName is the file name of generation gen's artifact of name,
// NAME~gGEN.wasm ('~' is not allowed in names, so no other module's file
// has this form).
func artifactName(name string, gen uint64) string {
	return fmt.Sprintf("%s~g%d.wasm", name, gen)
}

// removeArtifacts removes the artifact files of name (NAME.wasm and
// NAME~gN.wasm) except keep.
func (r *Registry) removeArtifacts(name, keep string) {
	files, _ := filepath.Glob(filepath.Join(r.dir, name+"~g*.wasm"))
	files = append(files, filepath.Join(r.dir, name+".wasm"))
	for _, f := range files {
		if filepath.Base(f) != keep {
			_ = os.Remove(f)
		}
	}
}

// readManifest reads the stored manifest of name.
func (r *Registry) readManifest(name string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(r.dir, name+".json"))
	if err != nil {
		return m, fmt.Errorf("server: read the manifest of %q: %w", name, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("server: damaged manifest of %q: %w", name, err)
	}
	return m, nil
}

// claim marks a deployed module busy for an update or a destroy.
func (r *Registry) claim(name string) (*deployed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.mods[name]
	if d == nil {
		return nil, &notFoundError{kind: "module", name: name, have: r.namesLocked()}
	}
	if r.busy[name] {
		return nil, &busyError{module: name}
	}
	r.busy[name] = true
	return d, nil
}

func (r *Registry) release(name string) {
	r.mu.Lock()
	delete(r.busy, name)
	r.mu.Unlock()
}

// Update replaces the code of the deployed module name with wasm, whose
// definition must be the running one: it compiles wasm, undeploys the
// module (draining it), stores the new artifact and deploys it. If the new
// code cannot be deployed, the old one is deployed again.
func (r *Registry) Update(ctx context.Context, name string, wasm []byte, validateOnly bool) (*squallv1.ModuleDescription, error) {
	d, err := r.claim(name)
	if err != nil {
		return nil, err
	}
	defer r.release(name)
	if d.def == nil {
		return nil, &failedModuleError{module: name, reason: d.fail}
	}
	tasks := d.info.Tasks
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
	if !abi.Equal(def.Value(), d.def.Value()) {
		return nil, &definitionChangedError{module: name, diff: defDiff(d.def, def)}
	}
	sum := sha256.Sum256(wasm)
	info := d.info
	info.ArtifactSize, info.ArtifactSHA256 = uint64(len(wasm)), sum[:]
	info.ABIVersion = fmt.Sprintf("1.%d", mod.ABIMinor())
	info.UpdatedAt = r.now().UTC()
	info.Generation++
	if validateOnly {
		return r.describe(def, info)
	}

	old, err := r.readManifest(name)
	if err != nil {
		return nil, err
	}
	m := manifest{Name: name, Tasks: tasks, Size: info.ArtifactSize, SHA256: hex.EncodeToString(sum[:]),
		ABIVersion: info.ABIVersion, DeployedAt: info.DeployedAt, UpdatedAt: info.UpdatedAt, Generation: info.Generation,
		Artifact: artifactName(name, info.Generation)}
	if err := r.eng.Undeploy(ctx, name); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	// Undeploy removed the module even when ctx ended (what was in flight
	// is processed again by the next deploy); deploy without ctx's end.
	dctx := context.WithoutCancel(ctx)
	redeployOld := func(cause error) error {
		if err := r.eng.Deploy(dctx, engine.ModuleSpec{Name: name, Def: d.def, Tasks: tasks, NewProcessor: engine.WasmFactory(d.mod, tasks), ABIMinor: d.mod.ABIMinor()}); err != nil {
			r.log.Error("the old code of a module could not be deployed again after a failed update", "module", name, "err", err)
			info := d.info
			info.State = squallv1.ModuleState_MODULE_STATE_FAILED
			r.mu.Lock()
			r.mods[name] = &deployed{info: info, fail: err.Error()}
			r.mu.Unlock()
			_ = d.mod.Close(dctx)
		}
		return cause
	}
	if err := r.store(m, wasm); err != nil {
		r.removeArtifacts(name, old.artifactFile())
		return nil, redeployOld(err)
	}
	if err := r.eng.Deploy(dctx, engine.ModuleSpec{Name: name, Def: def, Tasks: tasks, NewProcessor: engine.WasmFactory(mod, tasks), ABIMinor: mod.ABIMinor()}); err != nil {
		if serr := r.storeManifest(old); serr != nil { // the old artifact file is still there
			r.log.Error("the old manifest of a module could not be restored after a failed update", "module", name, "err", serr)
		}
		r.removeArtifacts(name, old.artifactFile())
		return nil, redeployOld(err)
	}
	keep = true
	r.removeArtifacts(name, m.Artifact)
	r.mu.Lock()
	r.mods[name] = &deployed{info: info, def: def, mod: mod}
	r.mu.Unlock()
	_ = d.mod.Close(dctx)
	r.log.Info("module updated", "module", name, "generation", info.Generation, "bytes", len(wasm))
	return r.describe(def, info)
}

// Destroy undeploys the module name, deletes its data and removes its
// artifact. A module that failed to restore is removed too.
func (r *Registry) Destroy(ctx context.Context, name string) error {
	d, err := r.claim(name)
	if err != nil {
		return err
	}
	defer r.release(name)
	if d.def != nil {
		if err := r.eng.Destroy(ctx, name); err != nil {
			return err
		}
	}
	if err := r.unstore(name); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.mods, name)
	r.mu.Unlock()
	if d.mod != nil {
		_ = d.mod.Close(context.WithoutCancel(ctx))
	}
	r.log.Info("module destroyed", "module", name)
	return nil
}

// defDiff names what differs between two definitions: depots, PStates
// and topologies added, removed or changed.
func defDiff(old, cur *abi.ModuleDef) []string {
	var out []string
	diff := func(kind string, a, b map[string]abi.Value) {
		for n, v := range a {
			w, ok := b[n]
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s %q removed", kind, n))
			case !abi.Equal(v, w):
				out = append(out, fmt.Sprintf("%s %q changed", kind, n))
			}
		}
		for n := range b {
			if _, ok := a[n]; !ok {
				out = append(out, fmt.Sprintf("%s %q added", kind, n))
			}
		}
	}
	depots := func(d *abi.ModuleDef) map[string]abi.Value {
		m := map[string]abi.Value{}
		for i := range d.Depots {
			one := &abi.ModuleDef{Name: d.Name, Depots: []abi.DepotDef{d.Depots[i]}}
			m[d.Depots[i].Name] = one.Value()
		}
		return m
	}
	pstates := func(d *abi.ModuleDef) map[string]abi.Value {
		m := map[string]abi.Value{}
		for i := range d.PStates {
			one := &abi.ModuleDef{Name: d.Name, PStates: []abi.PStateDef{d.PStates[i]}}
			m[d.PStates[i].Name] = one.Value()
		}
		return m
	}
	topos := func(d *abi.ModuleDef) map[string]abi.Value {
		m := map[string]abi.Value{}
		for i := range d.Topologies {
			one := &abi.ModuleDef{Name: d.Name, Topologies: []abi.TopologyDef{d.Topologies[i]}}
			m[d.Topologies[i].Name] = one.Value()
		}
		return m
	}
	diff("depot", depots(old), depots(cur))
	diff("PState", pstates(old), pstates(cur))
	diff("topology", topos(old), topos(cur))
	slices.Sort(out)
	return out
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
	m.Artifact = artifactName(name, m.Generation)
	r := &Registry{dir: dir}
	if err := r.store(m, wasm); err != nil {
		return true, err
	}
	r.removeArtifacts(name, m.Artifact)
	return true, nil
}
