package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// module is a deployed module: its definition resolved against the store,
// and its tasks.
type module struct {
	e       *Engine
	name    string
	def     *abi.ModuleDef
	tasks   uint32
	newProc ProcessorFactory
	// minor is the ABI minor the module's code targets: 1.1 effects and
	// queries from a 1.0 module are rejected.
	minor int

	// ctx is canceled by a hard stop of the module (Undeploy past its
	// deadline) or of the engine.
	ctx    context.Context
	cancel context.CancelFunc

	depots      []*depotInfo // by index in def.Depots
	depotByName map[string]*depotInfo
	deadLetter  *storage.Depot
	pstates     []*pstateInfo // by index in def.PStates
	topos       []*topoInfo   // by index in def.Topologies
	parts       []*task       // by partition
	mbs         []*mbRunner   // the microbatch topologies' runners
	queries     []*queryInfo  // by index in def.Queries
	qprocs      procPool      // processors of query invocations

	// inflight counts the processing trees in flight on all tasks; a
	// draining module stops when it reaches 0.
	inflight atomic.Int64
	// reading counts the tasks between deciding to read new records and
	// counting them in inflight. Without it a task could decide to read
	// just before draining starts while the others, seeing nothing in
	// flight, exit; the trees it then starts would hop to exited tasks and
	// never complete, and Close would wait for them until its deadline.
	reading  atomic.Int64
	draining atomic.Bool
	// failed is set when a task stopped on a store failure: nothing more
	// can complete, so draining ends at once.
	failed atomic.Bool

	wg      sync.WaitGroup
	stopped chan struct{} // closed when every task has exited
	// drainCh is closed when draining starts: tick goroutines and
	// microbatch runners stop at once.
	drainCh   chan struct{}
	drainOnce sync.Once
}

type depotInfo struct {
	idx uint16
	def *abi.DepotDef
	d   *storage.Depot
	// readers counts the (topology, source) pairs reading the depot: the
	// processing trees each record starts, and the completions an ACK
	// append waits for.
	readers int
	acks    *ackHub
	// mbs are the microbatch runners that read the depot: an append wakes
	// them.
	mbs []*mbRunner
	// tick is the period of a tick depot (ABI.md §15.1), 0 otherwise.
	tick time.Duration
}

// kickMBs wakes the microbatch runners reading the depot.
func (d *depotInfo) kickMBs() {
	for _, r := range d.mbs {
		r.kick()
	}
}

type pstateInfo struct {
	ps      *storage.PState
	global  bool
	rootMap bool // the top level is a map: its keys partition the PState
	// owner is the index of the one topology that may write the PState,
	// or -1 (any stream topology may).
	owner int
}

type topoInfo struct {
	idx     uint16
	def     *abi.TopologyDef
	sources []sourceInfo
	micro   bool // a microbatch topology: run by an mbRunner, not by the tasks
}

type sourceInfo struct {
	idx   uint16 // in the topology's sources
	depot *depotInfo
	stage uint16
}

func newModule(e *Engine, name string, spec ModuleSpec, tasks uint32) (*module, error) {
	def := spec.Def
	m := &module{
		e:           e,
		name:        name,
		def:         def,
		tasks:       tasks,
		newProc:     spec.NewProcessor,
		minor:       spec.ABIMinor,
		depotByName: map[string]*depotInfo{},
		stopped:     make(chan struct{}),
		drainCh:     make(chan struct{}),
	}
	m.ctx, m.cancel = context.WithCancel(e.ctx)
	for i := range def.Depots {
		dd := &def.Depots[i]
		var opts storage.DepotOptions
		if dd.Partitioner.Kind == abi.DepotTick {
			// Ticks are worth only their latest: keep a bounded history
			// (a topology paused for longer skips the oldest).
			opts.MaxEntries = TickRetention
		}
		d, err := e.db.Depot(name, dd.Name, opts)
		if err != nil {
			return nil, fmt.Errorf("engine: module %q: declare depot %q: %w", name, dd.Name, err)
		}
		di := &depotInfo{idx: uint16(i), def: dd, d: d, acks: newAckHub()}
		if dd.Partitioner.Kind == abi.DepotTick {
			di.tick = time.Duration(dd.Partitioner.TickMillis) * time.Millisecond
		}
		m.depots = append(m.depots, di)
		m.depotByName[dd.Name] = di
	}
	dl, err := e.db.Depot(name, DeadLetterDepot, storage.DepotOptions{})
	if err != nil {
		return nil, fmt.Errorf("engine: module %q: declare the dead-letter depot: %w", name, err)
	}
	m.deadLetter = dl
	for i := range def.PStates {
		pd := &def.PStates[i]
		schema, err := storage.ParseSchema(pd.Schema.Value())
		if err != nil {
			return nil, invalid("module %q: PState %q: %v", name, pd.Name, err)
		}
		ps, err := storage.NewPState(name, pd.Name, schema)
		if err != nil {
			return nil, invalid("module %q: %v", name, err)
		}
		m.pstates = append(m.pstates, &pstateInfo{ps: ps, global: pd.Global, rootMap: schema.Type() == storage.TypeMap,
			owner: def.TopologyIndex(pd.Owner)})
	}
	for i := range def.Topologies {
		td := &def.Topologies[i]
		ti := &topoInfo{idx: uint16(i), def: td, micro: td.Kind == abi.TopologyMicrobatch}
		for j, s := range td.Sources {
			d := m.depotByName[s.Depot]
			st := td.StageIndex(s.Stage)
			if d == nil || st < 0 { // Validate checked both
				return nil, invalid("module %q: topology %q: source %d names an unknown depot or stage", name, td.Name, j)
			}
			if !ti.micro {
				// Only stream topologies take part in ACK (RAMA-NOTES §1).
				d.readers++
			}
			ti.sources = append(ti.sources, sourceInfo{idx: uint16(j), depot: d, stage: uint16(st)})
		}
		m.topos = append(m.topos, ti)
		if ti.micro {
			r := newMBRunner(m, ti)
			m.mbs = append(m.mbs, r)
			for _, s := range ti.sources {
				s.depot.mbs = append(s.depot.mbs, r)
			}
		}
	}
	for i := range def.Queries {
		m.queries = append(m.queries, &queryInfo{idx: uint16(i), def: &def.Queries[i]})
	}
	for p := range tasks {
		m.parts = append(m.parts, newTask(m, p))
	}
	return m, nil
}

