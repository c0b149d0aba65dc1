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

// The helpers below apply the effects that stream calls, microbatch calls
// and query invocations share. Each returns a non-zero errno with a
// message to reject the effect, and reports a store failure (which fails
// the call instead) through fatal.

// storeFailure is a store error that is not the guest's fault.
type storeFailure struct{ err error }

func (f *storeFailure) Error() string { return f.err.Error() }
func (f *storeFailure) Unwrap() error { return f.err }

// rejectStore maps an error of a store call to a rejection, or to a
// *storeFailure when the store itself failed.
func rejectStore(err error) (abi.Errno, string, error) {
	msg := strings.TrimPrefix(err.Error(), "storage: ")
	var se *storage.SchemaError
	var pe *storage.PathError
	var re *storage.RecordError
	switch {
	case errors.As(err, &se):
		return abi.ESCHEMA, msg, nil
	case errors.Is(err, storage.ErrTooLarge):
		return abi.ETOOBIG, msg, nil
	case errors.As(err, &pe):
		return abi.EPATH, msg, nil
	case errors.As(err, &re):
		return abi.EINVAL, msg, nil
	}
	return abi.EINTERNAL, msg, &storeFailure{err}
}

// needMinor rejects a 1.1 effect or query from a module that declared an
// older minor.
func (m *module) needMinor(what string) (abi.Errno, string) {
	if m.minor >= 1 {
		return 0, ""
	}
	return abi.EINVAL, what + " needs Squall ABI 1.1 and the module declares 1." + fmt.Sprint(m.minor)
}

// writeCheck checks that topology topo may write PState pi (ABI.md §15.2
// ownership).
func (m *module) writeCheck(pi *pstateInfo, topo int) (abi.Errno, string) {
	t := m.topos[topo]
	switch {
	case pi.owner >= 0 && pi.owner != topo:
		return abi.EINVAL, fmt.Sprintf("PState %q is owned by topology %q; topology %q may read it but not write it",
			pi.ps.Name(), m.topos[pi.owner].def.Name, t.def.Name)
	case pi.owner < 0 && t.micro:
		return abi.EINVAL, fmt.Sprintf("microbatch topology %q may write only the PStates it owns, and PState %q has no owner; "+
			"declare the PState with owner %q", t.def.Name, pi.ps.Name(), t.def.Name)
	}
	return 0, ""
}

// applyTransform applies a TRANSFORM of topology topo to partition part
// through sb.
func (m *module) applyTransform(sb *storage.Batch, part uint32, topo int, e *abi.Effect) (abi.Errno, string, error) {
	if int(e.Target) >= len(m.pstates) {
		return abi.EBADID, fmt.Sprintf("PState %d does not exist; the module has %d", e.Target, len(m.pstates)), nil
	}
	pi := m.pstates[e.Target]
	if code, msg := m.writeCheck(pi, topo); code != 0 {
		return code, msg, nil
	}
	path, err := abi.ParsePath(e.Value)
	if err != nil {
		return abi.EPATH, err.Error(), nil
	}
	if code, msg := m.pstatePartitionCheck(pi, path, part); code != 0 {
		return code, msg, nil
	}
	if _, err := sb.Transform(pi.ps, part, path); err != nil {
		return rejectStore(err)
	}
	return 0, "", nil
}

