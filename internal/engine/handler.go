package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage"
)

// call is the Handler of one Process call: it applies the effects the
// processor flushes to the call's store batch (PState transforms and depot
// appends at once, so later queries see them), keeps the rest (hops, ack
// returns, outcomes) per item until the batch commits, and answers
// queries from the batch.
type call struct {
	t     *task
	ts    *topoState
	frame *abi.BatchFrame
	items []*item
	sb    *storage.Batch
	check *abi.CallCheck

	outs    []itemOut
	appends []pendingAppend // in the order of sb.Append calls

	// fail makes the call fail whatever Process returns: a protocol
	// violation or, when internal is set, a store failure.
	fail     error
	internal bool
	errEff   *abi.ErrorDetail // an ERROR effect
	choices  uint64           // SHUFFLE hops and random appends so far
	logs     bool             // write LOG effects (the processor does not)
}

// EffectLogger is implemented by processors that write the LOG effects
// of their calls to the operator log themselves (the wasm host does, with
// its per-call quota); the engine then ignores LOG effects.
type EffectLogger interface {
	LogsEffects() bool
}

// itemOut is what one item of the call produced.
type itemOut struct {
	outcome  abi.Outcome
	closed   bool // its OUTCOME arrived
	rejected bool // the host rejected one of its effects: it is poisoned
	detail   abi.ErrorDetail
	touched  bool // it wrote to the store batch
	hops     []hopOut
	appends  []int // indexes in call.appends
	emit     abi.Value
	hasEmit  bool
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
		t:     t,
		ts:    ts,
		frame: frame,
		items: items,
		sb:    sb,
		check: abi.NewProcessCheck(uint32(len(items))),
		outs:  make([]itemOut, len(items)),
	}
}

// end returns why the call failed, given what Process returned.
func (c *call) end(procErr error) error {
	switch {
	case procErr != nil:
		return procErr
	case c.fail != nil:
		return c.fail
	case c.errEff != nil:
		return &CallError{Detail: *c.errEff}
	}
	if err := c.check.End(abi.StatusOK); err != nil {
		return &CallError{Protocol: true, Detail: abi.ErrorDetail{Kind: "protocol", Message: err.Error()}}
	}
	return nil
}

func (c *call) failWith(err error, internal bool) {
	if c.fail == nil {
		c.fail, c.internal = err, internal
	}
}

// Effects implements Handler.
func (c *call) Effects(ctx context.Context, effs []abi.Effect) []abi.Rejection {
	if c.fail == nil {
		if err := c.check.Frame(&abi.EffectsFrame{Effects: effs}); err != nil {
			c.failWith(&CallError{Protocol: true, Detail: abi.ErrorDetail{Kind: "protocol", Message: err.Error()}}, false)
		}
	}
	if c.fail != nil {
		// The call fails: refuse the whole frame.
		rej := make([]abi.Rejection, 0, len(effs))
		code := abi.ESTATE
		if c.internal {
			code = abi.EINTERNAL
		}
		for i := range effs {
			if it := effs[i].Item; it != abi.NoItem {
				rej = append(rej, abi.Rejection{Effect: i, Item: it, Code: code, Message: c.fail.Error()})
			}
		}
		return rej
	}
	var rej []abi.Rejection
	for i := range effs {
		e := &effs[i]
		code, msg := c.apply(ctx, e)
		if code == 0 {
			continue
		}
		rej = append(rej, abi.Rejection{Effect: i, Item: e.Item, Code: code, Message: msg})
		if e.Item != abi.NoItem && int(e.Item) < len(c.outs) {
			out := &c.outs[e.Item]
			if !out.rejected {
				out.rejected = true
				out.detail = abi.ErrorDetail{Kind: code.String(), Message: e.Op.String() + ": " + msg}
			}
		}
	}
	return rej
}

