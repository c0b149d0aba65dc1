package squall

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// Ctx is what a stage can do while it processes one item: append to
// depots, hop to other stages, read and write PStates, emit an ack return,
// log, and learn where and when it runs.
//
// Effects (appends, hops, transforms, emits) are buffered and committed
// with the batch, atomically with the item's progress, only when the stage
// returns nil: a stage that fails leaves no trace but its logs. Reads see
// the item's own transforms and those of the items before it in the batch.
//
// A Ctx is valid only during the call of the stage it was given to, and
// only on that goroutine.
type Ctx struct {
	inst     *instance
	mod      *module
	batch    *batchFrame
	it       *batchItem
	item     uint32
	stage    *Stage
	rejected error
	rng      *rand.Rand
	done     bool
}

// usable reports why the Ctx cannot take effects, or nil.
func (c *Ctx) usable() error {
	switch {
	case c.done:
		return errors.New("squall: the Ctx was used after its stage returned; a Ctx is valid only during its stage call")
	case c.inst.fatal != nil:
		return c.inst.fatal
	case c.rejected != nil:
		return c.rejected
	}
	return nil
}

// added finishes an effect that starts at start: it keeps frames under the
// ABI's size limit and flushes when enough is buffered.
func (c *Ctx) added(start int) error {
	e := &c.inst.eff
	if len(e.b) > wire.MaxEffectsFrame && e.count > 1 {
		last := append([]byte(nil), e.b[start:]...)
		e.b = e.b[:start]
		e.count--
		c.inst.flush()
		e.b = append(e.b, last...)
		e.count++
	}
	if len(e.b) >= flushAt {
		c.inst.flush()
	}
	if c.inst.fatal != nil {
		return c.inst.fatal
	}
	return c.rejected
}

// valueEffect buffers an effect whose body is the value x.
func (c *Ctx) valueEffect(op, flags uint8, target uint16, x any, what string) error {
	if err := c.usable(); err != nil {
		return err
	}
	v, err := ValueOf(x)
	if err != nil {
		return Poison(fmt.Errorf("squall: %s: %w", what, err))
	}
	start := len(c.inst.eff.b)
	if err := c.inst.eff.put(op, flags, target, c.item, &v); err != nil {
		return err
	}
	return c.added(start)
}

// AckLevel is how long the appender of a record waits; inside a topology
// it decides whether the new record's processing joins the current
// record's processing tree.
type AckLevel uint8

// Ack levels of [Ctx.Append]. They are also [AppendOption]s.
const (
	// NoAck: committed with the batch; processed on its own.
	NoAck AckLevel = 0
	// AppendAck is NoAck inside a topology (the batch commit makes the
	// record durable).
	AppendAck AckLevel = 1
	// Ack: the new record's processing, by every stream topology that reads
	// the depot, becomes part of the current record's processing tree, so
	// that the current record's appender (when it waits with Ack) waits for
	// it too. The default.
	Ack AckLevel = 2
)

func (a AckLevel) applyAppend(o *appendOpts) { o.ack = a }

// AppendOption is an option of [Ctx.Append]: an [AckLevel] or [Local].
type AppendOption interface{ applyAppend(*appendOpts) }

type appendOpts struct {
	ack   AckLevel
	local bool
}

type localOpt struct{}

func (localOpt) applyAppend(o *appendOpts) { o.local = true }

// Local appends to the current partition of the depot instead of routing
// the record with the depot's partitioner (the only way to append to a
// [Disallow] depot).
var Local AppendOption = localOpt{}

// Append appends record (converted with [ValueOf]) to depot, with the
// batch. Every stream topology reading the depot then processes it.
func (c *Ctx) Append(depot *Depot, record any, opts ...AppendOption) error {
	if err := c.checkDepot(depot); err != nil {
		return err
	}
	o := appendOpts{ack: Ack}
	for _, opt := range opts {
		opt.applyAppend(&o)
	}
	if o.ack > Ack {
		return Poison(errors.New("squall: append: unknown ack level " + strconv.Itoa(int(o.ack))))
	}
	flags := uint8(o.ack)
	if o.local {
		flags |= wire.AppendLocal
	}
	return c.valueEffect(wire.OpAppend, flags, uint16(depot.index), record, "append to "+depot.name)
}

