package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/squall-run/squall/abi"
)

// Module is a compiled guest module that passed the interface check. It
// describes itself and starts instances. It is safe for concurrent use;
// Modules compiled from the same bytes share their compiled code.
type Module struct {
	r    *Runtime
	name string
	key  [sha256.Size]byte
	c    *compiled
	// modCfg is the runtime's instance configuration, with the module's
	// file tree mounted if it has one.
	modCfg wazero.ModuleConfig

	closed atomic.Bool

	mu       sync.Mutex
	def      *abi.ModuleDef
	defBytes []byte // canonical encoding of def
}

// InitParams are the fields of the init frame (ABI.md §6.1) of an
// instance start.
type InitParams struct {
	// Tasks is the module's number of partitions, a power of two.
	Tasks uint32
	// TimeUnixNano is what the guest's clocks show during initialization;
	// 0 means now.
	TimeUnixNano int64
	// Seed seeds random_get during initialization.
	Seed uint64
}

func (p *InitParams) check() error {
	if p.Tasks == 0 || bits.OnesCount32(p.Tasks) != 1 {
		return fmt.Errorf("host: InitParams.Tasks is %d; it must be a power of two (1, 2, 4, ...)", p.Tasks)
	}
	return nil
}

// Name returns the name the module was compiled with.
func (m *Module) Name() string { return m.name }

// ABIMinor returns the ABI minor version the module needs (its marker).
func (m *Module) ABIMinor() int { return m.c.minor }

// Definition returns the definition the module gave Describe, or nil
// before a successful Describe.
func (m *Module) Definition() *abi.ModuleDef {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.def
}

// Close releases the module's hold on its compiled code. Instances
// already started keep working until they are closed; Describe and
// Instantiate fail afterwards.
func (m *Module) Close(ctx context.Context) error {
	if m.closed.Swap(true) {
		return nil
	}
	m.r.release(m.key, m.c)
	return nil
}

var errModuleClosed = errors.New("host: the module is closed")

// Describe runs the module once as the deploy-time instance (ABI.md §12.1):
// it instantiates it, calls squall_init with the DESCRIBE flag, validates
// the definition the guest flushes and closes the instance. An invalid
// definition is a *GuestError of KindDefinition wrapping an *abi.DefError
// that lists every problem. The first successful Describe fixes the
// definition that Instantiate checks instances against.
func (m *Module) Describe(ctx context.Context, p InitParams) (*abi.ModuleDef, error) {
	if m.closed.Load() {
		return nil, errModuleClosed
	}
	if m.r.isClosed.Load() {
		return nil, errRuntimeClosed
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	in, def, defBytes, err := m.start(ctx, p, true)
	if err != nil {
		return nil, err
	}
	_ = in.Close(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.def == nil {
		m.def, m.defBytes = def, defBytes
	}
	return def, nil
}

// Instantiate starts an instance for processing (ABI.md §12.2): it calls
// _initialize (when exported) and squall_init, and checks that the
// definition the instance flushes is byte for byte the one Describe
// returned (if Describe has not run on this Module yet, Instantiate runs it
// first). Instances are independent: start one per goroutine that
// processes batches. The compiled code is shared, so an instance costs its
// memory and the guest's initialization.
func (m *Module) Instantiate(ctx context.Context, p InitParams) (*Instance, error) {
	if m.closed.Load() {
		return nil, errModuleClosed
	}
	if m.r.isClosed.Load() {
		return nil, errRuntimeClosed
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	want := m.defBytes
	m.mu.Unlock()
	if want == nil {
		if _, err := m.Describe(ctx, p); err != nil {
			return nil, err
		}
		m.mu.Lock()
		want = m.defBytes
		m.mu.Unlock()
	}
	in, _, got, err := m.start(ctx, p, false)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got, want) {
		_ = in.Close(ctx)
		return nil, &GuestError{Kind: KindDefinition, Module: m.name, Call: abi.ExportInit, Item: abi.NoItem,
			Msg: "the module's definition is not deterministic: this instance flushed a definition that differs from the one Describe returned" +
				firstDifference(want, got) + "; the definition must not depend on time, randomness, the environment or the init frame"}
	}
	m.mu.Lock()
	in.def = m.def
	m.mu.Unlock()
	return in, nil
}

// firstDifference describes where two encodings first differ.
func firstDifference(a, b []byte) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	va, _ := abi.Decode(a)
	vb, _ := abi.Decode(b)
	sa, sb := va.String(), vb.String()
	const maxShow = 200
	if len(sa) > maxShow {
		sa = sa[:maxShow] + "..."
	}
	if len(sb) > maxShow {
		sb = sb[:maxShow] + "..."
	}
	return fmt.Sprintf(" (first difference at byte %d of the canonical encoding; described %s, now %s)", i, sa, sb)
}

// start instantiates the module and runs its initialization, returning
// the instance, the validated definition and its canonical encoding.
func (m *Module) start(ctx context.Context, p InitParams, describe bool) (*Instance, *abi.ModuleDef, []byte, error) {
	t := p.TimeUnixNano
	if t == 0 {
		t = time.Now().UnixNano()
	}
	in, err := newInstance(ctx, m, p.Tasks, t, p.Seed)
	if err != nil {
		return nil, nil, nil, err
	}
	frame := abi.InitFrame{HostMajor: abi.Major, HostMinor: abi.Minor, Tasks: p.Tasks, TimeUnixNano: t, Seed: p.Seed}
	if describe {
		frame.Flags = abi.InitDescribe
	}
	defValue, err := in.init(ctx, &frame)
	if err != nil {
		return nil, nil, nil, err
	}
	def, err := abi.ParseModuleDef(defValue)
	if err != nil {
		_ = in.Close(ctx)
		return nil, nil, nil, &GuestError{Kind: KindDefinition, Module: m.name, Call: abi.ExportInit, Item: abi.NoItem,
			Msg: err.Error(), Err: err}
	}
	if need := def.MinMinor(); need > m.c.minor {
		_ = in.Close(ctx)
		msg := fmt.Sprintf("the definition uses ABI 1.%d features (tick depots, microbatch topologies, PState owners, source start positions or queries) "+
			"but the module's marker is %s; build it with an SDK that targets ABI 1.%d", need, abi.MarkerName(abi.Major, m.c.minor), need)
		return nil, nil, nil, &GuestError{Kind: KindDefinition, Module: m.name, Call: abi.ExportInit, Item: abi.NoItem, Msg: msg}
	}
	enc, err := def.Encode()
	if err != nil {
		_ = in.Close(ctx)
		return nil, nil, nil, &GuestError{Kind: KindDefinition, Module: m.name, Call: abi.ExportInit, Item: abi.NoItem,
			Msg: "the definition cannot be encoded: " + err.Error(), Err: err}
	}
	in.def = def
	return in, def, enc, nil
}