// applyAggregate applies an AGGREGATE into a PState (ABI.md §15.3) of
// topology topo on partition part through sb. COUNT, SUM, LIST, SET and
// MAP become transform paths, so that they work inside subindexed
// collections without reading them whole; MIN, MAX and TOP_N read, combine
// and set.
func (m *module) applyAggregate(sb *storage.Batch, part uint32, topo int, e *abi.Effect) (abi.Errno, string, error) {
	if code, msg := m.needMinor("AGGREGATE"); code != 0 {
		return code, msg, nil
	}
	if e.Target == abi.QueryResultTarget {
		return abi.EBADID, "AGGREGATE into the query result (target 0xFFFF) is allowed only in a query topology", nil
	}
	if int(e.Target) >= len(m.pstates) {
		return abi.EBADID, fmt.Sprintf("PState %d does not exist; the module has %d", e.Target, len(m.pstates)), nil
	}
	pi := m.pstates[e.Target]
	if code, msg := m.writeCheck(pi, topo); code != 0 {
		return code, msg, nil
	}
	agg := e.Aggregator()
	if err := abi.CheckAggregateValue(agg, e.Value, int(e.N)); err != nil {
		return abi.EINVAL, strings.TrimPrefix(err.Error(), "abi: "), nil
	}
	keys := e.Key.Items()
	if len(keys) == 0 && pi.rootMap {
		return abi.EPATH, fmt.Sprintf("PState %q is a map: the key path of an AGGREGATE starts with its top-level key", pi.ps.Name()), nil
	}
	base := abi.P()
	for _, k := range keys {
		base = base.Key(k)
	}
	if code, msg := m.pstatePartitionCheck(pi, base, part); code != 0 {
		return code, msg, nil
	}
	var path abi.Path
	switch agg {
	case abi.AggCount:
		path = base.NilToVal(abi.Int(0)).Incr(1)
	case abi.AggSum:
		n, isInt := e.Value.AsInt()
		if !isInt {
			return m.readCombineSet(sb, part, pi, base, agg, e.Value, 0, nil)
		}
		path = base.NilToVal(abi.Int(0)).Incr(n)
	case abi.AggList, abi.AggSet:
		path = base.Append(e.Value)
		return m.readCombineSet(sb, part, pi, base, agg, e.Value, 0, path)
	case abi.AggMap:
		path = base.Key(e.Value.Index(0)).Set(e.Value.Index(1))
		return m.readCombineSet(sb, part, pi, base, agg, e.Value, 0, path)
	default:
		return m.readCombineSet(sb, part, pi, base, agg, e.Value, int(e.N), nil)
	}
	if _, err := sb.Transform(pi.ps, part, path); err != nil {
		return rejectStore(err)
	}
	return 0, "", nil
}

// readCombineSet reads the value at base, combines v into it and sets the
// result. When the value is a subindexed collection (it cannot be read
// whole) it applies inPlace instead, if given.
func (m *module) readCombineSet(sb *storage.Batch, part uint32, pi *pstateInfo, base abi.Path, agg abi.Aggregator, v abi.Value, n int, inPlace abi.Path) (abi.Errno, string, error) {
	cur := abi.Nil()
	if len(base) > 0 || !pi.rootMap {
		vs, err := sb.Select(pi.ps, part, base)
		var pe *storage.PathError
		if err != nil && inPlace != nil && errors.As(err, &pe) {
			if _, err := sb.Transform(pi.ps, part, inPlace); err != nil {
				return rejectStore(err)
			}
			return 0, "", nil
		}
		if err != nil {
			return rejectStore(err)
		}
		if len(vs) == 1 {
			cur = vs[0]
		}
	}
	nv, err := abi.Aggregate(agg, cur, v, n)
	if err != nil {
		return abi.EINVAL, strings.TrimPrefix(err.Error(), "abi: "), nil
	}
	if _, err := sb.Transform(pi.ps, part, base.Set(nv)); err != nil {
		return rejectStore(err)
	}
	return 0, "", nil
}

// appendTarget returns where an APPEND goes: its depot, partition, key and
// encoded record. choose picks a random partition deterministically.
func (m *module) appendTarget(e *abi.Effect, part uint32, choose func() uint32) (*depotInfo, uint32, []byte, []byte, abi.Errno, string) {
	if int(e.Target) >= len(m.depots) {
		return nil, 0, nil, nil, abi.EBADID, fmt.Sprintf("depot %d does not exist; the module has %d", e.Target, len(m.depots))
	}
	d := m.depots[e.Target]
	if d.tick > 0 {
		return nil, 0, nil, nil, abi.EINVAL, fmt.Sprintf("depot %q is a tick depot: only the host appends to it", d.def.Name)
	}
	enc, err := abi.Encode(e.Value)
	if err != nil {
		return nil, 0, nil, nil, abi.EINVAL, "the record cannot be encoded: " + err.Error()
	}
	var key []byte
	if !e.Local() {
		switch d.def.Partitioner.Kind {
		case abi.DepotDisallow:
			return nil, 0, nil, nil, abi.EINVAL, fmt.Sprintf("depot %q is declared disallow: append to it with LOCAL", d.def.Name)
		case abi.DepotRandom:
			part = choose()
		default:
			var msg string
			if part, key, msg = m.hashRoute(d, e.Value, enc); msg != "" {
				return nil, 0, nil, nil, abi.EPATH, msg
			}
		}
	}
	return d, part, key, enc, 0, ""
}

