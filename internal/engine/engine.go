package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// Reserved names. A module may not declare a depot or topology with these
// names.
const (
	// DeadLetterDepot is the depot, in every module, that receives the
	// items that were poisoned, rejected or failed too often: one record per
	// item, on the partition where it failed (see [DeadLetter]).
	DeadLetterDepot = "$dead-letter"
	// metaTopology names the progress record that holds the deployed
	// module's task count and definition (partition 0).
	metaTopology = "$module"
)

// Config configures an [Engine]. DB is required; every other field has a
// default.
type Config struct {
	// DB is the node's store. The engine does not close it: close the
	// engine first, then the DB.
	DB *storage.DB
	// Logger receives the engine's messages and the modules' LOG effects.
	// Nil discards them.
	Logger *slog.Logger

	// MaxBatchItems bounds the items of one batch (default 1000).
	MaxBatchItems int
	// MaxBatchBytes bounds the payload bytes of one batch; a batch holds at
	// least one item (default 1 MiB).
	MaxBatchBytes int
	// MaxInflight bounds the depot records of one task whose processing
	// trees are not complete; the task reads no new records while it is
	// reached (default 32768).
	MaxInflight int
	// MaxAttempts is how many failed deliveries (RETRY outcomes or failed
	// calls) an item gets before it is dead-lettered (default 8).
	MaxAttempts int
	// BackoffBase and BackoffMax bound the exponential backoff between
	// retries (defaults 100 ms and 30 s). Each delay is drawn uniformly
	// from [d/2, d] with d = min(BackoffBase·2^(n-1), BackoffMax).
	BackoffBase, BackoffMax time.Duration
	// CallTimeout is the deadline of one Process call (default 10 s).
	CallTimeout time.Duration
	// MicrobatchTimeout bounds one attempt of a microbatch, every call of
	// every partition together (default 5 min): an attempt past it fails
	// and is retried, so a hop loop or a pathological microbatch cannot
	// hold a topology for ever.
	MicrobatchTimeout time.Duration
	// Seed seeds the engine's pseudo-random sources: backoff jitter, batch
	// seeds and processing-tree ids (default 1). Nothing the engine commits
	// depends on it except through what processors do with batch seeds.
	Seed uint64
	// Clock gives batch times (default time.Now).
	Clock func() time.Time
}

