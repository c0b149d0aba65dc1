package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/squall-run/squall/abi"
)

// StageFunc is a stage written in Go. It processes one item (a depot
// record or a hop payload) through c. Returning nil ends the item OK; an
// error made with [Poison] ends it POISON (dead-lettered, never retried);
// any other error ends it RETRY (delivered again after a backoff, up to
// MaxAttempts). A panic fails the whole call, as a trap does in wasm.
type StageFunc func(c *StageCtx, payload abi.Value) error

// NativeModule runs a module whose stages are Go functions, through the
// same engine path as a wasm module: the stages' effects become
// abi.Effects handed to the engine's Handler in frames, queries become
// query frames. It serves tests and is the baseline that wasm modules are
// measured against ("the same stage logic as a native Go function run by
// the same engine").
type NativeModule struct {
	Def     *abi.ModuleDef
	stages  map[[2]string]StageFunc
	qstages map[[2]string]StageFunc
	// FlushEvery is how many effects the processor buffers before it
	// flushes them (default 256); it also flushes before every query and
	// at the end of the batch, as the wasm SDKs do.
	FlushEvery int
}

// NewNativeModule returns a native module for def; add its stages with
// Stage.
func NewNativeModule(def *abi.ModuleDef) *NativeModule {
	return &NativeModule{Def: def, stages: map[[2]string]StageFunc{}, qstages: map[[2]string]StageFunc{}}
}

// QueryStage sets the function of a stage of a query topology and returns
// m. The entry stage (the query's first) gets the argument list.
func (m *NativeModule) QueryStage(query, stage string, fn StageFunc) *NativeModule {
	m.qstages[[2]string{query, stage}] = fn
	return m
}

// Stage sets the function of a stage of a topology and returns m.
func (m *NativeModule) Stage(topology, stage string, fn StageFunc) *NativeModule {
	m.stages[[2]string{topology, stage}] = fn
	return m
}

// Factory checks that every stage of the definition has a function and
// returns the module's ProcessorFactory.
func (m *NativeModule) Factory() (ProcessorFactory, error) {
	def := m.Def
	if def == nil {
		return nil, invalid("native module: Def is nil")
	}
	tables := make([][]StageFunc, len(def.Topologies))
	var missing []string
	for i, t := range def.Topologies {
		tables[i] = make([]StageFunc, len(t.Stages))
		for j, s := range t.Stages {
			fn := m.stages[[2]string{t.Name, s}]
			if fn == nil {
				missing = append(missing, t.Name+"/"+s)
			}
			tables[i][j] = fn
		}
	}
	qtables := make([][]StageFunc, len(def.Queries))
	for i, q := range def.Queries {
		qtables[i] = make([]StageFunc, len(q.Stages))
		for j, s := range q.Stages {
			fn := m.qstages[[2]string{q.Name, s}]
			if fn == nil {
				missing = append(missing, "query "+q.Name+"/"+s)
			}
			qtables[i][j] = fn
		}
	}
	if len(missing) > 0 {
		return nil, invalid("native module %q: no function for stages %q", def.Name, missing)
	}
	names := newNameIndex(def)
	flushEvery := m.FlushEvery
	if flushEvery <= 0 {
		flushEvery = 256
	}
	return func(ctx context.Context, partition uint32) (Processor, error) {
		return &nativeProc{def: def, stages: tables, qstages: qtables, names: names, flushEvery: flushEvery}, nil
	}, nil
}

// nameIndex resolves the names a stage uses to definition indexes.
type nameIndex struct {
	depots  map[string]uint16
	pstates map[string]uint16
	stages  []map[string]uint16 // per topology
	queries map[string]uint16
	qstages []map[string]uint16 // per query
}

func newNameIndex(def *abi.ModuleDef) *nameIndex {
	n := &nameIndex{depots: map[string]uint16{}, pstates: map[string]uint16{}}
	for i, d := range def.Depots {
		n.depots[d.Name] = uint16(i)
	}
	for i, p := range def.PStates {
		n.pstates[p.Name] = uint16(i)
	}
	for _, t := range def.Topologies {
		m := map[string]uint16{}
		for j, s := range t.Stages {
			m[s] = uint16(j)
		}
		n.stages = append(n.stages, m)
	}
	n.queries = map[string]uint16{}
	for i, q := range def.Queries {
		n.queries[q.Name] = uint16(i)
		m := map[string]uint16{}
		for j, s := range q.Stages {
			m[s] = uint16(j)
		}
		n.qstages = append(n.qstages, m)
	}
	return n
}

