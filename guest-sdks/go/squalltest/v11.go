package squalltest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/rt"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// ABI 1.1 in the harness: microbatch topologies (all or nothing, in
// memory; the durable commit and its crash safety are the host's and are
// tested there), aggregation, query topologies, tick depots and PState
// owners.

// topo returns the definition of the call's topology or query.
func (c *call) topo(h *Harness) topoDef {
	if c.inv != nil {
		return h.def.queries[c.topology]
	}
	return h.def.topos[c.topology]
}

// invocation is a query being run.
type invocation struct {
	result squall.Value
	depth  int
}

// ownerCheck applies the PState ownership rule of ABI.md §15.2.
func (h *Harness) ownerCheck(c *call, pi int) (int32, string) {
	ps := h.def.pstates[pi]
	t := c.topo(h)
	switch {
	case ps.owner != "" && ps.owner != t.name:
		return wire.EINVAL, fmt.Sprintf("PState %q is owned by topology %q; topology %q may read it but not write it", ps.name, ps.owner, t.name)
	case ps.owner == "" && t.kind == "microbatch":
		return wire.EINVAL, fmt.Sprintf("microbatch topology %q may write only the PStates it owns, and PState %q has no owner; declare it with Topology.PState", t.name, ps.name)
	}
	return 0, ""
}

// aggregate applies an AGGREGATE effect: into the query result, or read,
// combine and set in a PState.
func (h *Harness) aggregate(c *call, e *effect) (int32, string) {
	keys := e.key.Items()
	if e.target == wire.QueryResultTarget {
		if c.inv == nil {
			return wire.EBADID, "AGGREGATE into the query result (target 0xFFFF) is allowed only in a query topology"
		}
		v, err := aggregateAt(c.inv.result, keys, e.flags, e.value, e.n)
		if err != nil {
			return wire.EINVAL, err.Error()
		}
		c.inv.result = v
		return 0, ""
	}
	if c.inv != nil {
		return wire.EINVAL, "query topologies are read-only: AGGREGATE into a PState is not allowed; aggregate into the result"
	}
	pi := int(e.target)
	if pi >= len(h.def.pstates) {
		return wire.EBADID, fmt.Sprintf("no PState %d; the module has %d", e.target, len(h.def.pstates))
	}
	if code, msg := h.ownerCheck(c, pi); code != 0 {
		return code, msg
	}
	ps := h.def.pstates[pi]
	if len(keys) == 0 && ps.schema.t() == "map" {
		return wire.EPATH, fmt.Sprintf("PState %q is a map: the key path of an AGGREGATE starts with its top-level key", ps.name)
	}
	path := squall.P()
	for _, k := range keys {
		path = path.Key(k)
	}
	pv, err := path.Value()
	if err != nil {
		return wire.EPATH, err.Error()
	}
	steps, text, err := pathSteps(pv, squall.SelectMode)
	if err != nil {
		return wire.EPATH, err.Error()
	}
	if code, msg := h.partitionCheck(c, pi, steps); code != 0 {
		return code, msg
	}
	vs, err := h.pstates[pi][c.partition].sel(steps, text)
	if err != nil && (e.flags == wire.AggList || e.flags == wire.AggSet || e.flags == wire.AggMap) {
		// A subindexed collection is not read whole: the host appends to
		// it (or sets the key) in place, and so does the harness.
		in := path.Append(e.value)
		if e.flags == wire.AggMap {
			if e.value.Kind() != squall.KindList || e.value.Len() != 2 {
				return wire.EINVAL, "MAP: the value must be a [key, value] pair"
			}
			in = path.Key(e.value.Index(0)).Set(e.value.Index(1))
		}
		xv, verr := in.Value()
		if verr != nil {
			return wire.EINVAL, verr.Error()
		}
		return h.transform(c, pi, xv)
	}
	if err != nil {
		return wire.EPATH, fmt.Sprintf("PState %q: %v", ps.name, err)
	}
	cur := squall.Nil()
	if len(vs) == 1 {
		cur = vs[0]
	}
	nv, err := aggregate(e.flags, cur, e.value, e.n)
	if err != nil {
		return wire.EINVAL, err.Error()
	}
	xv, err := path.Set(nv).Value()
	if err != nil {
		return wire.EINVAL, err.Error()
	}
	return h.transform(c, pi, xv)
}

