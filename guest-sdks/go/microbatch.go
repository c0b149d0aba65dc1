package squall

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// This file holds the declarations and Ctx methods of Squall ABI 1.1:
// microbatch topologies, PStates owned by a topology, tick depots,
// aggregation and query topologies.

const defaultMaxRecords = 1000

func (t *Topology) section() string {
	if t.kind == "query" {
		return "queries"
	}
	return "topologies"
}

func (t *Topology) stageNames() Value {
	names := make([]Value, len(t.stages))
	for i, s := range t.stages {
		names[i] = String(s.name)
	}
	return List(names...)
}

// Microbatch declares a microbatch topology: its sources are processed in
// numbered microbatches over every partition, exactly once. All the
// effects of a microbatch on every partition become visible together, and
// a microbatch that fails is retried from scratch (and the topology
// paused if it keeps failing), so a record's effects are never applied
// twice or in part. The PStates it writes must be declared with
// [Topology.PState].
func (m *ModuleBuilder) Microbatch(name string, opts ...MicrobatchOption) *Topology {
	t := &Topology{name: name, index: len(m.topos), mb: m, kind: "microbatch"}
	for _, o := range opts {
		o.applyMicrobatch(t)
	}
	m.topos = append(m.topos, t)
	return t
}

// MicrobatchOption is an option of [ModuleBuilder.Microbatch].
type MicrobatchOption interface{ applyMicrobatch(*Topology) }

type mbOpt func(*Topology)

func (f mbOpt) applyMicrobatch(t *Topology) { f(t) }

// MaxRecords bounds how many records of each source and partition one
// microbatch takes (default 1000).
func MaxRecords(n int) MicrobatchOption {
	return mbOpt(func(t *Topology) {
		t.maxRecords = int64(n)
		if n < 1 || n > 1_000_000 {
			t.mb.misused(at("topologies", t.index)+".max_records", "MaxRecords("+strconv.Itoa(n)+"): use 1 to 1000000")
		}
	})
}

// Interval makes microbatches start at least d apart (default 0: the next
// one starts once the last committed and records are waiting), trading
// latency for larger microbatches.
func Interval(d time.Duration) MicrobatchOption {
	return mbOpt(func(t *Topology) {
		t.intervalMS = d.Milliseconds()
		if d < 0 || d > time.Hour {
			t.mb.misused(at("topologies", t.index)+".interval_ms", "Interval("+d.String()+"): use 0 to 1h")
		}
	})
}

// SourceOption is an option of [Topology.Source].
type SourceOption interface{ applySource(*source) }

type srcOpt func(*source)

func (f srcOpt) applySource(s *source) { f(s) }

// StartFromEnd makes a source skip the records its depot already holds
// when the topology is first deployed.
func StartFromEnd() SourceOption { return srcOpt(func(s *source) { s.start = String("end") }) }

// StartFromOffset makes a source start at offset on every partition (or
// at the first record still stored, if later) when the topology is first
// deployed.
func StartFromOffset(offset int64) SourceOption {
	return srcOpt(func(s *source) { s.start = Int(offset) })
}

// PState declares a PState that only this topology writes. A microbatch
// topology may write only its own PStates; other topologies and queries
// may read them.
func (t *Topology) PState(name string, schema Schema, opts ...PStateOption) *PState {
	p := t.mb.PState(name, schema, opts...)
	p.owner = t
	return p
}

// TickDepot declares a tick depot: every period, the host appends the
// time (Unix milliseconds, an int) to its partition 0. A topology that
// reads it runs on a timer: expiries, time windows, periodic rollups. To
// run on every partition, hop with [Ctx.HopAll]. Nobody else appends to
// it.
func (m *ModuleBuilder) TickDepot(name string, period time.Duration) *Depot {
	d := m.Depot(name, DepotPartitioner{kind: "tick", millis: period.Milliseconds()})
	if period < time.Millisecond || period > 24*time.Hour {
		m.misused(at("depots", d.index)+".partitioner.millis", "TickDepot period "+period.String()+": use 1ms to 24h")
	}
	return d
}

// A Query is a query topology: a named, predefined distributed query
// that clients (squall query, the Invoke rpc) and stages ([Ctx.Invoke])
// run on demand. Its first stage receives the arguments as a list; its
// stages hop to the partitions they need, read PStates (read-only) and
// produce the result with [Ctx.Return] and [Ctx.AggregateResult].
type Query struct{ t *Topology }

// Query declares a query topology with named arguments; an invocation
// passes exactly this many values.
func (m *ModuleBuilder) Query(name string, args ...string) *Query {
	t := &Topology{name: name, index: len(m.queries), mb: m, kind: "query", args: args}
	m.queries = append(m.queries, t)
	return &Query{t}
}

// Name returns the query's name.
func (q *Query) Name() string { return q.t.name }

// Stage declares a stage of the query; the first one declared is the
// entry, whose input is the list of arguments.
func (q *Query) Stage(name string, fn StageFunc) *Stage { return q.t.Stage(name, fn) }

// Agg is an aggregation: what [Ctx.Aggregate] combines into a PState and
// [Ctx.AggregateResult] into a query's result. The host applies it.
type Agg struct {
	code uint8
	v    Value
	n    int64
	err  error
}

func agg(code uint8, x any) Agg {
	v, err := ValueOf(x)
	return Agg{code: code, v: v, err: err}
}

// Count adds 1.
func Count() Agg { return Agg{code: wire.AggCount} }

// Sum adds an int or a float.
func Sum(n any) Agg { return agg(wire.AggSum, n) }