// apply applies one effect; a non-zero errno rejects it.
func (c *call) apply(ctx context.Context, e *abi.Effect) (abi.Errno, string) {
	switch e.Op {
	case abi.EffectLog:
		if c.logs {
			c.log(ctx, e)
		}
		return 0, ""
	case abi.EffectError:
		if c.errEff == nil {
			d := e.Detail
			c.errEff = &d
		}
		return 0, ""
	}
	out := &c.outs[e.Item] // CallCheck checked the index
	if e.Op == abi.EffectOutcome {
		out.closed = true
		out.outcome = e.Outcome()
		if !out.rejected {
			out.detail = e.Detail
		}
		return 0, ""
	}
	if out.rejected {
		return 0, "" // later effects of a poisoned item are ignored
	}
	m := c.t.m
	switch e.Op {
	case abi.EffectTransform:
		if int(e.Target) >= len(m.pstates) {
			return abi.EBADID, fmt.Sprintf("PState %d does not exist; the module has %d", e.Target, len(m.pstates))
		}
		pi := m.pstates[e.Target]
		path, err := abi.ParsePath(e.Value)
		if err != nil {
			return abi.EPATH, err.Error()
		}
		if code, msg := m.pstatePartitionCheck(pi, path, c.t.p); code != 0 {
			return code, msg
		}
		out.touched = true
		if _, err := c.sb.Transform(pi.ps, c.t.p, path); err != nil {
			return c.storeErr(err)
		}
		return 0, ""

	case abi.EffectAppend:
		if int(e.Target) >= len(m.depots) {
			return abi.EBADID, fmt.Sprintf("depot %d does not exist; the module has %d", e.Target, len(m.depots))
		}
		d := m.depots[e.Target]
		enc, err := abi.Encode(e.Value)
		if err != nil {
			return abi.EINVAL, "the record cannot be encoded: " + err.Error()
		}
		part := c.t.p
		var key []byte
		if !e.Local() {
			switch d.def.Partitioner.Kind {
			case abi.DepotDisallow:
				return abi.EINVAL, fmt.Sprintf("depot %q is declared disallow: append to it with LOCAL", d.def.Name)
			case abi.DepotRandom:
				part = c.choose()
			default:
				var msg string
				if part, key, msg = m.hashRoute(d, e.Value, enc); msg != "" {
					return abi.EPATH, msg
				}
			}
		}
		out.touched = true
		if err := c.sb.Append(d.d, part, storage.Record{Key: key, Value: enc}); err != nil {
			return c.storeErr(err)
		}
		out.appends = append(out.appends, len(c.appends))
		c.appends = append(c.appends, pendingAppend{depot: d, part: part, link: e.AckLevel() == abi.AckAck && d.readers > 0})
		return 0, ""

	case abi.EffectHop:
		stages := c.ts.info.def.Stages
		if int(e.Target) >= len(stages) {
			return abi.EBADID, fmt.Sprintf("stage %d does not exist; topology %q has %d", e.Target, c.ts.info.def.Name, len(stages))
		}
		h := hopOut{stage: e.Target}
		switch e.Partitioner() {
		case abi.PartitionHash:
			kb, err := abi.Encode(e.Key)
			if err != nil {
				return abi.EINVAL, "the hop key cannot be encoded: " + err.Error()
			}
			h.part = abi.KeyPartition(kb, m.tasks)
		case abi.PartitionAll:
			h.all = true
		case abi.PartitionGlobal:
			h.part = 0
		case abi.PartitionOrigin:
			h.part = c.items[e.Item].root.origin
		case abi.PartitionShuffle:
			h.part = c.choose()
		case abi.PartitionDirect:
			if e.Partition >= m.tasks {
				return abi.EWRONGPART, fmt.Sprintf("partition %d does not exist; the module has %d", e.Partition, m.tasks)
			}
			h.part = e.Partition
		}
		enc, err := abi.Encode(e.Value)
		if err != nil {
			return abi.EINVAL, "the hop payload cannot be encoded: " + err.Error()
		}
		h.payload = enc
		out.hops = append(out.hops, h)
		return 0, ""

	case abi.EffectEmit:
		if e.Target != abi.EmitAckReturn {
			return abi.EBADID, fmt.Sprintf("emit stream %d does not exist; ABI 1.0 has 0 (ACK_RETURN)", e.Target)
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
	c.choices++
	x := c.frame.Header.Seed + c.choices*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return uint32(x % uint64(c.t.m.tasks))
}

// storeErr maps an error of a store call to a rejection, or fails the call
// when the store itself failed.
func (c *call) storeErr(err error) (abi.Errno, string) {
	msg := strings.TrimPrefix(err.Error(), "storage: ")
	var se *storage.SchemaError
	var pe *storage.PathError
	var re *storage.RecordError
	switch {
	case errors.As(err, &se):
		return abi.ESCHEMA, msg
	case errors.Is(err, storage.ErrTooLarge):
		return abi.ETOOBIG, msg
	case errors.As(err, &pe):
		return abi.EPATH, msg
	case errors.As(err, &re):
		return abi.EINVAL, msg
	}
	c.failWith(fmt.Errorf("engine: module %q partition %d: %w", c.t.m.name, c.t.p, err), true)
	return abi.EINTERNAL, msg
}

func (c *call) log(ctx context.Context, e *abi.Effect) {
	var lvl slog.Level
	switch e.LogLevel() {
	case abi.LogDebug:
		lvl = slog.LevelDebug
	case abi.LogInfo:
		lvl = slog.LevelInfo
	case abi.LogWarn:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelError
	}
	text := e.Text
	if len(text) > 8<<10 {
		text = text[:8<<10] + "… (truncated)"
	}
	attrs := []any{"module", c.t.m.name, "topology", c.ts.info.def.Name, "partition", c.t.p, "batch", c.frame.Header.BatchID}
	if e.Item != abi.NoItem {
		attrs = append(attrs, "item", e.Item)
	}
	c.t.e.log.Log(ctx, lvl, text, attrs...)
}

// Query implements Handler. It returns nil when the store failed: the
// call fails.
func (c *call) Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	if c.fail != nil && c.internal {
		return nil
	}
	resp := &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
	for i := range q.Queries {
		resp.Results[i] = c.query(&q.Queries[i])
	}
	if c.fail != nil && c.internal {
		return nil
	}
	return resp
}

func (c *call) query(q *abi.Query) abi.Result {
	fail := func(code abi.Errno, msg string) abi.Result { return abi.Result{Status: int32(code), Message: msg} }
	if c.fail != nil {
		return fail(abi.EINTERNAL, c.fail.Error())
	}
	m := c.t.m
	if int(q.PState) >= len(m.pstates) {
		return fail(abi.EBADID, fmt.Sprintf("PState %d does not exist; the module has %d", q.PState, len(m.pstates)))
	}
	pi := m.pstates[q.PState]
	path, err := abi.ParsePath(q.Path)
	if err != nil {
		return fail(abi.EPATH, err.Error())
	}
	if code, msg := m.pstatePartitionCheck(pi, path, c.t.p); code != 0 {
		return fail(code, msg)
	}
	vs, err := c.sb.Select(pi.ps, c.t.p, path)
	if err != nil {
		var pe *storage.PathError
		if errors.As(err, &pe) {
			return fail(abi.EPATH, strings.TrimPrefix(err.Error(), "storage: "))
		}
		c.failWith(fmt.Errorf("engine: module %q partition %d: %w", m.name, c.t.p, err), true)
		return fail(abi.EINTERNAL, err.Error()) // Query returns nil after all
	}
	switch q.Op {
	case abi.QuerySelectOne:
		switch len(vs) {
		case 0:
			return abi.Result{Status: abi.ResultNotFound}
		case 1:
			return abi.Result{Status: abi.ResultOK, Value: vs[0]}
		}
		return fail(abi.EMULTI, fmt.Sprintf("the path navigated to %d values; SELECT_ONE needs one", len(vs)))
	default:
		return abi.Result{Status: abi.ResultOK, Value: abi.List(vs...)}
	}
}