func (c *Config) fill() error {
	if c.DB == nil {
		return errors.New("engine: Config.DB is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBatchItems <= 0 {
		c.MaxBatchItems = 1000
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 32768
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.MaxAttempts > 0xFFFF {
		c.MaxAttempts = 0xFFFF
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.BackoffMax < c.BackoffBase {
		c.BackoffMax = c.BackoffBase
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.MicrobatchTimeout <= 0 {
		c.MicrobatchTimeout = 5 * time.Minute
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

// Engine runs the stream topologies of deployed modules on one node: one
// task (goroutine) per module partition, each the single writer of its
// partition. See the package documentation.
type Engine struct {
	cfg Config
	db  *storage.DB
	log *slog.Logger

	ctx    context.Context // canceled by a hard stop
	cancel context.CancelFunc

	mu      sync.RWMutex
	closing bool
	modules map[string]*module
	// stopping holds the modules being undeployed or destroyed: removed
	// from modules, their tasks not yet exited (or their data not yet
	// deleted). Their names cannot be deployed meanwhile.
	stopping map[string]*module
	seeds    *rand.Rand // guarded by mu: seeds of the tasks' sources
}

// Open starts an engine on cfg.DB. It runs nothing until modules are
// deployed; after a restart, deploy every module again (the engine resumes
// each topology from its committed progress).
func Open(cfg Config) (*Engine, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		cfg:      cfg,
		db:       cfg.DB,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		modules:  map[string]*module{},
		stopping: map[string]*module{},
		seeds:    rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
	}, nil
}

// Close stops the engine. It refuses new appends and deploys at once, then
// drains: tasks stop reading new depot records and finish the processing
// trees in flight, so that their progress is committed and nothing is
// replayed on restart. When ctx ends first, Close stops the tasks where
// they are (their unfinished records are replayed after a restart) and
// returns the context's error. Every goroutine of the engine has exited
// when Close returns; ACK appends still waiting fail with [ErrClosed].
// Close after Close returns ErrClosed.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closing = true
	mods := make([]*module, 0, len(e.modules))
	for _, m := range e.modules {
		mods = append(mods, m)
	}
	stopping := make([]*module, 0, len(e.stopping))
	for _, m := range e.stopping {
		stopping = append(stopping, m)
	}
	e.mu.Unlock()

	for _, m := range mods {
		m.startDrain()
	}
	var err error
	for _, m := range mods {
		select {
		case <-m.stopped:
		case <-ctx.Done():
			err = fmt.Errorf("engine: close: stopped before draining (unfinished records will be replayed after a restart): %w", ctx.Err())
		}
		if err != nil {
			break
		}
	}
	e.cancel()
	for _, m := range mods {
		<-m.stopped
		m.closeAcks(ErrClosed)
	}
	for _, m := range stopping { // their Undeploy or Destroy ends with ErrClosed or its own error
		<-m.stopped
	}
	return err
}

// Undeploy stops one deployed module and removes it from the engine, as
// Close does for every module: it refuses new appends to the module at
// once, then drains its tasks (they stop reading new depot records, finish
// the processing trees in flight and commit their progress) and closes
// their processors. When ctx ends first, Undeploy stops the tasks where
// they are (their unfinished records are processed again by the next
// deploy: at-least-once) and returns the context's error; the module is
// removed either way. ACK appends still waiting fail with [ErrClosed].
//
// The module's data and recorded definition stay: deploying it again
// (with the same definition and task count, and any ProcessorFactory)
// resumes every topology from its committed progress. [Engine.Destroy]
// deletes them.
func (e *Engine) Undeploy(ctx context.Context, module string) error {
	m, err := e.beginStop(module)
	if err != nil {
		return err
	}
	err = m.stop(ctx)
	e.endStop(module, m)
	return err
}

// Destroy undeploys a module (see [Engine.Undeploy]) and deletes its data:
// its depots, PStates, progress and recorded definition and task count,
// so that a later Deploy of the name starts fresh, with any definition.
// When ctx ends before the tasks drained they are stopped where they are
// and the data is deleted all the same.
func (e *Engine) Destroy(ctx context.Context, module string) error {
	m, err := e.beginStop(module)
	if err != nil {
		return err
	}
	defer e.endStop(module, m)
	_ = m.stop(ctx) // the data goes: what was in flight does not matter
	if err := e.db.DropModule(module); err != nil {
		return fmt.Errorf("engine: destroy module %q: delete its data: %w", module, err)
	}
	return nil
}

// beginStop moves a deployed module from modules to stopping.
func (e *Engine) beginStop(name string) (*module, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return nil, ErrClosed
	}
	m := e.modules[name]
	if m == nil {
		if e.stopping[name] != nil {
			return nil, notFound("module %q is already being undeployed", name)
		}
		return nil, notFound("module %q is not deployed", name)
	}
	delete(e.modules, name)
	e.stopping[name] = m
	return m, nil
}

func (e *Engine) endStop(name string, m *module) {
	e.mu.Lock()
	if e.stopping[name] == m {
		delete(e.stopping, name)
	}
	e.mu.Unlock()
}

// stop drains the module's tasks, or stops them hard when ctx ends first,
// and waits for them to exit.
func (m *module) stop(ctx context.Context) error {
	m.startDrain()
	var err error
	select {
	case <-m.stopped:
	case <-ctx.Done():
		err = fmt.Errorf("engine: undeploy module %q: stopped before draining (unfinished records are processed again by the next deploy): %w", m.name, ctx.Err())
	}
	m.cancel()
	<-m.stopped
	m.closeAcks(ErrClosed)
	return err
}

// Deploy starts the module described by spec: it declares its depots (and
// its dead-letter depot) and PStates in the store, records its task count
// and definition on first deploy, and starts one task per partition, each
// resuming every topology from its committed progress (or from the start
// of the depots the first time).
//
// Deploying a module that is already deployed on this engine fails. After
// a restart, deploy the same definition with the same task count (Tasks 0
// means the recorded count); a different task count or definition fails,
// since module updates are not supported yet.
func (e *Engine) Deploy(ctx context.Context, spec ModuleSpec) error {
	if spec.Def == nil {
		return invalid("deploy: ModuleSpec.Def is required")
	}
	if spec.NewProcessor == nil {
		return invalid("deploy: ModuleSpec.NewProcessor is required")
	}
	name := spec.Name
	if name == "" {
		name = spec.Def.Name
	}
	if err := storage.ValidateName("module name", name); err != nil {
		return invalid("deploy: %v", err)
	}
	if err := spec.Def.Validate(); err != nil {
		return invalid("deploy module %q: %v", name, err)
	}
	if need := spec.Def.MinMinor(); need > spec.ABIMinor {
		return invalid("deploy module %q: its definition uses Squall ABI 1.%d features (tick depots, microbatch topologies, PState owners, "+
			"source start positions or queries) and the module's code targets ABI 1.%d", name, need, spec.ABIMinor)
	}
	if spec.ABIMinor > abi.Minor {
		return invalid("deploy module %q: the module targets Squall ABI 1.%d and this engine supports up to 1.%d", name, spec.ABIMinor, abi.Minor)
	}
	for _, d := range spec.Def.Depots {
		if d.Name == DeadLetterDepot {
			return invalid("deploy module %q: depot name %q is reserved for the engine's dead letters", name, d.Name)
		}
	}
	for _, t := range spec.Def.Topologies {
		if t.Name == metaTopology {
			return invalid("deploy module %q: topology name %q is reserved", name, t.Name)
		}
	}
	tasks, err := e.recordModule(ctx, name, spec)
	if err != nil {
		return err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return ErrClosed
	}
	if _, ok := e.modules[name]; ok {
		return invalid("deploy: module %q is already deployed on this engine", name)
	}
	if e.stopping[name] != nil {
		return invalid("deploy: module %q is being undeployed on this engine; deploy it once that is done", name)
	}
	m, err := newModule(e, name, spec, tasks)
	if err != nil {
		return err
	}
	for _, t := range m.parts {
		if err := t.load(); err != nil {
			m.cancel()
			return err
		}
	}
	for _, r := range m.mbs {
		if err := r.load(ctx); err != nil {
			m.cancel()
			return err
		}
	}
	e.modules[name] = m
	m.start()
	return nil
}

// ModuleSpec describes a module to deploy.
type ModuleSpec struct {
	// Name is the module's name; empty means Def.Name.
	Name string
	// Def is the module definition (from the module itself: the wasm
	// module's DEFINE, or the definition a NativeModule runs).
	Def *abi.ModuleDef
	// Tasks is the number of partitions, a power of two, fixed at the
	// first deploy; 0 on a later deploy means the recorded count.
	Tasks uint32
	// NewProcessor makes each partition's Processor.
	NewProcessor ProcessorFactory
	// ABIMinor is the ABI minor the module's code targets (its marker,
	// host.Module.ABIMinor; NativeModule.Factory's processors speak
	// abi.Minor). Effects and queries of a later minor are rejected.
	ABIMinor int
}

// recordModule checks spec against the module's recorded task count and
// definition, recording them on first deploy, and returns the task count.
func (e *Engine) recordModule(ctx context.Context, name string, spec ModuleSpec) (uint32, error) {
	defVal := spec.Def.Value()
	stored, ok, err := e.db.Progress(name, metaTopology, 0)
	if err != nil {
		return 0, err
	}
	if ok {
		v, err := abi.Decode(stored)
		if err != nil {
			return 0, fmt.Errorf("engine: module %q: its recorded definition is damaged: %w", name, err)
		}
		tv, _ := v.Get(abi.String("tasks"))
		n, _ := tv.AsInt()
		dv, _ := v.Get(abi.String("def"))
		if spec.Tasks != 0 && int64(spec.Tasks) != n {
			return 0, invalid("deploy module %q: it was first deployed with %d tasks; the task count is fixed at first deploy (asked for %d)", name, n, spec.Tasks)
		}
		if !abi.Equal(dv, defVal) {
			return 0, invalid("deploy module %q: its definition differs from the deployed one; module updates are not supported yet (deploy it under a new name)", name)
		}
		return uint32(n), nil
	}
	if spec.Tasks == 0 || spec.Tasks&(spec.Tasks-1) != 0 || spec.Tasks > 1<<16 {
		return 0, invalid("deploy module %q: Tasks is %d; it must be a power of two from 1 to 65536", name, spec.Tasks)
	}
	rec, err := abi.Encode(abi.Map(
		abi.MapEntry{Key: abi.String("def"), Val: defVal},
		abi.MapEntry{Key: abi.String("tasks"), Val: abi.Int(int64(spec.Tasks))},
	))
	if err != nil {
		return 0, fmt.Errorf("engine: module %q: encode its definition: %w", name, err)
	}
	b := e.db.NewBatch()
	if err := b.SetProgress(name, metaTopology, 0, rec); err != nil {
		b.Close()
		return 0, fmt.Errorf("engine: module %q: record its definition: %w", name, err)
	}
	if _, err := b.Commit(ctx); err != nil {
		return 0, fmt.Errorf("engine: module %q: record its definition: %w", name, err)
	}
	return spec.Tasks, nil
}

// lookup returns a deployed module.
func (e *Engine) lookup(name string) (*module, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closing {
		return nil, ErrClosed
	}
	m := e.modules[name]
	if m == nil {
		return nil, notFound("module %q is not deployed", name)
	}
	return m, nil
}

// Tasks returns the number of partitions of a deployed module.
func (e *Engine) Tasks(module string) (uint32, error) {
	m, err := e.lookup(module)
	if err != nil {
		return 0, err
	}
	return m.tasks, nil
}

// AppendResult says where an appended record went and, for [AckAck], what
// the module's topologies returned.
type AppendResult struct {
	Partition uint32
	Offset    uint64
	// AckReturns holds, for AckAck, the last value each stream topology
	// emitted as ack return (EMIT on ACK_RETURN) while processing the
	// record, by topology name; topologies that emitted nothing are absent.
	AckReturns map[string]abi.Value
}

// AppendToDepot appends record to a depot of a deployed module, routed by
// the depot's partitioner, and waits as ack says:
//
//   - AckNone: the record is written (not yet durable);
//   - AckAppendAck: the record is durable;
//   - AckAck: the record is durable and every stream topology of the module
//     reading the depot has completely processed it; AppendResult carries
//     their ack returns. If an item of the record's processing tree was
//     dead-lettered, the result is filled in and the error is a
//     [*ProcessingError].
//
// When ctx ends first the error is the context's and the record may still
// have been appended, as with any failed acknowledgment.
func (e *Engine) AppendToDepot(ctx context.Context, moduleName, depotName string, record abi.Value, ack AckLevel) (AppendResult, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return AppendResult{}, err
	}
	d := m.depotByName[depotName]
	if d == nil {
		return AppendResult{}, notFound("module %q has no depot %q", moduleName, depotName)
	}
	if ack > AckAck {
		return AppendResult{}, invalid("ack level %d does not exist", ack)
	}
	if d.tick > 0 {
		return AppendResult{}, invalid("depot %s/%s is a tick depot: only the engine appends to it (every %s)", moduleName, depotName, d.tick)
	}
	val, err := abi.Encode(record)
	if err != nil {
		return AppendResult{}, invalid("depot %s/%s: the record cannot be encoded: %v", moduleName, depotName, err)
	}
	var part uint32
	var key []byte
	switch d.def.Partitioner.Kind {
	case abi.DepotDisallow:
		return AppendResult{}, invalid("depot %s/%s is declared disallow: only its module's topologies append to it", moduleName, depotName)
	case abi.DepotRandom:
		part = rand.Uint32N(m.tasks)
	default:
		var msg string
		part, key, msg = m.hashRoute(d, record, val)
		if msg != "" {
			return AppendResult{}, invalid("depot %s/%s: %s", moduleName, depotName, msg)
		}
	}
	rec := storage.Record{Key: key, Value: val}
	res := AppendResult{Partition: part}
	t := m.parts[part]
	if ack != AckAck || d.readers == 0 {
		if ack == AckNone {
			res.Offset, err = d.d.AppendNoSync(ctx, part, rec)
		} else {
			res.Offset, err = d.d.Append(ctx, part, rec)
		}
		if err != nil {
			return AppendResult{}, err
		}
		t.kick()
		d.kickMBs()
		return res, nil
	}

	_, floor, err := d.d.Bounds(part)
	if err != nil {
		return AppendResult{}, err
	}
	tok := d.acks.begin(part, floor)
	res.Offset, err = d.d.Append(ctx, part, rec)
	if err != nil {
		d.acks.abort(tok)
		return AppendResult{}, err
	}
	t.kick()
	d.kickMBs()
	w := newClientWaiter(d.readers)
	d.acks.resolve(tok, res.Offset, w)
	select {
	case <-w.done:
	case <-ctx.Done():
		d.acks.cancel(part, res.Offset, w)
		return res, ctx.Err()
	}
	res.AckReturns = w.rets
	if w.err != nil {
		return res, w.err
	}
	if len(w.failures) > 0 {
		return res, &ProcessingError{Module: moduleName, Depot: depotName, Partition: part, Offset: res.Offset, Failures: w.failures}
	}
	return res, nil
}

// Lag returns how many depot records the stream topologies of a deployed
// module have not completely processed, by their committed progress,
// summed over every topology, source and partition: the records a restart
// would process (again). It is 0 when everything appended so far is
// processed and its progress committed.
func (e *Engine) Lag(moduleName string) (uint64, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return 0, err
	}
	var lag uint64
	for _, r := range m.mbs {
		n, err := r.lag()
		if err != nil {
			return 0, err
		}
		lag += n
	}
	for _, ti := range m.topos {
		if ti.micro {
			continue
		}
		n, err := e.streamLag(m, ti)
		if err != nil {
			return 0, err
		}
		lag += n
	}
	return lag, nil
}

// streamLag is the lag of one stream topology.
func (e *Engine) streamLag(m *module, ti *topoInfo) (uint64, error) {
	var lag uint64
	for p := range m.tasks {
		raw, ok, err := e.db.Progress(m.name, ti.def.Name, p)
		if err != nil {
			return 0, err
		}
		var prog progress
		if ok {
			if prog, err = decodeProgress(raw); err != nil {
				return 0, err
			}
		}
		for _, s := range ti.sources {
			first, next, err := s.depot.d.Bounds(p)
			if err != nil {
				return 0, err
			}
			sp, found := prog.srcs[srcKey{s.depot.def.Name, ti.def.Stages[s.stage]}]
			if !found {
				sp = srcProgress{low: first, hi: first}
			}
			lag += sp.remaining(first, next)
		}
	}
	return lag, nil
}

// Select runs a select path on a PState of a deployed module, as committed,
// on the partition that owns the path's first key (a path on a map PState
// must start with key or mustKey; a global PState lives on partition 0).
// Use [Engine.SelectPartition] for other paths.
func (e *Engine) Select(ctx context.Context, moduleName, pstate string, path abi.Path) ([]abi.Value, error) {
	m, ps, err := e.pstate(moduleName, pstate)
	if err != nil {
		return nil, err
	}
	part := uint32(0)
	if !ps.global {
		if !ps.rootMap || len(path) == 0 || (path[0].Op != abi.OpKey && path[0].Op != abi.OpMustKey) {
			return nil, invalid("select on %s/%s: the path must start with key or mustKey to pick the partition; use SelectPartition", moduleName, pstate)
		}
		kb, err := abi.Encode(path[0].Arg)
		if err != nil {
			return nil, invalid("select on %s/%s: the key cannot be encoded: %v", moduleName, pstate, err)
		}
		part = abi.KeyPartition(kb, m.tasks)
	}
	return e.db.Select(ps.ps, part, path)
}

// SelectPartition runs a select path on one partition of a PState, as
// committed.
func (e *Engine) SelectPartition(ctx context.Context, moduleName, pstate string, partition uint32, path abi.Path) ([]abi.Value, error) {
	m, ps, err := e.pstate(moduleName, pstate)
	if err != nil {
		return nil, err
	}
	if partition >= m.tasks {
		return nil, invalid("module %q has %d partitions; there is no partition %d", moduleName, m.tasks, partition)
	}
	if ps.global && partition != 0 {
		return nil, invalid("PState %s/%s is global: it lives on partition 0", moduleName, pstate)
	}
	return e.db.Select(ps.ps, partition, path)
}

func (e *Engine) pstate(moduleName, pstate string) (*module, *pstateInfo, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return nil, nil, err
	}
	for _, ps := range m.pstates {
		if ps.ps.Name() == pstate {
			return m, ps, nil
		}
	}
	return nil, nil, notFound("module %q has no PState %q", moduleName, pstate)
}

// TopologyStatus is the state of one topology of a deployed module.
type TopologyStatus struct {
	Name, Kind string
	// Lag counts the depot records the topology has not completely
	// processed (by committed progress).
	Lag uint64
	// Microbatch is set for microbatch topologies.
	Microbatch *MicrobatchStatus
}

// Topologies returns the state of every topology of a deployed module, in
// definition order.
func (e *Engine) Topologies(moduleName string) ([]TopologyStatus, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return nil, err
	}
	out := make([]TopologyStatus, 0, len(m.topos))
	for _, ti := range m.topos {
		ts := TopologyStatus{Name: ti.def.Name, Kind: ti.def.Kind}
		if ti.micro {
			for _, r := range m.mbs {
				if r.ti == ti {
					st := r.Status()
					ts.Microbatch = &st
					if ts.Lag, err = r.lag(); err != nil {
						return nil, err
					}
				}
			}
		} else if ts.Lag, err = e.streamLag(m, ti); err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, nil
}