// aggregateAt combines v into acc at the key path keys (ABI.md §15.3).
func aggregateAt(acc squall.Value, keys []squall.Value, agg uint8, v squall.Value, n int64) (squall.Value, error) {
	if len(keys) == 0 {
		return aggregate(agg, acc, v, n)
	}
	var child squall.Value
	switch acc.Kind() {
	case squall.KindNil:
	case squall.KindMap:
		child, _ = acc.Get(keys[0])
	default:
		return squall.Nil(), fmt.Errorf("%s: the key path navigates into %s %s; only maps have keys", wire.AggNames[agg], acc.Kind(), acc)
	}
	nv, err := aggregateAt(child, keys[1:], agg, v, n)
	if err != nil {
		return squall.Nil(), err
	}
	return squall.Map(append(slices.Clone(acc.Entries()), squall.MapEntry{Key: keys[0], Val: nv})...), nil
}

// aggregate combines v into cur with an aggregator, as abi.Aggregate.
func aggregate(agg uint8, cur, v squall.Value, n int64) (squall.Value, error) {
	name := "aggregator(" + fmt.Sprint(agg) + ")"
	if agg >= wire.AggCount && agg <= wire.AggTopN {
		name = wire.AggNames[agg]
	}
	fail := func(format string, args ...any) (squall.Value, error) {
		return squall.Nil(), errors.New(name + ": " + fmt.Sprintf(format, args...))
	}
	switch agg {
	case wire.AggCount, wire.AggSum:
		if agg == wire.AggCount {
			if !v.IsNil() {
				return fail("the value must be nil, not %s", v.Kind())
			}
			v = squall.Int(1)
		}
		if cur.IsNil() {
			cur = squall.Int(0)
		}
		ci, cInt := cur.AsInt()
		vi, vInt := v.AsInt()
		if cInt && vInt {
			s := ci + vi
			if (vi > 0 && s < ci) || (vi < 0 && s > ci) {
				return fail("the sum %d + %d overflows int64", ci, vi)
			}
			return squall.Int(s), nil
		}
		cf, ok1 := number(cur)
		vf, ok2 := number(v)
		if !ok1 || !ok2 {
			return fail("needs numbers, not %s and %s", cur.Kind(), v.Kind())
		}
		return squall.Float(cf + vf), nil
	case wire.AggMin, wire.AggMax:
		if cur.IsNil() {
			return v, nil
		}
		c := squall.Compare(v, cur)
		if agg == wire.AggMin && c < 0 || agg == wire.AggMax && c > 0 {
			return v, nil
		}
		return cur, nil
	case wire.AggSet:
		switch cur.Kind() {
		case squall.KindNil:
			return squall.Set(v), nil
		case squall.KindSet:
			return squall.Set(append(slices.Clone(cur.Items()), v)...), nil
		}
		return fail("the current value is %s, not a set", cur.Kind())
	case wire.AggList:
		switch cur.Kind() {
		case squall.KindNil:
			return squall.List(v), nil
		case squall.KindList:
			return squall.List(append(slices.Clone(cur.Items()), v)...), nil
		}
		return fail("the current value is %s, not a list", cur.Kind())
	case wire.AggMap:
		if v.Kind() != squall.KindList || v.Len() != 2 {
			return fail("the value must be a [key, value] pair")
		}
		switch cur.Kind() {
		case squall.KindNil, squall.KindMap:
			return squall.Map(append(slices.Clone(cur.Entries()), squall.MapEntry{Key: v.Index(0), Val: v.Index(1)})...), nil
		}
		return fail("the current value is %s, not a map", cur.Kind())
	case wire.AggTopN:
		if v.Kind() != squall.KindList || v.Len() != 2 || n < 1 || n > 10000 {
			return fail("the value must be a [score, id] pair and n from 1 to 10000")
		}
		var pairs []squall.Value
		switch cur.Kind() {
		case squall.KindNil:
		case squall.KindList:
			pairs = slices.Clone(cur.Items())
		default:
			return fail("the current value is %s, not a list of [score, id] pairs", cur.Kind())
		}
		found := false
		for i, p := range pairs {
			if squall.Equal(p.Index(1), v.Index(1)) {
				found = true
				if squall.Compare(v.Index(0), p.Index(0)) > 0 {
					pairs[i] = v
				}
			}
		}
		if !found {
			pairs = append(pairs, v)
		}
		slices.SortStableFunc(pairs, func(a, b squall.Value) int {
			if c := squall.Compare(b.Index(0), a.Index(0)); c != 0 {
				return c
			}
			return squall.Compare(a.Index(1), b.Index(1))
		})
		return squall.List(pairs[:min(len(pairs), int(n))]...), nil
	}
	return fail("unknown aggregator")
}

