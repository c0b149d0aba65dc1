package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// Query topologies (ABI.md §15.4). An invocation runs on the caller's
// goroutine: it takes one store snapshot, runs the entry stage as an
// INVOKE item on an origin partition, then the hops it sends, wave after
// wave, on a processor borrowed from the module's pool, until no hop is
// left; its result is what the stages emitted on QUERY_RESULT and
// aggregated into it. Queries are read-only and are never retried.

// Query invocation limits.
const (
	// DefaultQueryTimeout is the deadline of an invocation when the
	// caller gives none.
	DefaultQueryTimeout = 10 * time.Second
	// MaxQueryTimeout bounds the deadline a caller may ask for.
	MaxQueryTimeout = 5 * time.Minute
	// maxQueryDepth bounds queries invoked from queries.
	maxQueryDepth = 8
	// maxQueryDeliveries bounds the items of one invocation, so that a
	// hop loop fails it instead of running until the deadline.
	maxQueryDeliveries = 1_000_000
	// maxIdleQueryProcs bounds the idle processors a module keeps for
	// queries.
	maxIdleQueryProcs = 8
)

type queryInfo struct {
	idx uint16
	def *abi.QueryDef
}

// QueryError is how a query invocation fails: Code is EINVAL (bad
// arguments, nesting too deep), ETIMEDOUT (past the deadline) or EFAILED
// (a stage failed).
type QueryError struct {
	Module, Query string
	Code          abi.Errno
	Msg           string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("engine: query %s/%s: %s", e.Module, e.Query, e.Msg)
}

// Is makes an EINVAL QueryError match ErrInvalid.
func (e *QueryError) Is(target error) bool { return target == ErrInvalid && e.Code == abi.EINVAL }

// procPool keeps idle processors of a module for query invocations.
type procPool struct {
	mu     sync.Mutex
	idle   []Processor
	closed bool
}

func (pp *procPool) get(ctx context.Context, m *module) (Processor, error) {
	pp.mu.Lock()
	if n := len(pp.idle); n > 0 {
		p := pp.idle[n-1]
		pp.idle = pp.idle[:n-1]
		pp.mu.Unlock()
		return p, nil
	}
	pp.mu.Unlock()
	return m.newProc(ctx, 0)
}

func (pp *procPool) put(p Processor) {
	pp.mu.Lock()
	if !pp.closed && len(pp.idle) < maxIdleQueryProcs {
		pp.idle = append(pp.idle, p)
		p = nil
	}
	pp.mu.Unlock()
	if p != nil {
		closeProc(p)
	}
}

func (pp *procPool) closeAll() {
	pp.mu.Lock()
	idle := pp.idle
	pp.idle, pp.closed = nil, true
	pp.mu.Unlock()
	for _, p := range idle {
		closeProc(p)
	}
}

func closeProc(p Processor) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.Close(ctx)
}

var invocationSeq atomic.Uint64

// Invoke runs the query topology query of a deployed module with args
// and returns its result (ABI.md §15.4). timeout 0 means
// DefaultQueryTimeout; it is capped at MaxQueryTimeout, and ctx may end
// it sooner. Errors are a *QueryError, or ErrNotFound for an unknown
// module or query.
func (e *Engine) Invoke(ctx context.Context, moduleName, query string, args []abi.Value, timeout time.Duration) (abi.Value, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return abi.Nil(), err
	}
	for _, q := range m.queries {
		if q.def.Name == query {
			return m.invoke(ctx, q, args, timeout, 0)
		}
	}
	names := make([]string, len(m.queries))
	for i, q := range m.queries {
		names[i] = q.def.Name
	}
	if len(names) == 0 {
		return abi.Nil(), notFound("module %q has no query %q; it declares no queries", moduleName, query)
	}
	return abi.Nil(), notFound("module %q has no query %q; its queries: %s", moduleName, query, strings.Join(names, ", "))
}

// Queries returns the query topologies of a deployed module.
func (e *Engine) Queries(moduleName string) ([]abi.QueryDef, error) {
	m, err := e.lookup(moduleName)
	if err != nil {
		return nil, err
	}
	out := make([]abi.QueryDef, len(m.queries))
	for i, q := range m.queries {
		out[i] = *q.def
	}
	return out, nil
}

