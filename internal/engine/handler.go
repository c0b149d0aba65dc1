package engine

import (
	"context"
	"fmt"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// call is the Handler of one Process call: it applies the effects the
// processor flushes to the call's store batch (PState transforms and depot
// appends at once, so later queries see them), keeps the rest (hops, ack
// returns, outcomes) per item until the batch commits, and answers
// queries from the batch.
type call struct {
	callCore
	t     *task
	ts    *topoState
	frame *abi.BatchFrame
	items []*item
	sb    *storage.Batch

	outs    []itemOut
	appends []pendingAppend // in the order of sb.Append calls

	chooseFn func() uint32   // SHUFFLE hops and random appends
	ctx      context.Context // of the current Query call: bounds INVOKEs
}

// EffectLogger is implemented by processors that write the LOG effects
// of their calls to the operator log themselves (the wasm host does, with
// its per-call quota); the engine then ignores LOG effects.
type EffectLogger interface {
	LogsEffects() bool
}

// itemOut is what one item of the call produced.
type itemOut struct {
	itemState
	touched bool  // it wrote to the store batch
	appends []int // indexes in call.appends
	emit    abi.Value
	hasEmit bool
}

// ok reports whether the item succeeded: its effects are kept.
func (o *itemOut) ok() bool { return o.closed && !o.rejected && o.outcome == abi.OutcomeOK }

type hopOut struct {
	stage   uint16
	part    uint32
	all     bool
	payload []byte
}

type pendingAppend struct {
	depot *depotInfo
	part  uint32
	link  bool // ACK from a topology, on a depot some topology reads
}

func newCall(t *task, ts *topoState, frame *abi.BatchFrame, items []*item, sb *storage.Batch) *call {
	return &call{
		callCore: callCore{check: abi.NewProcessCheck(uint32(len(items)))},
		t:        t,
		ts:       ts,
		frame:    frame,
		items:    items,
		sb:       sb,
		outs:     make([]itemOut, len(items)),
	}
}

// Effects implements Handler.
func (c *call) Effects(ctx context.Context, effs []abi.Effect) []abi.Rejection {
	return c.effects(ctx, effs, c)
}

func (c *call) core() *callCore { return &c.callCore }

func (c *call) item(i uint32) *itemState {
	if int(i) >= len(c.outs) {
		return nil
	}
	return &c.outs[i].itemState
}

// applyItem applies an effect of a live item (see callKind).
func (c *call) applyItem(ctx context.Context, e *abi.Effect) (abi.Errno, string) {
	out := &c.outs[e.Item] // CallCheck checked the index
	m := c.t.m
	switch e.Op {
	case abi.EffectTransform, abi.EffectAggregate:
		out.touched = true
		var code abi.Errno
		var msg string
		var fatal error
		if e.Op == abi.EffectTransform {
			code, msg, fatal = m.applyTransform(c.sb, c.t.p, int(c.ts.info.idx), e)
		} else {
			code, msg, fatal = m.applyAggregate(c.sb, c.t.p, int(c.ts.info.idx), e)
		}
		if fatal != nil {
			c.failWith(fmt.Errorf("engine: module %q partition %d: %w", m.name, c.t.p, fatal), true)
		}
		return code, msg

	case abi.EffectAppend:
		d, part, key, enc, code, msg := m.appendTarget(e, c.t.p, c.choose)
		if code != 0 {
			return code, msg
		}
		out.touched = true
		if err := c.sb.Append(d.d, part, storage.Record{Key: key, Value: enc}); err != nil {
			return c.storeErr(err)
		}
		out.appends = append(out.appends, len(c.appends))
		c.appends = append(c.appends, pendingAppend{depot: d, part: part, link: e.AckLevel() == abi.AckAck && d.readers > 0})
		return 0, ""

	case abi.EffectHop:
		return out.hop(m, e, len(c.ts.info.def.Stages), c.items[e.Item].root.origin, c.choose)

	case abi.EffectEmit:
		if e.Target != abi.EmitAckReturn {
			if e.Target == abi.EmitQueryResult && m.minor >= 1 {
				return abi.EINVAL, "EMIT on QUERY_RESULT is allowed only in a query topology"
			}
			return abi.EBADID, fmt.Sprintf("emit stream %d does not exist here; stream topologies have 0 (ACK_RETURN)", e.Target)
		}
		out.emit, out.hasEmit = e.Value, true
		return 0, ""
	}
	return abi.EINVAL, "op " + e.Op.String() + " is not allowed in squall_process"
}

// choose picks a partition for SHUFFLE hops and random appends,
// deterministically from the batch seed, so that a retried batch chooses
// the same.
func (c *call) choose() uint32 {
	if c.chooseFn == nil {
		c.chooseFn = chooser(c.frame.Header.Seed, c.t.m.tasks)
	}
	return c.chooseFn()
}

// storeErr maps an error of a store call to a rejection, or fails the call
// when the store itself failed.
func (c *call) storeErr(err error) (abi.Errno, string) {
	code, msg, fatal := rejectStore(err)
	if fatal != nil {
		c.failWith(fmt.Errorf("engine: module %q partition %d: %w", c.t.m.name, c.t.p, fatal), true)
	}
	return code, msg
}

func (c *call) log(ctx context.Context, e *abi.Effect) {
	logEffect(ctx, c.t.m, c.ts.info.def.Name, c.t.p, c.frame.Header.BatchID, e)
}

// Query implements Handler. It returns nil when the store failed: the
// call fails.
func (c *call) Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	if c.fail != nil && c.internal {
		return nil
	}
	resp := &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
	c.ctx = ctx
	for i := range q.Queries {
		resp.Results[i] = c.query(&q.Queries[i])
	}
	if c.fail != nil && c.internal {
		return nil
	}
	return resp
}

func (c *call) query(q *abi.Query) abi.Result {
	if c.fail != nil {
		return abi.Result{Status: int32(abi.EINTERNAL), Message: c.fail.Error()}
	}
	if q.Op == abi.QueryInvoke {
		return c.t.m.invokeFromStage(c.ctx, q, 0)
	}
	r, fatal := c.t.m.selectQuery(c.sb, c.t.p, q)
	if fatal != nil {
		c.failWith(fmt.Errorf("engine: module %q partition %d: %w", c.t.m.name, c.t.p, fatal), true)
	}
	return r
}