func (c *Ctx) checkDepot(d *Depot) error {
	switch {
	case d != nil && d.index < len(c.mod.depots) && c.mod.depots[d.index] == d:
		return nil // the module's own handle
	case d == nil:
		return Poison(errors.New("squall: the depot is nil"))
	case d.index >= len(c.mod.depots) || c.mod.depots[d.index].name != d.name:
		return Poison(errors.New("squall: depot " + strconv.Quote(d.name) + " is not a depot of this module"))
	}
	return nil
}

func (c *Ctx) checkStage(s *Stage) error {
	t := c.stage.topo
	switch {
	case s != nil && s.topo == t && s.index < len(t.stages) && t.stages[s.index] == s:
		return nil // the module's own handle
	case s == nil:
		return Poison(errors.New("squall: hop: the stage is nil"))
	case s.topo == nil || s.topo.name != t.name:
		return Poison(errors.New("squall: hop: stage " + strconv.Quote(s.name) + " is not a stage of topology " +
			strconv.Quote(t.name) + "; a hop runs a stage of its own topology"))
	case s.index >= len(t.stages) || t.stages[s.index].name != s.name:
		return Poison(errors.New("squall: hop: stage " + strconv.Quote(s.name) + " is not a stage of this module"))
	}
	return nil
}

func (c *Ctx) checkPState(p *PState) error {
	switch {
	case p != nil && p.index < len(c.mod.pstates) && c.mod.pstates[p.index] == p:
		return nil // the module's own handle
	case p == nil:
		return Poison(errors.New("squall: the PState is nil"))
	case p.index >= len(c.mod.pstates) || c.mod.pstates[p.index].name != p.name:
		return Poison(errors.New("squall: PState " + strconv.Quote(p.name) + " is not a PState of this module"))
	}
	return nil
}

// Hop runs stage (of this topology) with payload on the partition that
// owns key, after the batch commits: the continuation of this item's work
// where the key's data lives. Key and payload are converted with
// [ValueOf]. Hops from one partition to another arrive in order.
func (c *Ctx) Hop(stage *Stage, key, payload any) error {
	if err := c.checkStage(stage); err != nil {
		return err
	}
	if err := c.usable(); err != nil {
		return err
	}
	k, err := ValueOf(key)
	if err != nil {
		return Poison(fmt.Errorf("squall: hop key: %w", err))
	}
	p, err := ValueOf(payload)
	if err != nil {
		return Poison(fmt.Errorf("squall: hop payload: %w", err))
	}
	start := len(c.inst.eff.b)
	if err := c.inst.eff.putHop(wire.HopHash, uint16(stage.index), c.item, &k, 0, &p); err != nil {
		return err
	}
	return c.added(start)
}

// HopAll runs stage with payload on every partition, this one included.
func (c *Ctx) HopAll(stage *Stage, payload any) error { return c.hop(stage, wire.HopAll, payload) }

// HopGlobal runs stage with payload on partition 0, where [Global]
// PStates live.
func (c *Ctx) HopGlobal(stage *Stage, payload any) error {
	return c.hop(stage, wire.HopGlobal, payload)
}

// HopOrigin runs stage with payload on the partition where this item's
// processing started (its source record's partition).
func (c *Ctx) HopOrigin(stage *Stage, payload any) error {
	return c.hop(stage, wire.HopOrigin, payload)
}

// HopShuffle runs stage with payload on a partition the host picks
// (deterministically, from the batch's seed), to spread work.
func (c *Ctx) HopShuffle(stage *Stage, payload any) error {
	return c.hop(stage, wire.HopShuffle, payload)
}

// HopDirect runs stage with payload on the given partition, from 0 to
// [Ctx.Partitions]-1: custom partitioning computed by the stage.
func (c *Ctx) HopDirect(stage *Stage, partition int, payload any) error {
	if err := c.checkStage(stage); err != nil {
		return err
	}
	if partition < 0 || uint64(partition) >= uint64(c.inst.tasks) {
		return Poison(errors.New("squall: hop direct: partition " + strconv.Itoa(partition) + " does not exist; the module has " +
			strconv.Itoa(int(c.inst.tasks)) + " partitions"))
	}
	if err := c.usable(); err != nil {
		return err
	}
	p, err := ValueOf(payload)
	if err != nil {
		return Poison(fmt.Errorf("squall: hop payload: %w", err))
	}
	start := len(c.inst.eff.b)
	if err := c.inst.eff.putHop(wire.HopDirect, uint16(stage.index), c.item, nil, uint32(partition), &p); err != nil {
		return err
	}
	return c.added(start)
}