// start runs the module's tasks, microbatch runners and tick depots.
func (m *module) start() {
	for _, t := range m.parts {
		m.wg.Go(t.run)
	}
	for _, r := range m.mbs {
		m.wg.Go(r.run)
	}
	for _, d := range m.depots {
		if d.tick > 0 {
			m.wg.Go(func() { m.runTick(d) })
		}
	}
	go func() {
		m.wg.Wait()
		m.qprocs.closeAll()
		close(m.stopped)
	}()
}

// startDrain makes the tasks stop reading new records and exit once every
// processing tree in flight is complete.
func (m *module) startDrain() {
	m.draining.Store(true)
	m.drainOnce.Do(func() { close(m.drainCh) })
	for _, d := range m.depots {
		d.acks.drainLinks()
	}
	m.kickAll()
}

func (m *module) kickAll() {
	for _, t := range m.parts {
		t.kick()
	}
}

// treeDone records that a processing tree completed (or was abandoned).
func (m *module) treeDone() {
	if m.inflight.Add(-1) == 0 && m.draining.Load() {
		m.kickAll()
	}
}

// drained reports whether a draining module's tasks may exit.
//
// reading is loaded before inflight: a task counts its new trees in
// inflight before it leaves reading, so reading == 0 followed by
// inflight == 0 means no tree is in flight or about to start.
func (m *module) drained() bool {
	return m.draining.Load() && m.reading.Load() == 0 && (m.inflight.Load() <= 0 || m.failed.Load())
}

func (m *module) closeAcks(err error) {
	for _, d := range m.depots {
		d.acks.close(err)
	}
}

// hashRoute returns the partition and key of a record appended to a hash
// depot, or a message saying why the key path cannot run on it.
func (m *module) hashRoute(d *depotInfo, record abi.Value, encoded []byte) (uint32, []byte, string) {
	kp := d.def.Partitioner.Key
	if len(kp) == 0 {
		return abi.KeyPartition(encoded, m.tasks), nil, ""
	}
	vs, err := storage.SelectValue(record, kp)
	if err != nil {
		return 0, nil, "the depot's key path " + kp.String() + " does not fit the record: " + strings.TrimPrefix(err.Error(), "storage: ")
	}
	key := abi.Nil()
	if len(vs) > 0 {
		key = vs[0]
	}
	kb, err := abi.Encode(key)
	if err != nil {
		return 0, nil, "the record's key cannot be encoded: " + err.Error()
	}
	return abi.KeyPartition(kb, m.tasks), kb, ""
}

// pstatePartitionCheck checks that a path on PState pi may run on
// partition part (ABI.md §6.3 TRANSFORM, §6.5): a global PState only on
// partition 0, a top-level key only on the partition that owns it.
func (m *module) pstatePartitionCheck(pi *pstateInfo, p abi.Path, part uint32) (abi.Errno, string) {
	if pi.global {
		if part != 0 {
			return abi.EWRONGPART, fmt.Sprintf("PState %q is global: it lives on partition 0, and this is partition %d; hop there (GLOBAL) first", pi.ps.Name(), part)
		}
		return 0, ""
	}
	if !pi.rootMap || len(p) == 0 || (p[0].Op != abi.OpKey && p[0].Op != abi.OpMustKey) {
		return 0, ""
	}
	kb, err := abi.Encode(p[0].Arg)
	if err != nil {
		return abi.EPATH, "the path's first key cannot be encoded: " + err.Error()
	}
	if owner := abi.KeyPartition(kb, m.tasks); owner != part {
		return abi.EWRONGPART, fmt.Sprintf("key %s of PState %q belongs to partition %d and this is partition %d; hop there (HASH on the key) first",
			p[0].Arg.String(), pi.ps.Name(), owner, part)
	}
	return 0, ""
}