// Min keeps the smallest value (in the order of sorted PState keys).
func Min(v any) Agg { return agg(wire.AggMin, v) }

// Max keeps the largest value.
func Max(v any) Agg { return agg(wire.AggMax, v) }

// AddToSet adds v to a set.
func AddToSet(v any) Agg { return agg(wire.AggSet, v) }

// AppendToList appends v to a list.
func AppendToList(v any) Agg { return agg(wire.AggList, v) }

// PutInMap sets key k to v in a map.
func PutInMap(k, v any) Agg {
	kv, err := ValueOf(k)
	if err != nil {
		return Agg{code: wire.AggMap, err: err}
	}
	vv, err := ValueOf(v)
	return Agg{code: wire.AggMap, v: List(kv, vv), err: err}
}

// TopN keeps the n highest [score, id] pairs, one per id, sorted by score
// descending: a monotonic leaderboard (a lower score never replaces a
// higher one for the same id).
func TopN(n int, score, id any) Agg {
	sv, err := ValueOf(score)
	if err != nil {
		return Agg{code: wire.AggTopN, err: err}
	}
	iv, err := ValueOf(id)
	a := Agg{code: wire.AggTopN, v: List(sv, iv), n: int64(n), err: err}
	if n < 1 || n > 10000 {
		a.err = errors.New("TopN: n is " + strconv.Itoa(n) + "; use 1 to 10000")
	}
	return a
}

func (c *Ctx) aggregate(target uint16, a Agg, keys []any) error {
	if err := c.usable(); err != nil {
		return err
	}
	if a.code == 0 {
		return Poison(errors.New("squall: aggregate: the zero Agg; use Count, Sum, Min, Max, AddToSet, AppendToList, PutInMap or TopN"))
	}
	if a.err != nil {
		return Poison(fmt.Errorf("squall: aggregate %s: %w", wire.AggNames[a.code], a.err))
	}
	kv := make([]Value, len(keys))
	for i, k := range keys {
		v, err := ValueOf(k)
		if err != nil {
			return Poison(fmt.Errorf("squall: aggregate key %d: %w", i, err))
		}
		kv[i] = v
	}
	start := len(c.inst.eff.b)
	if err := c.inst.eff.aggregate(a.code, target, c.item, List(kv...), a.v, a.n); err != nil {
		return err
	}
	return c.added(start)
}

// Aggregate combines a into this partition of pstate at the key path
// keys, creating maps where values are absent: Aggregate(totals, Sum(5),
// user, "spent") adds 5 to totals[user]["spent"]. The first key of a map
// PState must belong to this partition (hop there first): hop by the key
// and aggregate is a group-by. In a microbatch topology, everything the
// microbatch aggregates lands atomically, exactly once.
func (c *Ctx) Aggregate(pstate *PState, a Agg, keys ...any) error {
	if err := c.checkPState(pstate); err != nil {
		return err
	}
	return c.aggregate(uint16(pstate.index), a, keys)
}

// AggregateResult combines a into the result of the query being run, at
// the key path keys (none: the whole result); several partitions may
// aggregate into one result. Query topologies only.
func (c *Ctx) AggregateResult(a Agg, keys ...any) error {
	if !c.batch.query {
		return Poison(errors.New("squall: AggregateResult is for query topologies; use Aggregate into a PState"))
	}
	return c.aggregate(wire.QueryResultTarget, a, keys)
}

// Return sets the result of the query being run (the last value returned
// wins; AggregateResult combines into it). Query topologies only.
func (c *Ctx) Return(v any) error {
	if !c.batch.query {
		return Poison(errors.New("squall: Return is for query topologies; a stream topology returns a value to ACK appenders with Emit"))
	}
	return c.valueEffect(wire.OpEmit, 0, wire.EmitQueryResult, v, "return")
}

// BatchID returns the batch's id. In a microbatch topology it is the
// microbatch number: the same on every partition and every retry, +1 per
// microbatch, for idempotent writes to systems outside Squall.
func (c *Ctx) BatchID() uint64 { return c.batch.batchID }

// InvokeError is a query invoked by [Ctx.Invoke] that failed.
type InvokeError struct {
	Query   string
	Code    Errno
	Message string
}

func (e *InvokeError) Error() string {
	return "squall: invoke " + e.Query + ": " + e.Code.String() + ": " + e.Message
}

// Wrong arguments are deterministic; a failed or late query may pass.
func (e *InvokeError) squallOutcome() (outcome, string) {
	if e.Code == EINVAL || e.Code == EBADID {
		return outcomePoison, "invoke"
	}
	return outcomeRetry, "invoke"
}

// Invoke runs query q of this module with args and returns its result.
// The query reads the committed PStates (not this batch's own writes).
func (c *Ctx) Invoke(q *Query, args ...any) (Value, error) {
	if q == nil || q.t == nil || q.t.index >= len(c.mod.queries) || c.mod.queries[q.t.index] != q.t {
		return Nil(), Poison(errors.New("squall: invoke: not a query of this module"))
	}
	if err := c.usable(); err != nil {
		return Nil(), err
	}
	av := make([]Value, len(args))
	for i, a := range args {
		v, err := ValueOf(a)
		if err != nil {
			return Nil(), Poison(fmt.Errorf("squall: invoke %s: argument %d: %w", q.t.name, i, err))
		}
		av[i] = v
	}
	r, err := c.inst.invoke(uint16(q.t.index), List(av...))
	if err != nil {
		return Nil(), err
	}
	if r.status < 0 {
		return Nil(), &InvokeError{Query: q.t.name, Code: Errno(r.status), Message: r.message}
	}
	return r.value, nil
}