func (c *Ctx) hop(stage *Stage, partitioner uint8, payload any) error {
	if err := c.checkStage(stage); err != nil {
		return err
	}
	return c.valueEffect(wire.OpHop, partitioner, uint16(stage.index), payload, "hop payload")
}

// Transform applies a transform path (ending with Set, Incr, Append,
// Prepend, Remove or Merge) to this partition of pstate. Later reads of
// this item, and of the items after it in the batch, see the change. The
// path's first Key on a map PState names a key, which must belong to this
// partition (hop there first).
//
// The host checks the path against the schema when the effect is flushed;
// if it does not fit, the item is poisoned and later Ctx calls return a
// [*RejectedError].
func (c *Ctx) Transform(pstate *PState, path Path) error {
	if err := c.checkPState(pstate); err != nil {
		return err
	}
	if err := path.Validate(TransformMode); err != nil {
		return Poison(err)
	}
	if err := c.usable(); err != nil {
		return err
	}
	start := len(c.inst.eff.b)
	if err := c.inst.eff.path(wire.OpTransform, uint16(pstate.index), c.item, path); err != nil {
		return err
	}
	return c.added(start)
}

// Select returns every value path navigates to in this partition of
// pstate, in order (maps and sets in key order).
func (c *Ctx) Select(pstate *PState, path Path) ([]Value, error) {
	r, err := c.query(wire.QuerySelect, pstate, path)
	if err != nil {
		return nil, err
	}
	return r.value.Items(), nil
}

// SelectOne returns the one value path navigates to in this partition of
// pstate. It returns [ErrNotFound] when the path navigates to nothing and
// a [*QueryError] with code EMULTI when it navigates to several values.
// A Key on an absent key navigates to nil:
//
//	v, err := ctx.SelectOne(counts, squall.Key(word)) // nil when absent
//	n, _ := v.AsInt()
func (c *Ctx) SelectOne(pstate *PState, path Path) (Value, error) {
	r, err := c.query(wire.QuerySelectOne, pstate, path)
	if err != nil {
		return Value{}, err
	}
	return r.value, nil
}

func (c *Ctx) query(op uint8, ps *PState, path Path) (result, error) {
	if err := c.checkPState(ps); err != nil {
		return result{}, err
	}
	if err := path.Validate(SelectMode); err != nil {
		return result{}, Poison(err)
	}
	if err := c.usable(); err != nil {
		return result{}, err
	}
	r, err := c.inst.query(op, ps, path)
	if err != nil {
		return result{}, err
	}
	switch r.status {
	case wire.ResultOK:
		if op == wire.QuerySelect && r.value.kind != KindList {
			return result{}, &QueryError{PState: ps.name, Path: path.String(), Code: EINTERNAL, Message: "SELECT answered " + r.value.kind.String() + ", not a list"}
		}
		return r, nil
	case wire.ResultNotFound:
		return result{}, ErrNotFound
	}
	return result{}, &QueryError{PState: ps.name, Path: path.String(), Code: Errno(r.status), Message: r.message}
}

// SelectAs is [Ctx.Select] with every value converted to a T ([As]).
func SelectAs[T any](ctx *Ctx, pstate *PState, path Path) ([]T, error) {
	vs, err := ctx.Select(pstate, path)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(vs))
	for i, v := range vs {
		if err := Unmarshal(v, &out[i]); err != nil {
			return nil, Poison(err)
		}
	}
	return out, nil
}

// SelectOneAs is [Ctx.SelectOne] with the value converted to a T ([As]);
// nil (an absent key) gives T's zero value.
//
//	n, err := squall.SelectOneAs[int64](ctx, counts, squall.Key(word))
func SelectOneAs[T any](ctx *Ctx, pstate *PState, path Path) (T, error) {
	var out T
	v, err := ctx.SelectOne(pstate, path)
	if err != nil {
		return out, err
	}
	if err := Unmarshal(v, &out); err != nil {
		return out, Poison(err)
	}
	return out, nil
}

// Emit sets this topology's ack return for the record whose processing
// this item is part of: an appender that waits with Ack receives it. The
// last value emitted wins.
func (c *Ctx) Emit(v any) error {
	return c.valueEffect(wire.OpEmit, 0, 0, v, "emit")
}

// LogLevel is the level of a log line.
type LogLevel uint8

// Log levels.
const (
	LogDebug LogLevel = iota
	LogInfo
	LogWarn
	LogError
)