// invokeFromStage runs the INVOKE query of a stage; depth is the caller's
// nesting depth (0 for stream and microbatch stages).
func (m *module) invokeFromStage(ctx context.Context, q *abi.Query, depth int) abi.Result {
	if code, msg := m.needMinor("INVOKE"); code != 0 {
		return abi.Result{Status: int32(code), Message: msg}
	}
	if int(q.PState) >= len(m.queries) {
		return abi.Result{Status: int32(abi.EBADID), Message: fmt.Sprintf("query %d does not exist; the module has %d", q.PState, len(m.queries))}
	}
	timeout := DefaultQueryTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	v, err := m.invoke(ctx, m.queries[q.PState], q.Path.Items(), timeout, depth+1)
	if err != nil {
		var qe *QueryError
		if errors.As(err, &qe) {
			return abi.Result{Status: int32(qe.Code), Message: qe.Msg}
		}
		return abi.Result{Status: int32(abi.EFAILED), Message: err.Error()}
	}
	return abi.Result{Status: abi.ResultOK, Value: v}
}

// invocation is one run of a query topology.
type invocation struct {
	m      *module
	q      *queryInfo
	snap   *storage.Snapshot
	depth  int
	result abi.Value
}

func (m *module) invoke(ctx context.Context, q *queryInfo, args []abi.Value, timeout time.Duration, depth int) (abi.Value, error) {
	fail := func(code abi.Errno, format string, a ...any) (abi.Value, error) {
		return abi.Nil(), &QueryError{Module: m.name, Query: q.def.Name, Code: code, Msg: fmt.Sprintf(format, a...)}
	}
	if len(args) != len(q.def.Args) {
		return fail(abi.EINVAL, "query %s takes %d arguments (%s); got %d", q.def.Name, len(q.def.Args), strings.Join(q.def.Args, ", "), len(args))
	}
	if depth > maxQueryDepth {
		return fail(abi.EINVAL, "queries invoked from queries nest deeper than %d", maxQueryDepth)
	}
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	timeout = min(timeout, MaxQueryTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel) // a hard stop of the module ends it too
	defer stop()
	argsEnc, err := abi.Encode(abi.List(args...))
	if err != nil {
		return fail(abi.EINVAL, "the arguments cannot be encoded: %v", err)
	}
	snap, err := m.e.db.NewSnapshot()
	if err != nil {
		return fail(abi.EFAILED, "read the store: %v", err)
	}
	defer snap.Close()
	inv := &invocation{m: m, q: q, snap: snap, depth: depth}
	timedOut := func() (abi.Value, error) {
		if m.ctx.Err() != nil {
			return fail(abi.EFAILED, "the module stopped")
		}
		return fail(abi.ETIMEDOUT, "query %s ran past its deadline of %s", q.def.Name, timeout)
	}

	proc, err := m.qprocs.get(ctx, m)
	if err != nil {
		if ctx.Err() != nil {
			return timedOut()
		}
		return fail(abi.EFAILED, "start a processor: %v", err)
	}
	healthy := false
	defer func() {
		if healthy {
			m.qprocs.put(proc)
		} else {
			closeProc(proc)
		}
	}()

	now := m.e.cfg.Clock().UnixNano()
	origin := uint32(invocationSeq.Load() % uint64(m.tasks))
	hdr := abi.BatchHeader{Flags: abi.BatchQuery, BatchID: invocationSeq.Add(1), Topology: q.idx, TimeUnixNano: now, Seed: rand.Uint64()}
	queues := make([][]*mbItem, m.tasks)
	queues[origin] = []*mbItem{{kind: abi.ItemInvoke, stage: 0, depot: abi.NoDepot, srcPart: origin, time: now, payload: argsEnc}}
	choose := chooser(hdr.Seed, m.tasks)
	delivered := 0
	for {
		pending := false
		for p := range m.tasks {
			for len(queues[p]) > 0 {
				pending = true
				if ctx.Err() != nil {
					return timedOut()
				}
				n := min(len(queues[p]), m.e.cfg.MaxBatchItems)
				if queues[p][0].kind == abi.ItemInvoke {
					n = 1 // the INVOKE item is alone in its batch (ABI.md §15.5: it comes first)
				}
				chunk := queues[p][:n:n]
				queues[p] = queues[p][n:]
				delivered += n
				if delivered > maxQueryDeliveries {
					return fail(abi.EFAILED, "the invocation delivered more than %d items; is there a hop loop?", maxQueryDeliveries)
				}
				h := hdr
				h.Partition = p
				frame := buildMBFrame(&h, chunk)
				c := &qCall{callCore: callCore{check: abi.NewProcessCheck(uint32(len(chunk)))},
					inv: inv, frame: frame, items: chunk, outs: make(itemStates, len(chunk)), choose: choose, origin: origin}
				if err := runCall(ctx, proc, frame, c); err != nil {
					if ctx.Err() != nil {
						return timedOut()
					}
					return fail(abi.EFAILED, "stage %s on partition %d: %s", stageName(q, chunk), p, strings.TrimPrefix(err.Error(), "engine: "))
				}
				if ctx.Err() != nil {
					return timedOut() // the stages may have seen the deadline and failed
				}
				for i := range c.outs {
					out := &c.outs[i]
					if out.rejected || out.outcome != abi.OutcomeOK {
						return fail(abi.EFAILED, "stage %s on partition %d: %s", q.def.Stages[chunk[i].stage], p, detailText(out.detail))
					}
					for _, ho := range out.hops {
						first, last := ho.part, ho.part
						if ho.all {
							first, last = 0, m.tasks-1
						}
						for t := first; t <= last; t++ {
							queues[t] = append(queues[t], &mbItem{kind: abi.ItemHop, stage: ho.stage, depot: abi.NoDepot,
								srcPart: p, time: now, payload: ho.payload})
						}
					}
				}
			}
		}
		if !pending {
			break
		}
	}
	healthy = true
	return inv.result, nil
}