func number(v squall.Value) (float64, bool) {
	if i, ok := v.AsInt(); ok {
		return float64(i), true
	}
	return v.AsFloat()
}

// Tick appends a tick record (the time in Unix milliseconds) to partition
// 0 of a tick depot, as the host does every period, and runs the
// topologies (unless the harness is [Manual]).
func (h *Harness) Tick(depot string, unixMillis int64) {
	if h.t != nil {
		h.t.Helper()
	}
	di := h.def.depotIndex(depot)
	if di < 0 || h.def.depots[di].kind != "tick" {
		h.fatalf("Tick: %q is not a tick depot of the module", depot)
	}
	h.appendRecord(di, 0, squall.Int(unixMillis), &root{ackReturns: map[string]squall.Value{}})
	if !h.opts.manual {
		h.Run()
	}
}

// InvokeError is a query invocation that failed: Code is EINVAL (wrong
// arguments) or EFAILED (a stage failed).
type InvokeError struct {
	Query string
	Code  squall.Errno
	Msg   string
}

func (e *InvokeError) Error() string { return "squalltest: query " + e.Query + ": " + e.Msg }

// Invoke runs a query topology with args, as QueryService.Invoke does:
// its entry stage on partition 0 with the argument list, then its hops,
// until none is left; it returns the query's result.
func (h *Harness) Invoke(query string, args ...any) (squall.Value, error) {
	if h.t != nil {
		h.t.Helper()
	}
	qi := -1
	names := make([]string, len(h.def.queries))
	for i, q := range h.def.queries {
		names[i] = q.name
		if q.name == query {
			qi = i
		}
	}
	if qi < 0 {
		h.fatalf("Invoke: no query %q; the module declares %s", query, quoted(names))
	}
	av := make([]squall.Value, len(args))
	for i, a := range args {
		v, err := squall.ValueOf(a)
		if err != nil {
			h.fatalf("Invoke %s: argument %d: %v", query, i, err)
		}
		av[i] = v
	}
	return h.invoke(qi, av, 0)
}

func (h *Harness) invoke(qi int, args []squall.Value, depth int) (squall.Value, error) {
	q := h.def.queries[qi]
	fail := func(code squall.Errno, format string, a ...any) (squall.Value, error) {
		return squall.Nil(), &InvokeError{Query: q.name, Code: code, Msg: fmt.Sprintf(format, a...)}
	}
	if len(args) != len(q.args) {
		return fail(squall.EINVAL, "query %s takes %d arguments (%s); got %d", q.name, len(q.args), strings.Join(q.args, ", "), len(args))
	}
	if depth > 8 {
		return fail(squall.EINVAL, "queries invoked from queries nest deeper than 8")
	}
	inv := &invocation{depth: depth}
	payload, _ := squall.Encode(squall.List(args...))
	queues := make([][]*pending, h.tasks)
	queues[0] = []*pending{{kind: wire.ItemInvoke, stage: 0, depot: wire.NoDepot, eventTime: h.clock, payload: payload}}
	saved := h.call
	defer func() { h.call = saved }()
	for n := 0; ; {
		progressed := false
		for p := range int(h.tasks) {
			for len(queues[p]) > 0 {
				k := min(len(queues[p]), h.opts.batchSize)
				if queues[p][0].kind == wire.ItemInvoke {
					k = 1
				}
				items := queues[p][:k]
				queues[p] = queues[p][k:]
				progressed = true
				if n++; n > h.opts.maxBatches {
					return fail(squall.EFAILED, "the query did not settle after %d batches; does a stage hop in a loop?", h.opts.maxBatches)
				}
				c, err := h.processQuery(qi, p, items, inv)
				if err != nil {
					return squall.Nil(), err
				}
				for i := range c.state {
					st := &c.state[i]
					out, d := st.outcome, st.detail
					if st.rejected != nil {
						out, d = wire.OutcomePoison, *st.rejected
					}
					if out != wire.OutcomeOK {
						return fail(squall.EFAILED, "stage %s on partition %d: %s", q.stages[items[i].stage], p, d.Message)
					}
					for _, hop := range st.hops {
						enc, _ := squall.Encode(hop.payload)
						for _, dest := range hop.partitions {
							queues[dest] = append(queues[dest], &pending{kind: wire.ItemHop, stage: hop.stage, depot: wire.NoDepot,
								sourcePartition: uint32(p), eventTime: h.clock, payload: enc})
						}
					}
				}
			}
		}
		if !progressed {
			return inv.result, nil
		}
	}
}