// PoisonError marks an error as permanent for its item: the item is
// dead-lettered instead of retried.
type PoisonError struct{ Err error }

func (e *PoisonError) Error() string { return "poison: " + e.Err.Error() }
func (e *PoisonError) Unwrap() error { return e.Err }

// Poison wraps err so that a stage returning it poisons its item.
func Poison(err error) error { return &PoisonError{Err: err} }

type nativeProc struct {
	def        *abi.ModuleDef
	stages     [][]StageFunc
	qstages    [][]StageFunc
	names      *nameIndex
	flushEvery int
	closed     bool

	// Per call.
	h         Handler
	ctx       context.Context
	buf       []abi.Effect
	itemStart int // where the current item's effects start in buf
}

func (p *nativeProc) Close(context.Context) error {
	p.closed = true
	return nil
}

func (p *nativeProc) Process(ctx context.Context, batch *abi.BatchFrame, h Handler) (err error) {
	if p.closed {
		return errors.New("native module: the processor is closed")
	}
	hdr := &batch.Header
	query := hdr.Flags&abi.BatchQuery != 0
	tables := p.stages
	if query {
		tables = p.qstages
	}
	if int(hdr.Topology) >= len(tables) {
		return &CallError{Detail: abi.ErrorDetail{Kind: "bad_batch", Message: fmt.Sprintf("topology or query %d does not exist", hdr.Topology)}}
	}
	table := tables[hdr.Topology]
	p.h, p.ctx, p.buf, p.itemStart = h, ctx, p.buf[:0], 0
	defer func() {
		p.h, p.ctx = nil, nil
		clear(p.buf)
		p.buf = p.buf[:0]
		if r := recover(); r != nil {
			err = &CallError{Detail: abi.ErrorDetail{Kind: "panic", Message: fmt.Sprint(r), Stack: string(debug.Stack())}}
		}
	}()
	sc := &StageCtx{p: p, hdr: hdr, topo: hdr.Topology, inQuery: query}
	for i := range batch.Items {
		if err := ctx.Err(); err != nil {
			return err
		}
		it := &batch.Items[i]
		if int(it.Stage) >= len(table) {
			return &CallError{Detail: abi.ErrorDetail{Kind: "bad_batch", Message: fmt.Sprintf("stage %d does not exist", it.Stage)}}
		}
		payload, err := abi.Decode(it.Payload)
		if err != nil {
			return &CallError{Detail: abi.ErrorDetail{Kind: "bad_batch", Message: "item payload: " + err.Error()}}
		}
		sc.item, sc.it, sc.rejected = uint32(i), it, nil
		p.itemStart = len(p.buf)
		serr := table[it.Stage](sc, payload)
		if serr == nil && sc.rejected != nil {
			serr = Poison(sc.rejected)
		}
		switch {
		case serr == nil:
			p.add(abi.NewOutcome(sc.item, abi.OutcomeOK, abi.ErrorDetail{}))
		default:
			clear(p.buf[p.itemStart:])
			p.buf = p.buf[:p.itemStart]
			var pe *PoisonError
			o := abi.OutcomeRetry
			if errors.As(serr, &pe) {
				o = abi.OutcomePoison
			}
			p.add(abi.NewOutcome(sc.item, o, abi.ErrorDetail{Kind: o.String(), Message: serr.Error()}))
		}
	}
	p.flush(sc)
	return nil
}

func (p *nativeProc) add(e abi.Effect) {
	p.buf = append(p.buf, e)
}

// flush hands the buffered effects to the handler and notes a rejection
// of the current item.
func (p *nativeProc) flush(sc *StageCtx) {
	if len(p.buf) == 0 {
		return
	}
	rej := p.h.Effects(p.ctx, p.buf)
	clear(p.buf)
	p.buf = p.buf[:0]
	p.itemStart = 0
	for _, r := range rej {
		if r.Item == sc.item && sc.rejected == nil {
			sc.rejected = fmt.Errorf("%s: %s", r.Code, r.Message)
		}
	}
}

// StageCtx is what a [StageFunc] works with: the item being processed
// and the effects it may have. Effects are buffered and applied in order;
// a stage sees its own transforms in later selects.
type StageCtx struct {
	p        *nativeProc
	hdr      *abi.BatchHeader
	topo     uint16
	inQuery  bool // the batch belongs to a query invocation (topo is a query)
	item     uint32
	it       *abi.BatchItem
	rejected error
}