// hopTarget returns the partition of a HOP (all: every partition) and its
// encoded payload. origin is the partition ORIGIN names.
func (m *module) hopTarget(e *abi.Effect, stages int, origin uint32, choose func() uint32) (part uint32, all bool, payload []byte, code abi.Errno, msg string) {
	if int(e.Target) >= stages {
		return 0, false, nil, abi.EBADID, fmt.Sprintf("stage %d does not exist; there are %d", e.Target, stages)
	}
	switch e.Partitioner() {
	case abi.PartitionHash:
		kb, err := abi.Encode(e.Key)
		if err != nil {
			return 0, false, nil, abi.EINVAL, "the hop key cannot be encoded: " + err.Error()
		}
		part = abi.KeyPartition(kb, m.tasks)
	case abi.PartitionAll:
		all = true
	case abi.PartitionGlobal:
		part = 0
	case abi.PartitionOrigin:
		part = origin
	case abi.PartitionShuffle:
		part = choose()
	case abi.PartitionDirect:
		if e.Partition >= m.tasks {
			return 0, false, nil, abi.EWRONGPART, fmt.Sprintf("partition %d does not exist; the module has %d", e.Partition, m.tasks)
		}
		part = e.Partition
	}
	enc, err := abi.Encode(e.Value)
	if err != nil {
		return 0, false, nil, abi.EINVAL, "the hop payload cannot be encoded: " + err.Error()
	}
	return part, all, enc, 0, ""
}

// pstateReader is what SELECT queries read: a store batch (the committed
// state plus the batch's writes) or a snapshot.
type pstateReader interface {
	Select(ps *storage.PState, partition uint32, p abi.Path) ([]abi.Value, error)
}

// selectQuery runs a SELECT or SELECT_ONE on partition part through r. A
// store failure is returned as fatal.
func (m *module) selectQuery(r pstateReader, part uint32, q *abi.Query) (abi.Result, error) {
	fail := func(code abi.Errno, msg string) abi.Result { return abi.Result{Status: int32(code), Message: msg} }
	if int(q.PState) >= len(m.pstates) {
		return fail(abi.EBADID, fmt.Sprintf("PState %d does not exist; the module has %d", q.PState, len(m.pstates))), nil
	}
	pi := m.pstates[q.PState]
	path, err := abi.ParsePath(q.Path)
	if err != nil {
		return fail(abi.EPATH, err.Error()), nil
	}
	if code, msg := m.pstatePartitionCheck(pi, path, part); code != 0 {
		return fail(code, msg), nil
	}
	vs, err := r.Select(pi.ps, part, path)
	if err != nil {
		var pe *storage.PathError
		if errors.As(err, &pe) {
			return fail(abi.EPATH, strings.TrimPrefix(err.Error(), "storage: ")), nil
		}
		return fail(abi.EINTERNAL, err.Error()), err
	}
	if q.Op == abi.QuerySelectOne {
		switch len(vs) {
		case 0:
			return abi.Result{Status: abi.ResultNotFound}, nil
		case 1:
			return abi.Result{Status: abi.ResultOK, Value: vs[0]}, nil
		}
		return fail(abi.EMULTI, fmt.Sprintf("the path navigated to %d values; SELECT_ONE needs one", len(vs))), nil
	}
	return abi.Result{Status: abi.ResultOK, Value: abi.List(vs...)}, nil
}

// chooser returns the deterministic partition picker of SHUFFLE hops and
// random appends for a batch seed: a retried batch chooses the same.
func chooser(seed uint64, tasks uint32) func() uint32 {
	var n uint64
	return func() uint32 {
		n++
		x := seed + n*0x9e3779b97f4a7c15
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		return uint32(x % uint64(tasks))
	}
}

// logEffect writes a LOG effect to the operator log, tagged with where it
// came from.
func logEffect(ctx context.Context, m *module, topology string, part uint32, batch uint64, e *abi.Effect) {
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
	attrs := []any{"module", m.name, "topology", topology, "partition", part, "batch", batch}
	if e.Item != abi.NoItem {
		attrs = append(attrs, "item", e.Item)
	}
	m.e.log.Log(ctx, lvl, text, attrs...)
}
