package squalltest

import (
	"errors"
	"fmt"
	"math/rand/v2"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// The fake host's side of a call: what flush, query and take do
// (ABI.md §7), applied to the harness's in-memory state.

// call is the state of one export call.
type call struct {
	init      bool
	inv       *invocation // the query invocation of a QUERY batch (ABI 1.1)
	define    []byte      // the DEFINE of an init call
	topology  int
	partition int
	items     []*pending
	state     []itemState
	check     callCheck
	violation error
	errDetail *detail
	parked    []byte
	rnd       *rand.Rand // random appends and shuffle hops, from the batch seed
	undo      []func()   // undoes the call's transforms, in order
}

// itemState is what one item of a batch did.
type itemState struct {
	started  bool
	undoMark int
	outcome  uint8
	closed   bool
	detail   detail
	rejected *detail // the host's verdict: poison
	appends  []stagedAppend
	hops     []stagedHop
	emits    []squall.Value
}

type stagedAppend struct {
	depot, partition int
	ack              int
	record           squall.Value
}

type stagedHop struct {
	stage      uint16
	partitions []int
	payload    squall.Value
}

// undoItem undoes the transforms of an item and drops its effects.
func (c *call) undoItem(st *itemState) {
	for i := len(c.undo) - 1; i >= st.undoMark; i-- {
		c.undo[i]()
	}
	c.undo = c.undo[:st.undoMark]
	st.appends, st.hops, st.emits = nil, nil, nil
}

func (c *call) undoAll() {
	for i := len(c.undo) - 1; i >= 0; i-- {
		c.undo[i]()
	}
	c.undo = nil
}

// fakeHost implements rt.Host for a harness.
type fakeHost struct{ h *Harness }

func hostOf(h *Harness) fakeHost { return fakeHost{h} }

func (f fakeHost) Flush(frame []byte) int32 {
	c := f.h.call
	if c == nil {
		return wire.ESTATE
	}
	c.parked = nil
	es, err := decodeEffects(frame, true)
	if err != nil {
		c.violation = err
		var fe *wire.FrameError
		if errors.As(err, &fe) {
			return fe.Errno()
		}
		return wire.EINVAL
	}
	if err := c.check.frame(es); err != nil {
		c.violation = err
		return wire.ESTATE
	}
	var rejs []rejection
	for i := range es {
		if r := f.h.apply(c, i, &es[i]); r != nil {
			rejs = append(rejs, *r)
		}
	}
	if len(rejs) == 0 {
		return 0
	}
	c.parked, _ = squall.Encode(rejectionsValue(rejs))
	return int32(len(rejs))
}

func (f fakeHost) Query(req, out []byte) int32 {
	c := f.h.call
	if c == nil {
		return wire.ESTATE
	}
	c.parked = nil
	if c.init {
		c.violation = errors.New("query during squall_init; queries are allowed only in squall_process")
		return wire.ESTATE
	}
	qs, err := decodeQuery(req, true)
	if err != nil {
		c.violation = err
		var fe *wire.FrameError
		if errors.As(err, &fe) {
			return fe.Errno()
		}
		return wire.EINVAL
	}
	rs := make([]result, len(qs))
	for i, q := range qs {
		rs[i] = f.h.runQuery(c, q)
	}
	resp, err := appendResponse(nil, rs)
	if err != nil {
		c.violation = err
		return wire.EINTERNAL
	}
	if len(resp) <= len(out) {
		copy(out, resp)
	} else {
		c.parked = resp
	}
	return int32(len(resp))
}

func (f fakeHost) Take(out []byte) int32 {
	c := f.h.call
	if c == nil {
		return wire.ESTATE
	}
	if c.parked == nil {
		return wire.ENOENT
	}
	n := len(c.parked)
	if n <= len(out) {
		copy(out, c.parked)
		c.parked = nil
	}
	return int32(n)
}

var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

// apply applies one effect of a flushed frame; it returns a rejection when
// the effect does not fit the module or the data.
func (h *Harness) apply(c *call, index int, e *effect) *rejection {
	switch e.op {
	case wire.OpDefine:
		c.define = append([]byte(nil), e.raw...)
		return nil
	case wire.OpError:
		if c.errDetail == nil {
			d := e.detail
			c.errDetail = &d
		}
		return nil
	case wire.OpLog:
		l := Log{Level: levelNames[e.flags], Text: e.text}
		if !c.init {
			t := c.topo(h)
			l.Topology, l.Partition = t.name, c.partition
			if e.item != wire.NoItem {
				l.Stage = t.stages[c.items[e.item].stage]
			}
		}
		h.logs = append(h.logs, l)
		if !h.opts.quiet && h.t != nil {
			where := "init"
			if !c.init {
				where = fmt.Sprintf("%s/%d", l.Topology, l.Partition)
				if l.Stage != "" {
					where += " " + l.Stage
				}
			}
			h.t.Logf("squall %s %s: %s", l.Level, where, l.Text)
		}
		return nil
	}
	st := &c.state[e.item]
	if !st.started {
		st.started, st.undoMark = true, len(c.undo)
	}
	if st.rejected != nil {
		return nil // the host ignores the effects of a rejected item
	}
	reject := func(code int32, msg string) *rejection {
		st.rejected = &detail{Kind: "rejected", Message: wire.ErrnoName(code) + ": " + msg}
		c.undoItem(st)
		return &rejection{effect: index, item: e.item, code: code, message: msg}
	}
	if c.inv != nil && (e.op == wire.OpAppend || e.op == wire.OpTransform) {
		return reject(wire.EINVAL, "query topologies are read-only: "+wire.OpNames[e.op]+" is not allowed")
	}
	switch e.op {
	case wire.OpAggregate:
		if code, msg := h.aggregate(c, e); code != 0 {
			return reject(code, msg)
		}
	case wire.OpAppend:
		if int(e.target) >= len(h.def.depots) {
			return reject(wire.EBADID, fmt.Sprintf("no depot %d; the module has %d", e.target, len(h.def.depots)))
		}
		d := h.def.depots[e.target]
		if d.kind == "tick" {
			return reject(wire.EINVAL, fmt.Sprintf("depot %q is a tick depot: only the host appends to it", d.name))
		}
		local := e.flags&wire.AppendLocal != 0
		if d.kind == "disallow" && !local {
			return reject(wire.EINVAL, fmt.Sprintf("depot %q is Disallow: topologies append to it only with Local", d.name))
		}
		p := c.partition
		if !local {
			p = h.route(d, e.value, c.rnd)
		}
		st.appends = append(st.appends, stagedAppend{depot: int(e.target), partition: p, ack: int(e.flags & wire.AckMask), record: e.value})
	case wire.OpHop:
		t := c.topo(h)
		if int(e.target) >= len(t.stages) {
			return reject(wire.EBADID, fmt.Sprintf("topology %q has no stage %d", t.name, e.target))
		}
		hop := stagedHop{stage: e.target, payload: e.value}
		switch e.flags {
		case wire.HopHash:
			p, _ := KeyPartition(e.key, int(h.tasks))
			hop.partitions = []int{p}
		case wire.HopAll:
			for p := range int(h.tasks) {
				hop.partitions = append(hop.partitions, p)
			}
		case wire.HopGlobal:
			hop.partitions = []int{0}
		case wire.HopOrigin:
			hop.partitions = []int{c.items[e.item].origin}
		case wire.HopShuffle:
			hop.partitions = []int{c.rnd.IntN(int(h.tasks))}
		case wire.HopDirect:
			if e.partition >= h.tasks {
				return reject(wire.EWRONGPART, fmt.Sprintf("partition %d does not exist; the module has %d", e.partition, h.tasks))
			}
			hop.partitions = []int{int(e.partition)}
		}
		st.hops = append(st.hops, hop)
	case wire.OpTransform:
		if int(e.target) >= len(h.def.pstates) {
			return reject(wire.EBADID, fmt.Sprintf("no PState %d; the module has %d", e.target, len(h.def.pstates)))
		}
		if code, msg := h.ownerCheck(c, int(e.target)); code != 0 {
			return reject(code, msg)
		}
		code, msg := h.transform(c, int(e.target), e.value)
		if code != 0 {
			return reject(code, msg)
		}
	case wire.OpEmit:
		switch {
		case e.target == wire.EmitQueryResult && c.inv != nil:
			c.inv.result = e.value
			return nil
		case e.target == wire.EmitQueryResult:
			return reject(wire.EINVAL, "EMIT on QUERY_RESULT is allowed only in a query topology")
		case e.target != wire.EmitAckReturn || c.inv != nil:
			return reject(wire.EBADID, fmt.Sprintf("no emit stream %d here", e.target))
		}
		st.emits = append(st.emits, e.value)
	case wire.OpOutcome:
		st.closed, st.outcome, st.detail = true, e.flags, e.detail
		if e.flags != wire.OutcomeOK {
			c.undoItem(st)
		}
	}
	return nil
}

// partitionCheck reports a path that reaches outside the call's
// partition: a global PState off partition 0, or a first key owned by
// another partition.
func (h *Harness) partitionCheck(c *call, pi int, steps []step) (int32, string) {
	ps := h.def.pstates[pi]
	if ps.global {
		if c.partition != 0 {
			return wire.EWRONGPART, fmt.Sprintf("PState %q is global: it lives on partition 0, not %d; hop there first (HopGlobal)", ps.name, c.partition)
		}
		return 0, ""
	}
	if k, ok := firstKey(steps); ok && ps.schema.t() == "map" {
		if p, _ := KeyPartition(k, int(h.tasks)); p != c.partition {
			return wire.EWRONGPART, fmt.Sprintf("key %s belongs to partition %d, not %d; hop there first", shortValue(k), p, c.partition)
		}
	}
	return 0, ""
}

// transform applies a TRANSFORM to the call's partition; it returns an
// errno and message when the host would reject it.
func (h *Harness) transform(c *call, pi int, path squall.Value) (int32, string) {
	ps := h.def.pstates[pi]
	steps, text, err := pathSteps(path, squall.TransformMode)
	if err != nil {
		return wire.EPATH, fmt.Sprintf("PState %q: %v", ps.name, hostPathError(err, text))
	}
	if code, msg := h.partitionCheck(c, pi, steps); code != 0 {
		return code, msg
	}
	undo, err := h.pstates[pi][c.partition].transform(steps, text)
	if err != nil {
		var pe *pathError
		if errors.As(err, &pe) && pe.schema {
			return wire.ESCHEMA, fmt.Sprintf("PState %q: %v", ps.name, err)
		}
		return wire.EPATH, fmt.Sprintf("PState %q: %v", ps.name, err)
	}
	c.undo = append(c.undo, undo)
	return 0, ""
}

// runQuery answers one query on the call's partition.
func (h *Harness) runQuery(c *call, q query) result {
	if q.op == wire.QueryInvoke {
		return h.invokeFromStage(c, q)
	}
	if int(q.pstate) >= len(h.def.pstates) {
		return result{status: wire.EBADID, message: fmt.Sprintf("no PState %d; the module has %d", q.pstate, len(h.def.pstates))}
	}
	ps := h.def.pstates[q.pstate]
	steps, text, err := pathSteps(q.path, squall.SelectMode)
	if err != nil {
		return result{status: wire.EPATH, message: fmt.Sprintf("PState %q: %v", ps.name, hostPathError(err, text))}
	}
	if code, msg := h.partitionCheck(c, int(q.pstate), steps); code != 0 {
		return result{status: code, message: msg}
	}
	vs, err := h.pstates[q.pstate][c.partition].sel(steps, text)
	if err != nil {
		return result{status: wire.EPATH, message: fmt.Sprintf("PState %q: %v", ps.name, err)}
	}
	if q.op == wire.QuerySelect {
		return result{status: wire.ResultOK, value: squall.List(vs...)}
	}
	switch len(vs) {
	case 0:
		return result{status: wire.ResultNotFound}
	case 1:
		return result{status: wire.ResultOK, value: vs[0]}
	}
	return result{status: wire.EMULTI, message: fmt.Sprintf("SELECT_ONE navigated to %d values", len(vs))}
}