// Context returns the call's context (it ends at the call's deadline).
func (c *StageCtx) Context() context.Context { return c.p.ctx }

// Partition returns the partition the item is processed on.
func (c *StageCtx) Partition() uint32 { return c.hdr.Partition }

// Attempt returns how many earlier deliveries of the item failed.
func (c *StageCtx) Attempt() int { return int(c.it.Attempt) }

// Item returns the batch item being processed (its payload is the
// encoded form of the stage's payload argument).
func (c *StageCtx) Item() *abi.BatchItem { return c.it }

// BatchTime returns the batch time in Unix nanoseconds, identical on every
// attempt.
func (c *StageCtx) BatchTime() int64 { return c.hdr.TimeUnixNano }

func (c *StageCtx) effect(e abi.Effect) error {
	if c.rejected != nil {
		return c.rejected
	}
	c.p.add(e)
	if len(c.p.buf) >= c.p.flushEvery {
		c.p.flush(c)
	}
	return c.rejected
}

func (c *StageCtx) stage(name string) (uint16, error) {
	if c.inQuery {
		s, ok := c.p.names.qstages[c.topo][name]
		if !ok {
			return 0, Poison(fmt.Errorf("query %q has no stage %q", c.p.def.Queries[c.topo].Name, name))
		}
		return s, nil
	}
	s, ok := c.p.names.stages[c.topo][name]
	if !ok {
		return 0, Poison(fmt.Errorf("topology %q has no stage %q", c.p.def.Topologies[c.topo].Name, name))
	}
	return s, nil
}

// Append appends rec to a depot of the module, routed by the depot's
// partitioner, when the batch commits. With AckAck the processing of the
// new record joins this item's processing tree.
func (c *StageCtx) Append(depot string, rec abi.Value, ack AckLevel) error {
	return c.appendTo(depot, rec, ack, false)
}

// AppendLocal appends rec to this partition of a depot (the only way to
// append to a disallow depot).
func (c *StageCtx) AppendLocal(depot string, rec abi.Value, ack AckLevel) error {
	return c.appendTo(depot, rec, ack, true)
}

func (c *StageCtx) appendTo(depot string, rec abi.Value, ack AckLevel, local bool) error {
	d, ok := c.p.names.depots[depot]
	if !ok {
		return Poison(fmt.Errorf("the module has no depot %q", depot))
	}
	return c.effect(abi.NewAppend(c.item, d, ack, local, rec))
}

// HopHash runs stage on the partition that owns key, with payload.
func (c *StageCtx) HopHash(stage string, key, payload abi.Value) error {
	s, err := c.stage(stage)
	if err != nil {
		return err
	}
	return c.effect(abi.NewHopHash(c.item, s, key, payload))
}

// HopDirect runs stage on a given partition.
func (c *StageCtx) HopDirect(stage string, partition uint32, payload abi.Value) error {
	s, err := c.stage(stage)
	if err != nil {
		return err
	}
	return c.effect(abi.NewHopDirect(c.item, s, partition, payload))
}

// Hop runs stage where partitioner p says: abi.PartitionAll,
// PartitionGlobal, PartitionOrigin or PartitionShuffle.
func (c *StageCtx) Hop(stage string, p abi.Partitioner, payload abi.Value) error {
	s, err := c.stage(stage)
	if err != nil {
		return err
	}
	if p == abi.PartitionHash || p == abi.PartitionDirect {
		return Poison(fmt.Errorf("use HopHash or HopDirect for %s hops", p))
	}
	return c.effect(abi.NewHop(c.item, s, p, payload))
}

// Transform applies a transform path to this partition of a PState.
func (c *StageCtx) Transform(pstate string, path abi.Path) error {
	ps, ok := c.p.names.pstates[pstate]
	if !ok {
		return Poison(fmt.Errorf("the module has no PState %q", pstate))
	}
	return c.effect(abi.NewTransform(c.item, ps, path))
}

// Emit sets this topology's ack return for the record at the root of the
// item's processing tree.
func (c *StageCtx) Emit(v abi.Value) error {
	return c.effect(abi.NewEmit(c.item, abi.EmitAckReturn, v))
}

// BatchID returns the batch id: in a microbatch topology, the microbatch
// number, the same on every partition and attempt.
func (c *StageCtx) BatchID() uint64 { return c.hdr.BatchID }