// Log writes a line to the operator's log, tagged with the module,
// topology, partition, batch and item. Logs are kept even when the item
// fails.
func (c *Ctx) Log(level LogLevel, msg string) {
	if c.done || c.inst.fatal != nil || level > LogError {
		return
	}
	start := len(c.inst.eff.b)
	c.inst.eff.log(uint8(level), c.item, msg)
	_ = c.added(start)
}

// Logf is Log with fmt.Sprintf formatting.
func (c *Ctx) Logf(level LogLevel, format string, args ...any) {
	c.Log(level, fmt.Sprintf(format, args...))
}

// Partition returns the partition this item runs on, from 0 to
// [Ctx.Partitions]-1.
func (c *Ctx) Partition() int { return int(c.batch.partition) }

// Partitions returns the module's number of partitions.
func (c *Ctx) Partitions() int { return int(c.inst.tasks) }

// Attempt returns how many times this item was delivered before and
// failed: 0 the first time.
func (c *Ctx) Attempt() int { return int(c.it.attempt) }

// BatchTime returns the time of the batch this item is processed in. It is
// the same on every attempt of the batch, so code that uses it replays
// deterministically; the clocks of the time package start from it too.
func (c *Ctx) BatchTime() time.Time { return time.Unix(0, c.batch.timeUnixNano) }

// EventTime returns when the item's record was appended, or, for a hop
// delivery, the time of the batch that sent it.
func (c *Ctx) EventTime() time.Time { return time.Unix(0, c.it.eventTimeUnixNano) }

// Rand returns a random source for this item, seeded from the batch's
// seed and the item's position: the same on every attempt of the batch.
func (c *Ctx) Rand() *rand.Rand {
	if c.rng == nil {
		c.rng = rand.New(rand.NewPCG(c.batch.seed, uint64(c.item)^0x9e3779b97f4a7c15))
	}
	return c.rng
}

// Stage returns the stage being run.
func (c *Ctx) Stage() *Stage { return c.stage }

// Depot returns the depot of a source record, or nil for a hop delivery.
func (c *Ctx) Depot() *Depot {
	if c.it.kind != wire.ItemRecord || int(c.it.depot) >= len(c.mod.depots) {
		return nil
	}
	return c.mod.depots[c.it.depot]
}

// Offset returns the offset of a source record in its depot partition
// (0 for a hop delivery).
func (c *Ctx) Offset() int64 { return int64(c.it.offset) }

// SourcePartition returns the depot partition of a source record, or the
// partition that sent a hop.
func (c *Ctx) SourcePartition() int { return int(c.it.sourcePartition) }

// Typed adapts a function of a typed input to a [StageFunc]: the input is
// converted with [Unmarshal] (a [Unmarshaler], a primitive, a slice, a
// map, ...). An input that does not convert makes the item poison.
//
//	t.Stage("index", squall.Typed(func(ctx *squall.Ctx, f Follow) error { ... }))
func Typed[T any](fn func(ctx *Ctx, input T) error) StageFunc {
	// The common primitive inputs get stage functions of their own, which
	// convert as Unmarshal does: through Unmarshal the input variable
	// escapes, a heap allocation per item, and an allocation costs a wasm
	// guest as much as the rest of a small stage.
	switch f := any(fn).(type) {
	case func(*Ctx, Value) error:
		return f
	case func(*Ctx, string) error:
		return func(ctx *Ctx, input Value) error {
			s, err := stringOf(input)
			if err != nil {
				return &InputError{Stage: ctx.stage.name, Err: err}
			}
			return f(ctx, s)
		}
	case func(*Ctx, int64) error:
		return func(ctx *Ctx, input Value) error {
			i, err := intOf(input, math.MinInt64, math.MaxInt64, "int64")
			if err != nil {
				return &InputError{Stage: ctx.stage.name, Err: err}
			}
			return f(ctx, i)
		}
	case func(*Ctx, int) error:
		return func(ctx *Ctx, input Value) error {
			i, err := intOf(input, math.MinInt, math.MaxInt, "int")
			if err != nil {
				return &InputError{Stage: ctx.stage.name, Err: err}
			}
			return f(ctx, int(i))
		}
	case func(*Ctx, bool) error:
		return func(ctx *Ctx, input Value) error {
			b, err := boolOf(input)
			if err != nil {
				return &InputError{Stage: ctx.stage.name, Err: err}
			}
			return f(ctx, b)
		}
	}
	return func(ctx *Ctx, input Value) error {
		var in T
		if err := Unmarshal(input, &in); err != nil {
			return &InputError{Stage: ctx.stage.name, Err: err}
		}
		return fn(ctx, in)
	}
}
