package squall

import (
	"fmt"
	"runtime/debug"
	"strconv"

	"github.com/squall-run/squall/guest-sdks/go/internal/rt"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// The guest runtime: what squall_init and squall_process do (ABI.md §13).
// It talks to the host only through rt.Host, so that the same code runs
// behind the wasm exports and under squalltest's fake host.

// flushAt is the size of buffered effects that triggers a flush.
const flushAt = 64 << 10

func init() {
	rt.NewInstance = func(define any, host rt.Host) rt.Instance {
		inst := &instance{host: host}
		switch fn := define.(type) {
		case nil:
			inst.define = registered.fn
			inst.defineCount = registered.count
		case func(*ModuleBuilder):
			inst.define, inst.defineCount = fn, 1
		default:
			panic("squall: rt.NewInstance: define is a " + fmt.Sprintf("%T", define))
		}
		return inst
	}
	rt.CheckDefinition = func(def []byte) error {
		v, err := Decode(def)
		if err != nil {
			return err
		}
		return CheckDefinition(v)
	}
}

// instance is one guest instance: the module's handles and stage
// functions, the inbox and the effect and query buffers.
type instance struct {
	host        rt.Host
	define      func(*ModuleBuilder)
	defineCount int
	mod         *module
	buildErr    error
	tasks       uint32

	inbox []byte
	eff   effects
	out   []byte // response and take buffer
	req   []byte // query frame buffer
	cur   *Ctx   // the item being processed
	fatal *failingError
	// flushFailed says that flush itself failed, so not even an ERROR
	// can be flushed.
	flushFailed bool
}

func (inst *instance) Inbox(minCap int) []byte {
	if minCap < 0 || minCap > wire.MaxBatchFrame {
		return nil
	}
	if inst.inbox == nil || len(inst.inbox) < minCap {
		inst.inbox = make([]byte, max(minCap, 64<<10))
	}
	return inst.inbox
}

// effects is the effects frame being filled: its 8-byte header and the
// effects after it.
type effects struct {
	b     []byte
	count uint32
	// mark and markCount are where the current item's unflushed effects
	// begin.
	mark      int
	markCount uint32
}

func (e *effects) reset() {
	if e.b == nil {
		e.b = make([]byte, 0, flushAt+(flushAt>>2))
	}
	e.b = wire.AppendHeader(e.b[:0], wire.KindEffects, 0)
	e.count = 0
	e.mark, e.markCount = len(e.b), 0
}

// begin starts an effect; end finishes it (body written after begin).
func (e *effects) begin(op, flags uint8, target uint16, item uint32) int {
	start := len(e.b)
	e.b = appendEffectHeader(e.b, op, flags, target, item)
	return start
}

func (e *effects) end(start int) error {
	size := len(e.b) - start - wire.EffectHeaderSize
	if size > wire.MaxEffectsFrame-wire.EffectsHeaderSize-wire.EffectHeaderSize {
		e.b = e.b[:start]
		return Poison(fmt.Errorf("squall: an effect of %d bytes exceeds the ABI's %d MiB effects frame limit", size, wire.MaxEffectsFrame>>20))
	}
	wire.PutU32(e.b[start:], uint32(size))
	e.count++
	return nil
}

// value appends an effect whose body is the value v.
func (e *effects) value(op, flags uint8, target uint16, item uint32, v Value) error {
	return e.put(op, flags, target, item, &v)
}

// put appends an effect whose body is the value *v. The runtime passes
// Values by pointer: in Go's WebAssembly code a Value (56 bytes) copied is
// a call to memmove.
func (e *effects) put(op, flags uint8, target uint16, item uint32, v *Value) error {
	start := e.begin(op, flags, target, item)
	b, err := appendEncode(e.b, v)
	if err != nil {
		e.b = e.b[:start]
		return Poison(err)
	}
	e.b = b
	return e.end(start)
}

// aggregate appends an AGGREGATE (ABI 1.1): the key path, the value and,
// for TOP_N, n.
func (e *effects) aggregate(agg uint8, target uint16, item uint32, keys, v Value, n int64) error {
	start := e.begin(wire.OpAggregate, agg, target, item)
	b, err := appendEncode(e.b, &keys)
	if err == nil {
		b, err = appendEncode(b, &v)
	}
	if err == nil && agg == wire.AggTopN {
		nv := Int(n)
		b, err = appendEncode(b, &nv)
	}
	if err != nil {
		e.b = e.b[:start]
		return Poison(err)
	}
	e.b = b
	return e.end(start)
}

// path appends an effect whose body is a path.
func (e *effects) path(op uint8, target uint16, item uint32, p Path) error {
	start := e.begin(op, 0, target, item)
	b, err := appendPath(e.b, p)
	if err != nil {
		e.b = e.b[:start]
		return Poison(err)
	}
	e.b = b
	return e.end(start)
}

// hop appends a HOP: with a key for HASH, a partition for DIRECT.
func (e *effects) hop(partitioner uint8, stage uint16, item uint32, key Value, partition uint32, payload Value) error {
	return e.putHop(partitioner, stage, item, &key, partition, &payload)
}

// putHop is hop with the key and payload by pointer.
func (e *effects) putHop(partitioner uint8, stage uint16, item uint32, key *Value, partition uint32, payload *Value) error {
	start := e.begin(wire.OpHop, partitioner, stage, item)
	b := e.b
	var err error
	switch partitioner {
	case wire.HopHash:
		b, err = appendEncode(b, key)
	case wire.HopDirect:
		b = wire.AppendU32(b, partition)
	}
	if err == nil {
		b, err = appendEncode(b, payload)
	}
	if err != nil {
		e.b = e.b[:start]
		return Poison(fmt.Errorf("squall: hop: %w", err))
	}
	e.b = b
	return e.end(start)
}

// log appends a LOG of text (made valid UTF-8, at most 8 KiB).
func (e *effects) log(level uint8, item uint32, text string) {
	if len(text) > 8<<10 {
		text = text[:8<<10]
	}
	start := e.begin(wire.OpLog, level, 0, item)
	e.b = append(e.b, validString(text)...)
	_ = e.end(start)
}

// outcome appends the OUTCOME of item; d is ignored for OK.
func (e *effects) outcome(item uint32, o outcome, d errorDetail) {
	if o == outcomeOK {
		_ = e.end(e.begin(wire.OpOutcome, wire.OutcomeOK, 0, item))
		return
	}
	if err := e.value(wire.OpOutcome, uint8(o), 0, item, d.value()); err != nil {
		d.message, d.stack = "the error message could not be encoded", ""
		_ = e.value(wire.OpOutcome, uint8(o), 0, item, d.value())
	}
}

// define appends the DEFINE of an encoded definition.
func (e *effects) define(def []byte) error {
	start := e.begin(wire.OpDefine, 0, 0, wire.NoItem)
	e.b = append(e.b, def...)
	return e.end(start)
}

// dropItem discards the current item's unflushed effects but its logs.
func (e *effects) dropItem() {
	w := e.mark
	n := e.markCount
	for r := e.mark; r < len(e.b); {
		size := int(uint32(e.b[r]) | uint32(e.b[r+1])<<8 | uint32(e.b[r+2])<<16 | uint32(e.b[r+3])<<24)
		end := r + wire.EffectHeaderSize + size
		if e.b[r+4] == wire.OpLog {
			w += copy(e.b[w:], e.b[r:end])
			n++
		}
		r = end
	}
	e.b = e.b[:w]
	e.count = n
}

// markItem records that the next item's effects start here.
func (e *effects) markItem() { e.mark, e.markCount = len(e.b), e.count }

// frame returns the frame with its count set.
func (e *effects) frame() []byte {
	wire.PutU32(e.b[4:], e.count)
	return e.b
}

// flush hands the buffered effects to the host. A rejection of the current
// item's effects is recorded on its Ctx; a failure of the host makes the
// call fail.
func (inst *instance) flush() {
	if inst.fatal != nil || inst.eff.count == 0 {
		return
	}
	r := inst.host.Flush(inst.eff.frame())
	inst.eff.reset()
	switch {
	case r < 0:
		inst.fatal = &failingError{code: r}
		inst.flushFailed = true
	case r > 0:
		inst.rejections()
	}
}

// rejections fetches the list of effects the host rejected in the last
// flush and stops the current item if it is among them.
func (inst *instance) rejections() {
	b, code := inst.take()
	if code < 0 {
		inst.fatal = &failingError{code: code}
		return
	}
	v, err := Decode(b)
	if err != nil || v.kind != KindList {
		inst.fatal = &failingError{code: wire.EINVAL}
		return
	}
	if inst.cur == nil || inst.cur.rejected != nil {
		return
	}
	for _, r := range v.c {
		item, _ := r.Field("item").AsInt()
		if item != int64(inst.cur.item) {
			continue
		}
		code, _ := r.Field("code").AsInt()
		msg, _ := r.Field("message").AsString()
		inst.cur.rejected = &RejectedError{Code: Errno(code), Message: msg}
		return
	}
}

// take copies the parked result into the out buffer, growing it as
// needed.
func (inst *instance) take() ([]byte, int32) {
	if inst.out == nil {
		inst.out = make([]byte, 64<<10)
	}
	n := inst.host.Take(inst.out)
	if n > int32(len(inst.out)) {
		inst.out = make([]byte, n)
		n = inst.host.Take(inst.out)
	}
	if n < 0 {
		return nil, n
	}
	if n > int32(len(inst.out)) {
		return nil, wire.EINTERNAL
	}
	return inst.out[:n], 0
}

// query runs one query and returns its result.
func (inst *instance) query(op uint8, ps *PState, path Path) (result, error) {
	inst.flush()
	if inst.fatal != nil {
		return result{}, inst.fatal
	}
	if c := inst.cur; c != nil && c.rejected != nil {
		return result{}, c.rejected
	}
	req, err := appendQuery(wire.AppendHeader(inst.req[:0], wire.KindQuery, 1), op, uint16(ps.index), path)
	if err != nil {
		return result{}, Poison(err)
	}
	inst.req = req
	if len(req) > wire.MaxQueryFrame {
		return result{}, Poison(fmt.Errorf("squall: query path of %d bytes exceeds the ABI's 1 MiB query frame limit", len(req)))
	}
	return inst.roundTrip(req)
}

// invoke runs an INVOKE query (ABI 1.1) of query q with the argument list
// args.
func (inst *instance) invoke(q uint16, args Value) (result, error) {
	inst.flush()
	if inst.fatal != nil {
		return result{}, inst.fatal
	}
	if c := inst.cur; c != nil && c.rejected != nil {
		return result{}, c.rejected
	}
	b, err := appendInvoke(wire.AppendHeader(inst.req[:0], wire.KindQuery, 1), q, args)
	if err != nil {
		return result{}, Poison(err)
	}
	inst.req = b
	if len(b) > wire.MaxQueryFrame {
		return result{}, Poison(fmt.Errorf("squall: invoke arguments of %d bytes exceed the ABI's 1 MiB query frame limit", len(b)))
	}
	return inst.roundTrip(b)
}

// roundTrip sends a query frame of one query and decodes the result.
func (inst *instance) roundTrip(req []byte) (result, error) {
	if inst.out == nil {
		inst.out = make([]byte, 64<<10)
	}
	n := inst.host.Query(req, inst.out)
	var resp []byte
	switch {
	case n < 0:
		inst.fatal = &failingError{code: n}
		return result{}, inst.fatal
	case n <= int32(len(inst.out)):
		resp = inst.out[:n]
	default:
		var code int32
		if resp, code = inst.take(); code < 0 {
			inst.fatal = &failingError{code: code}
			return result{}, inst.fatal
		}
	}
	var one [1]result
	rs, err := decodeResponseInto(resp, one[:0])
	if err != nil || len(rs) != 1 {
		inst.fatal = &failingError{code: wire.EINVAL}
		return result{}, inst.fatal
	}
	return rs[0], nil
}

// failCall flushes an ERROR effect, unless flush itself failed, and
// returns the FAILED status.
func (inst *instance) failCall(item uint32, d errorDetail) int32 {
	if !inst.flushFailed {
		fatal := inst.fatal
		inst.fatal = nil
		_ = inst.eff.value(wire.OpError, 0, 0, item, d.value())
		inst.flush()
		if inst.fatal == nil {
			inst.fatal = fatal
		}
	}
	return wire.StatusFailed
}

// module builds the module on first use.
func (inst *instance) module() (*module, error) {
	if inst.mod == nil && inst.buildErr == nil {
		if inst.defineCount > 1 {
			inst.buildErr = &buildError{kind: "definition", msg: "squall: squall.Define was called " +
				strconv.Itoa(inst.defineCount) + " times; a module has exactly one definition"}
		} else {
			inst.mod, inst.buildErr = build(inst.define)
		}
	}
	return inst.mod, inst.buildErr
}

// Init is squall_init: build the module and flush its definition.
func (inst *instance) Init(n int) int32 {
	inst.eff.reset()
	inst.fatal, inst.cur, inst.flushFailed = nil, nil, false
	if n < 0 || n > len(inst.inbox) {
		return inst.failCall(wire.NoItem, errorDetail{kind: "abi", message: "squall_init: frame length " + strconv.Itoa(n) + " exceeds the inbox"})
	}
	f, err := decodeInit(inst.inbox[:n])
	if err != nil {
		return inst.failCall(wire.NoItem, errorDetail{kind: "abi", message: err.Error()})
	}
	inst.tasks = f.tasks
	mod, err := inst.module()
	if err != nil {
		be := err.(*buildError)
		return inst.failCall(wire.NoItem, errorDetail{kind: be.kind, message: be.msg, stack: be.stack})
	}
	if err := inst.eff.define(mod.defBytes); err != nil {
		return inst.failCall(wire.NoItem, errorDetail{kind: "definition", message: err.Error()})
	}
	inst.flush()
	if inst.fatal != nil {
		return wire.StatusFailed
	}
	return wire.StatusOK
}

// Process is squall_process: run each item's stage, in order, and flush
// its effects and exactly one OUTCOME.
func (inst *instance) Process(n int) int32 {
	inst.eff.reset()
	inst.fatal, inst.cur, inst.flushFailed = nil, nil, false
	mod, err := inst.module()
	if err != nil {
		return inst.failCall(wire.NoItem, errorDetail{kind: "definition", message: err.Error()})
	}
	if n < 0 || n > len(inst.inbox) {
		return inst.failCall(wire.NoItem, errorDetail{kind: "abi", message: "squall_process: frame length " + strconv.Itoa(n) + " exceeds the inbox"})
	}
	b, err := decodeBatch(inst.inbox[:n])
	if err != nil {
		return inst.failCall(wire.NoItem, errorDetail{kind: "abi", message: err.Error()})
	}
	topos, what := mod.topos, "topology"
	if b.query {
		topos, what = mod.queries, "query"
	}
	if int(b.topology) >= len(topos) {
		return inst.failCall(wire.NoItem, errorDetail{kind: "abi", message: "squall_process: the batch names " + what + " " +
			strconv.Itoa(int(b.topology)) + "; the module has " + strconv.Itoa(len(topos))})
	}
	topo := topos[b.topology]
	failed := uint32(wire.NoItem)
	// One allocation for the Ctxs of the batch rather than one per item.
	ctxs := make([]Ctx, len(b.items))
	for i := range b.items {
		it := &b.items[i]
		item := uint32(i)
		if int(it.stage) >= len(topo.stages) {
			return inst.failCall(item, errorDetail{kind: "abi", message: "squall_process: item " + strconv.Itoa(i) +
				" names stage " + strconv.Itoa(int(it.stage)) + " of topology " + strconv.Quote(topo.name) +
				", which has " + strconv.Itoa(len(topo.stages))})
		}
		stage := topo.stages[it.stage]
		ctx := &ctxs[i]
		*ctx = Ctx{inst: inst, mod: mod, batch: b, it: it, item: item, stage: stage}
		inst.cur = ctx
		inst.eff.markItem()
		var runErr error
		if input, derr := Decode(it.payload); derr != nil {
			runErr = &InputError{Stage: stage.name, Err: derr}
		} else {
			runErr = runStage(stage.fn, ctx, input)
		}
		ctx.done = true
		inst.cur = nil
		if inst.fatal != nil {
			failed = item
			break
		}
		if runErr == nil && ctx.rejected != nil {
			runErr = ctx.rejected
		}
		if runErr == nil {
			inst.eff.outcome(item, outcomeOK, errorDetail{})
		} else {
			o, kind := classify(runErr)
			d := errorDetail{kind: kind, message: errorMessage(runErr)}
			if pe, ok := runErr.(*panicError); ok {
				d.stack = pe.stack
			}
			inst.eff.dropItem()
			inst.eff.outcome(item, o, d)
		}
		if len(inst.eff.b) >= flushAt {
			inst.flush()
		}
	}
	inst.flush()
	if inst.fatal != nil {
		return inst.failCall(failed, errorDetail{kind: "host", message: inst.fatal.Error()})
	}
	return wire.StatusOK
}

// errorMessage returns err.Error(), or says that it panicked (a typed nil
// pointer returned as an error, say).
func errorMessage(err error) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("the error's Error method panicked: %v (error of type %T)", r, err)
		}
	}()
	return err.Error()
}

// runStage runs a stage function, turning a panic into an error.
func runStage(fn StageFunc, ctx *Ctx, input Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: string(debug.Stack())}
		}
	}()
	return fn(ctx, input)
}