// processQuery runs one batch of a query invocation.
func (h *Harness) processQuery(qi, p int, items []*pending, inv *invocation) (*call, error) {
	h.clock += int64(1000)
	seed := h.rnd.Uint64()
	hdr := batchHeader{flags: wire.BatchQuery, batchID: uint64(h.stats.Batches + 1), partition: uint32(p), topology: uint16(qi),
		timeUnixNano: h.clock, seed: seed}
	bitems := make([]batchItem, len(items))
	for i, it := range items {
		bitems[i] = batchItem{kind: it.kind, stage: it.stage, depot: wire.NoDepot, sourcePartition: it.sourcePartition,
			eventTimeUnixNano: it.eventTime, payload: it.payload}
	}
	frame := appendBatch(nil, hdr, bitems)
	for i := range items {
		items[i].origin = 0
	}
	c := &call{topology: qi, partition: p, items: items, state: make([]itemState, len(items)), inv: inv,
		check: callCheck{items: uint32(len(items))}, rnd: rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))}
	inbox := h.inst.Inbox(len(frame))
	if len(inbox) < len(frame) {
		h.fatalf("squall_inbox(%d) returned %d bytes", len(frame), len(inbox))
	}
	copy(inbox, frame)
	h.call = c
	status := h.inst.Process(len(frame))
	h.call = nil
	if c.violation != nil || c.errDetail != nil || status != wire.StatusOK {
		c.undoAll()
	}
	h.endCall(c, fmt.Sprintf("squall_process (query %q, partition %d)", h.def.queries[qi].name, p), status)
	h.stats.Batches++
	h.stats.Items += len(items)
	return c, nil
}

// invokeFromStage answers an INVOKE query of a stage. The stage's call is
// suspended meanwhile: the harness's instance is single-threaded, so the
// query runs on a second instance.
func (h *Harness) invokeFromStage(c *call, q query) result {
	if int(q.pstate) >= len(h.def.queries) {
		return result{status: wire.EBADID, message: fmt.Sprintf("no query %d; the module has %d", q.pstate, len(h.def.queries))}
	}
	depth := 0
	if c.inv != nil {
		depth = c.inv.depth + 1
	}
	inner := h.fork()
	v, err := inner.invoke(int(q.pstate), q.path.Items(), depth)
	h.stats.Batches += inner.stats.Batches
	if err != nil {
		var ie *InvokeError
		if errors.As(err, &ie) {
			return result{status: int32(ie.Code), message: ie.Msg}
		}
		return result{status: wire.EFAILED, message: err.Error()}
	}
	return result{status: wire.ResultOK, value: v}
}

// fork returns a harness on the same module, data and clock with its own
// instance, for a query a stage invokes while its own call is running.
func (h *Harness) fork() *Harness {
	inner := &Harness{t: h.t, opts: h.opts, tasks: h.tasks, def: h.def, defBytes: h.defBytes, clock: h.clock,
		rnd: rand.New(rand.NewPCG(h.rnd.Uint64(), 0x9e3779b97f4a7c15)), depots: h.depots, pstates: h.pstates,
		batchID: map[[2]int]uint64{}}
	inner.inst = rt.NewInstance(h.define(), hostOf(inner))
	inner.runInit(inner.inst, 0)
	return inner
}

// mbState is the state of a microbatch topology in the harness.
type mbState struct {
	next   uint64 // the number of the next microbatch
	paused string // why the topology paused, or ""
}