func stageName(q *queryInfo, chunk []*mbItem) string {
	if len(chunk) == 1 {
		return q.def.Stages[chunk[0].stage]
	}
	return "(a batch of " + fmt.Sprint(len(chunk)) + " items)"
}

// qCall is the Handler of one call of a query invocation. It only reads
// a snapshot, so it never sets callCore.internal: the frames of a failing
// query call are refused with ESTATE.
type qCall struct {
	callCore
	inv    *invocation
	frame  *abi.BatchFrame
	items  []*mbItem
	outs   itemStates
	choose func() uint32
	origin uint32
}

// Effects implements Handler.
func (c *qCall) Effects(ctx context.Context, effs []abi.Effect) []abi.Rejection {
	return c.effects(ctx, effs, c)
}

func (c *qCall) core() *callCore { return &c.callCore }

func (c *qCall) item(i uint32) *itemState { return c.outs.at(i) }

func (c *qCall) log(ctx context.Context, e *abi.Effect) {
	logEffect(ctx, c.inv.m, "query "+c.inv.q.def.Name, c.frame.Header.Partition, c.frame.Header.BatchID, e)
}

// applyItem applies an effect of a live item (see callKind).
func (c *qCall) applyItem(_ context.Context, e *abi.Effect) (abi.Errno, string) {
	inv := c.inv
	m := inv.m
	out := &c.outs[e.Item] // CallCheck checked the index
	switch e.Op {
	case abi.EffectHop:
		return out.hop(m, e, len(inv.q.def.Stages), c.origin, c.choose)
	case abi.EffectEmit:
		if e.Target != abi.EmitQueryResult {
			return abi.EINVAL, fmt.Sprintf("a query topology emits only on stream 1 (QUERY_RESULT), not %d", e.Target)
		}
		inv.result = e.Value
		return 0, ""
	case abi.EffectAggregate:
		if e.Target != abi.QueryResultTarget {
			return abi.EINVAL, "query topologies are read-only: AGGREGATE into a PState is not allowed; aggregate into the result (target 0xFFFF)"
		}
		v, err := abi.AggregateAt(inv.result, e.Key.Items(), e.Aggregator(), e.Value, int(e.N))
		if err != nil {
			return abi.EINVAL, strings.TrimPrefix(err.Error(), "abi: ")
		}
		inv.result = v
		return 0, ""
	case abi.EffectTransform, abi.EffectAppend:
		return abi.EINVAL, "query topologies are read-only: " + e.Op.String() + " is not allowed"
	}
	return abi.EINVAL, "op " + e.Op.String() + " is not allowed in squall_process"
}

// Query implements Handler: reads see the invocation's snapshot.
func (c *qCall) Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	resp := &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
	for i := range q.Queries {
		qq := &q.Queries[i]
		if qq.Op == abi.QueryInvoke {
			resp.Results[i] = c.inv.m.invokeFromStage(ctx, qq, c.inv.depth)
			continue
		}
		res, fatal := c.inv.m.selectQuery(c.inv.snap, c.frame.Header.Partition, qq)
		if fatal != nil {
			c.fail = fmt.Errorf("engine: module %q: %w", c.inv.m.name, fatal)
			return nil
		}
		resp.Results[i] = res
	}
	return resp
}