// Aggregate combines v into this partition of a PState at the key path
// keys with agg (ABI.md §15.3); for AggTopN use AggregateTopN.
func (c *StageCtx) Aggregate(pstate string, agg abi.Aggregator, keys []abi.Value, v abi.Value) error {
	ps, ok := c.p.names.pstates[pstate]
	if !ok {
		return Poison(fmt.Errorf("the module has no PState %q", pstate))
	}
	return c.effect(abi.NewAggregate(c.item, ps, agg, keys, v))
}

// AggregateTopN merges [score, id] into the top n at keys of a PState.
func (c *StageCtx) AggregateTopN(pstate string, keys []abi.Value, score, id abi.Value, n int64) error {
	ps, ok := c.p.names.pstates[pstate]
	if !ok {
		return Poison(fmt.Errorf("the module has no PState %q", pstate))
	}
	return c.effect(abi.NewAggregateTopN(c.item, ps, keys, score, id, n))
}

// Return sets the result of the query invocation (query topologies only).
func (c *StageCtx) Return(v abi.Value) error {
	return c.effect(abi.NewEmit(c.item, abi.EmitQueryResult, v))
}

// AggregateResult combines v into the query invocation's result at keys.
func (c *StageCtx) AggregateResult(agg abi.Aggregator, keys []abi.Value, v abi.Value) error {
	return c.effect(abi.NewAggregate(c.item, abi.QueryResultTarget, agg, keys, v))
}

// Invoke runs a query topology of the module and returns its result.
func (c *StageCtx) Invoke(query string, args ...abi.Value) (abi.Value, error) {
	q, ok := c.p.names.queries[query]
	if !ok {
		return abi.Nil(), Poison(fmt.Errorf("the module has no query %q", query))
	}
	c.p.flush(c)
	if c.rejected != nil {
		return abi.Nil(), c.rejected
	}
	resp := c.p.h.Query(c.p.ctx, &abi.QueryFrame{Queries: []abi.Query{abi.NewInvoke(q, args...)}})
	if resp == nil || len(resp.Results) != 1 {
		return abi.Nil(), errors.New("native module: the host answered an INVOKE with no result")
	}
	r := resp.Results[0]
	if r.Status < 0 {
		return abi.Nil(), fmt.Errorf("query %q: %s: %s", query, abi.Errno(r.Status), r.Message)
	}
	return r.Value, nil
}

// Log writes a line to the operator log.
func (c *StageCtx) Log(level abi.LogLevel, text string) {
	_ = c.effect(abi.NewLog(c.item, level, text))
}

// Select returns every value path navigates to in this partition of a
// PState, including this batch's writes.
func (c *StageCtx) Select(pstate string, path abi.Path) ([]abi.Value, error) {
	r, err := c.query(abi.QuerySelect, pstate, path)
	if err != nil {
		return nil, err
	}
	return r.Value.Items(), nil
}

// SelectOne returns the one value path navigates to; found is false when
// it navigates to nothing.
func (c *StageCtx) SelectOne(pstate string, path abi.Path) (v abi.Value, found bool, err error) {
	r, err := c.query(abi.QuerySelectOne, pstate, path)
	if err != nil {
		return abi.Nil(), false, err
	}
	if r.Status == abi.ResultNotFound {
		return abi.Nil(), false, nil
	}
	return r.Value, true, nil
}

func (c *StageCtx) query(op abi.QueryOp, pstate string, path abi.Path) (abi.Result, error) {
	ps, ok := c.p.names.pstates[pstate]
	if !ok {
		return abi.Result{}, Poison(fmt.Errorf("the module has no PState %q", pstate))
	}
	c.p.flush(c)
	if c.rejected != nil {
		return abi.Result{}, c.rejected
	}
	resp := c.p.h.Query(c.p.ctx, &abi.QueryFrame{Queries: []abi.Query{{Op: op, PState: ps, Path: path.Value()}}})
	if resp == nil || len(resp.Results) != 1 {
		return abi.Result{}, errors.New("native module: the host answered a query with no result")
	}
	r := resp.Results[0]
	if r.Status < 0 {
		err := fmt.Errorf("%s on PState %q: %s: %s", op, pstate, abi.Errno(r.Status), r.Message)
		if r.Status != int32(abi.EINTERNAL) {
			err = Poison(err)
		}
		return abi.Result{}, err
	}
	return r, nil
}