// runMicrobatch runs the next microbatch of topology ti, as the host does
// (ABI.md §15.2): every record queued on every partition, then the hops
// they send, all or nothing. A stage that fails (or asks for a retry)
// undoes the whole microbatch, which runs again up to the harness's
// maximum attempts, then the topology pauses ([Harness.Paused]). A
// poisoned item dead-letters the record it descends from, and the
// microbatch runs again without it. It reports whether it ran one.
func (h *Harness) runMicrobatch(ti int) bool {
	if h.mbs == nil {
		h.mbs = map[int]*mbState{}
	}
	st := h.mbs[ti]
	if st == nil {
		st = &mbState{}
		h.mbs[ti] = st
	}
	var records []*pending
	for p := range int(h.tasks) {
		records = append(records, h.queues[ti][p]...)
	}
	if len(records) == 0 || st.paused != "" {
		return false
	}
	for p := range int(h.tasks) {
		h.queues[ti][p] = nil
	}
	for _, r := range records {
		r.record = r
	}
	dead := map[*pending]detail{}
	failures := 0
	for {
		undo, appends, poisoned, failed := h.mbAttempt(ti, records, dead)
		if poisoned == nil && failed == nil {
			for _, a := range appends {
				h.appendRecord(a.depot, a.partition, a.record, &root{ackReturns: map[string]squall.Value{}})
			}
			for _, r := range records {
				if d, ok := dead[r]; ok {
					h.deadLetter(&call{topology: ti, partition: int(r.sourcePartition)}, r, d)
				}
			}
			st.next++
			return true
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		if poisoned != nil {
			dead[poisoned.record] = *failed
			continue
		}
		failures++
		h.stats.Retries++
		if failures >= h.opts.maxAttempts {
			st.paused = fmt.Sprintf("microbatch %d failed %d times and the topology is paused; nothing of it was applied: %s",
				st.next, failures, failed.Message)
			for _, r := range records {
				if _, ok := dead[r]; !ok {
					h.queues[ti][r.sourcePartition] = append(h.queues[ti][r.sourcePartition], r)
				}
			}
			if h.t != nil && !h.opts.quiet {
				h.t.Logf("squalltest: topology %q paused: %s", h.def.topos[ti].name, st.paused)
			}
			return true
		}
		for _, r := range records {
			r.attempt++
		}
	}
}

// mbAttempt runs one attempt of a microbatch. It returns what undoes its
// transforms and, on success, the appends to make; or the item that was
// poisoned (with the detail in failed), or the failure.
func (h *Harness) mbAttempt(ti int, records []*pending, dead map[*pending]detail) (undo []func(), appends []stagedAppend, poisoned *pending, failed *detail) {
	queues := make([][]*pending, h.tasks)
	for _, r := range records {
		if _, ok := dead[r]; !ok {
			queues[r.sourcePartition] = append(queues[r.sourcePartition], r)
		}
	}
	for n := 0; ; {
		progressed := false
		for p := range int(h.tasks) {
			for len(queues[p]) > 0 {
				k := min(len(queues[p]), h.opts.batchSize)
				items := queues[p][:k]
				queues[p] = queues[p][k:]
				progressed = true
				if n++; n > h.opts.maxBatches {
					h.fatalf("a microbatch did not settle after %d batches; does a stage hop in a loop?", h.opts.maxBatches)
				}
				c := h.runCall(ti, p, items)
				undo = append(undo, c.undo...)
				for i, it := range items {
					st := &c.state[i]
					out, d := st.outcome, st.detail
					if st.rejected != nil {
						out, d = wire.OutcomePoison, *st.rejected
					}
					switch out {
					case wire.OutcomePoison:
						return undo, nil, it, &d
					case wire.OutcomeRetry:
						d.Message = fmt.Sprintf("stage %q on partition %d asked for a retry: %s", h.def.topos[ti].stages[it.stage], p, d.Message)
						return undo, nil, nil, &d
					}
					appends = append(appends, st.appends...)
					for _, hop := range st.hops {
						enc, _ := squall.Encode(hop.payload)
						for _, dest := range hop.partitions {
							queues[dest] = append(queues[dest], &pending{kind: wire.ItemHop, stage: hop.stage, depot: wire.NoDepot,
								sourcePartition: uint32(p), eventTime: h.clock, payload: enc, root: it.root, origin: it.origin, record: it.record})
						}
					}
				}
			}
		}
		if !progressed {
			return undo, appends, nil, nil
		}
	}
}

// Paused reports whether a microbatch topology paused because a
// microbatch failed the maximum number of times, and why. Its records
// stay queued.
func (h *Harness) Paused(topology string) (bool, string) {
	for ti, t := range h.def.topos {
		if t.name == topology {
			if st := h.mbs[ti]; st != nil && st.paused != "" {
				return true, st.paused
			}
			return false, ""
		}
	}
	h.fatalf("Paused: no topology %q", topology)
	return false, ""
}

// Microbatches returns how many microbatches of a topology committed.
func (h *Harness) Microbatches(topology string) int {
	for ti, t := range h.def.topos {
		if t.name == topology {
			if st := h.mbs[ti]; st != nil {
				return int(st.next)
			}
			return 0
		}
	}
	h.fatalf("Microbatches: no topology %q", topology)
	return 0
}
