package abi

import (
	"encoding/binary"
	"math"
	"strconv"
)

// ErrorDetail is the body of an ERROR effect and of an OUTCOME that is not
// OK: a MessagePack map with the string keys "kind" (optional), "message"
// (required) and "stack" (optional), each a string. Empty optional fields
// are omitted from the encoding.
type ErrorDetail struct {
	// Kind classifies the error in a word: "poison", "panic", "ValueError".
	Kind string
	// Message says what went wrong.
	Message string
	// Stack is a stack trace, when the language has one.
	Stack string
}

// Value returns the map form of d.
func (d ErrorDetail) Value() Value {
	es := []MapEntry{{String("message"), String(d.Message)}}
	if d.Kind != "" {
		es = append(es, MapEntry{String("kind"), String(d.Kind)})
	}
	if d.Stack != "" {
		es = append(es, MapEntry{String("stack"), String(d.Stack)})
	}
	return Map(es...)
}

// parseErrorDetail reads the map form of an error detail; the string is
// empty on success and says what is wrong otherwise.
func parseErrorDetail(v Value) (ErrorDetail, string) {
	var d ErrorDetail
	if v.Kind() != KindMap {
		return d, "an error detail is a map, not " + v.Kind().String()
	}
	hasMsg := false
	for _, e := range v.Entries() {
		k, ok := e.Key.AsString()
		if !ok {
			return d, "error detail keys are strings, not " + e.Key.Kind().String()
		}
		s, ok := e.Val.AsString()
		if !ok && (k == "kind" || k == "message" || k == "stack") {
			return d, "error detail field " + strconv.Quote(k) + " must be a string, not " + e.Val.Kind().String()
		}
		switch k {
		case "kind":
			d.Kind = s
		case "message":
			d.Message, hasMsg = s, true
		case "stack":
			d.Stack = s
		default:
			return d, "unknown error detail field " + strconv.Quote(k) + "; the fields are \"kind\", \"message\" and \"stack\""
		}
	}
	if !hasMsg {
		return d, "error detail has no \"message\""
	}
	return d, ""
}

// Effect is one effect of an effects frame (ABI.md §6.3): a fixed header
// (op, flags, target, item) and an op-specific body. Fields that do not
// apply to the op are ignored by the encoder and zero after decoding.
type Effect struct {
	// Op says what the effect does.
	Op EffectOp
	// Flags are op-specific: the ack level and AppendLocal (APPEND), the
	// [Partitioner] (HOP), the [LogLevel] (LOG), the [Outcome] (OUTCOME);
	// zero for the other ops.
	Flags uint8
	// Target is op-specific: the depot index (APPEND), the stage index in
	// the current topology (HOP), the PState index (TRANSFORM), the emit
	// stream (EMIT); zero for the other ops.
	Target uint16
	// Item is the index of the batch item the effect belongs to, or
	// [NoItem].
	Item uint32

	// Key is the key of a HASH hop, or the key path (a list) of an
	// AGGREGATE.
	Key Value
	// N is the bound of an AGGREGATE with AggTopN.
	N int64
	// Partition is the partition of a DIRECT hop.
	Partition uint32
	// Value is the record (APPEND), the payload (HOP), the path in its
	// Value form (TRANSFORM), the emitted value (EMIT), the module
	// definition (DEFINE) or the value combined (AGGREGATE).
	Value Value
	// Text is the message of a LOG.
	Text string
	// Detail is the error of an ERROR, or of an OUTCOME that is not OK.
	Detail ErrorDetail
}

// AckLevel returns the ack level of an APPEND.
func (e *Effect) AckLevel() AckLevel { return AckLevel(e.Flags & AppendAckMask) }

// Local reports whether an APPEND goes to the current partition.
func (e *Effect) Local() bool { return e.Flags&AppendLocal != 0 }

// Partitioner returns the partitioner of a HOP.
func (e *Effect) Partitioner() Partitioner { return Partitioner(e.Flags) }

// LogLevel returns the level of a LOG.
func (e *Effect) LogLevel() LogLevel { return LogLevel(e.Flags) }

// Outcome returns the outcome of an OUTCOME.
func (e *Effect) Outcome() Outcome { return Outcome(e.Flags) }

// Aggregator returns the aggregator of an AGGREGATE.
func (e *Effect) Aggregator() Aggregator { return Aggregator(e.Flags) }

// NewAggregate returns an AGGREGATE (1.1) of v with agg into the PState
// target (or [QueryResultTarget]) at the key path keys. Use
// [NewAggregateTopN] for AggTopN.
func NewAggregate(item uint32, target uint16, agg Aggregator, keys []Value, v Value) Effect {
	return Effect{Op: EffectAggregate, Flags: uint8(agg), Target: target, Item: item, Key: List(keys...), Value: v}
}

// NewAggregateTopN returns an AGGREGATE (1.1) with AggTopN of the pair
// [score, id] into a list of at most n pairs at the key path keys.
func NewAggregateTopN(item uint32, target uint16, keys []Value, score, id Value, n int64) Effect {
	return Effect{Op: EffectAggregate, Flags: uint8(AggTopN), Target: target, Item: item, Key: List(keys...),
		Value: List(score, id), N: n}
}

// NewAppend returns an APPEND of record to depot for item.
func NewAppend(item uint32, depot uint16, ack AckLevel, local bool, record Value) Effect {
	f := uint8(ack) & AppendAckMask
	if local {
		f |= AppendLocal
	}
	return Effect{Op: EffectAppend, Flags: f, Target: depot, Item: item, Value: record}
}

// NewHopHash returns a HOP that runs stage with payload on the partition
// that owns key.
func NewHopHash(item uint32, stage uint16, key, payload Value) Effect {
	return Effect{Op: EffectHop, Flags: uint8(PartitionHash), Target: stage, Item: item, Key: key, Value: payload}
}

// NewHopDirect returns a HOP that runs stage with payload on partition.
func NewHopDirect(item uint32, stage uint16, partition uint32, payload Value) Effect {
	return Effect{Op: EffectHop, Flags: uint8(PartitionDirect), Target: stage, Item: item, Partition: partition, Value: payload}
}

// NewHop returns a HOP with a partitioner that takes no argument (ALL,
// GLOBAL, ORIGIN or SHUFFLE).
func NewHop(item uint32, stage uint16, p Partitioner, payload Value) Effect {
	return Effect{Op: EffectHop, Flags: uint8(p), Target: stage, Item: item, Value: payload}
}

// NewTransform returns a TRANSFORM of the local partition of pstate.
func NewTransform(item uint32, pstate uint16, path Path) Effect {
	return Effect{Op: EffectTransform, Target: pstate, Item: item, Value: path.Value()}
}

// NewEmit returns an EMIT of v on stream (EmitAckReturn).
func NewEmit(item uint32, stream uint16, v Value) Effect {
	return Effect{Op: EffectEmit, Target: stream, Item: item, Value: v}
}

// NewLog returns a LOG of text at level, for item or NoItem.
func NewLog(item uint32, level LogLevel, text string) Effect {
	return Effect{Op: EffectLog, Flags: uint8(level), Item: item, Text: text}
}

// NewOutcome returns the OUTCOME of item; d is ignored for OutcomeOK.
func NewOutcome(item uint32, o Outcome, d ErrorDetail) Effect {
	if o == OutcomeOK {
		d = ErrorDetail{}
	}
	return Effect{Op: EffectOutcome, Flags: uint8(o), Item: item, Detail: d}
}

// NewDefine returns the DEFINE effect carrying a module definition.
func NewDefine(def Value) Effect {
	return Effect{Op: EffectDefine, Item: NoItem, Value: def}
}

// NewError returns the ERROR effect of a failed call; item is the item
// being processed when the call failed, or NoItem.
func NewError(item uint32, d ErrorDetail) Effect {
	return Effect{Op: EffectError, Item: item, Detail: d}
}

// check reports what is wrong with the header fields of an effect. Offsets
// are relative to the effect header.
func (e *Effect) check() *itemProblem {
	needItem := func() *itemProblem {
		if e.Item == NoItem {
			return &itemProblem{ErrSequence, e.Op.String() + " needs an item index, not NoItem (0xFFFFFFFF)", 8}
		}
		return nil
	}
	zeroFlags := func() *itemProblem {
		if e.Flags != 0 {
			return &itemProblem{ErrReserved, e.Op.String() + " flags are reserved, got 0x" + strconv.FormatUint(uint64(e.Flags), 16), 5}
		}
		return nil
	}
	zeroTarget := func() *itemProblem {
		if e.Target != 0 {
			return &itemProblem{ErrReserved, e.Op.String() + " target is reserved, got " + strconv.Itoa(int(e.Target)), 6}
		}
		return nil
	}
	first := func(ps ...*itemProblem) *itemProblem {
		for _, p := range ps {
			if p != nil {
				return p
			}
		}
		return nil
	}
	switch e.Op {
	case EffectAppend:
		if e.Flags&^(AppendAckMask|AppendLocal) != 0 {
			return &itemProblem{ErrReserved, "APPEND flags 0x" + strconv.FormatUint(uint64(e.Flags), 16) + " set reserved bits", 5}
		}
		if e.AckLevel() > AckAck {
			return &itemProblem{ErrUnknownCode, "APPEND ack level 3 is undefined; use 0 (NONE), 1 (APPEND_ACK) or 2 (ACK)", 5}
		}
		return needItem()
	case EffectHop:
		if p := e.Partitioner(); p < PartitionHash || p > PartitionDirect {
			return &itemProblem{ErrUnknownCode, "unknown HOP partitioner " + strconv.Itoa(int(p)) + "; use 1 (HASH) to 6 (DIRECT)", 5}
		}
		return needItem()
	case EffectTransform:
		return first(zeroFlags(), needItem())
	case EffectEmit:
		return first(zeroFlags(), needItem())
	case EffectLog:
		if e.LogLevel() > LogError {
			return &itemProblem{ErrUnknownCode, "unknown LOG level " + strconv.Itoa(int(e.Flags)) + "; use 0 (DEBUG) to 3 (ERROR)", 5}
		}
		return zeroTarget()
	case EffectOutcome:
		if e.Outcome() > OutcomeRetry {
			return &itemProblem{ErrUnknownCode, "unknown outcome " + strconv.Itoa(int(e.Flags)) + "; use 0 (OK), 1 (POISON) or 2 (RETRY)", 5}
		}
		return first(zeroTarget(), needItem())
	case EffectDefine:
		if p := first(zeroFlags(), zeroTarget()); p != nil {
			return p
		}
		if e.Item != NoItem {
			return &itemProblem{ErrSequence, "DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not " + strconv.FormatUint(uint64(e.Item), 10), 8}
		}
		return nil
	case EffectError:
		return first(zeroFlags(), zeroTarget())
	case EffectAggregate:
		if a := e.Aggregator(); a < AggCount || a > AggTopN {
			return &itemProblem{ErrUnknownCode, "unknown aggregator " + strconv.Itoa(int(a)) + "; use 1 (COUNT) to 8 (TOP_N)", 5}
		}
		return needItem()
	}
	return &itemProblem{ErrUnknownCode, "unknown effect op " + strconv.Itoa(int(e.Op)) + "; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)", 4}
}

// EffectsFrame is the frame a guest passes to flush (ABI.md §6.3).
type EffectsFrame struct {
	Effects []Effect
}

// AppendEffectsHeader appends the header of an effects frame declaring
// count effects. A guest that streams effects into a buffer may write the
// header with count 0 and patch the u32 at bytes 4-7 before flushing.
func AppendEffectsHeader(dst []byte, count uint32) []byte {
	return appendFrameHeader(dst, FrameEffects, 0, int(count))
}

// AppendEffect appends the encoding of one effect (header and body) to dst.
// On error it returns dst unchanged and a [*FrameError] whose Index is -1.
func AppendEffect(dst []byte, e *Effect) ([]byte, error) {
	return appendEffect(dst, -1, e)
}

func appendEffect(dst []byte, index int, e *Effect) ([]byte, error) {
	if p := e.check(); p != nil {
		return dst, encodeFail(FrameEffects, index, p.Err, nil, p.Msg)
	}
	b := appendU32(dst, 0)
	b = append(b, byte(e.Op), e.Flags)
	b = appendU16(b, e.Target)
	b = appendU32(b, e.Item)
	bodyAt := len(b)
	var err error
	switch e.Op {
	case EffectAppend:
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "APPEND record")
	case EffectHop:
		switch e.Partitioner() {
		case PartitionHash:
			if b, err = appendFrameValue(b, FrameEffects, index, e.Key, "HOP key"); err != nil {
				return dst, err
			}
		case PartitionDirect:
			b = appendU32(b, e.Partition)
		}
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "HOP payload")
	case EffectTransform:
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "TRANSFORM path")
	case EffectEmit:
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "EMIT value")
	case EffectLog:
		b = append(b, e.Text...)
	case EffectOutcome:
		if e.Outcome() != OutcomeOK {
			b, err = appendFrameValue(b, FrameEffects, index, e.Detail.Value(), "OUTCOME error detail")
		}
	case EffectDefine:
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "DEFINE definition")
	case EffectError:
		b, err = appendFrameValue(b, FrameEffects, index, e.Detail.Value(), "ERROR detail")
	case EffectAggregate:
		if e.Key.Kind() != KindList {
			return dst, encodeFail(FrameEffects, index, ErrBadValue, nil, "AGGREGATE key path must be a list, not "+e.Key.Kind().String())
		}
		if b, err = appendFrameValue(b, FrameEffects, index, e.Key, "AGGREGATE key path"); err != nil {
			return dst, err
		}
		b, err = appendFrameValue(b, FrameEffects, index, e.Value, "AGGREGATE value")
		if err == nil && e.Aggregator() == AggTopN {
			b, err = appendFrameValue(b, FrameEffects, index, Int(e.N), "AGGREGATE n")
		}
	}
	if err != nil {
		return dst, err
	}
	if b, err = patchLen(b, FrameEffects, index, bodyAt-EffectHeaderSize, bodyAt); err != nil {
		return dst, err
	}
	return b, nil
}

// Append appends the encoding of f to dst. It fails with a [*FrameError]
// when an effect is invalid or the frame would exceed [MaxEffectsFrame].
func (f *EffectsFrame) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	if uint64(len(f.Effects)) > math.MaxUint32 {
		return dst, encodeFail(FrameEffects, -1, ErrTooLarge, nil, "too many effects")
	}
	b := AppendEffectsHeader(dst, uint32(len(f.Effects)))
	for i := range f.Effects {
		var err error
		if b, err = appendEffect(b, i, &f.Effects[i]); err != nil {
			return dst, err
		}
	}
	if err := checkFrameSize(b, start, FrameEffects, MaxEffectsFrame); err != nil {
		return dst, err
	}
	return b, nil
}

// DecodeEffects decodes an effects frame. It checks the frame's structure:
// lengths, opcodes, flags, reserved fields, item indexes that must or must
// not be NoItem, and that every MessagePack value is well formed. It does
// not check indexes against a module definition, paths against schemas,
// or the order of items across frames ([CallCheck] does that).
func DecodeEffects(b []byte) (*EffectsFrame, error) {
	r := frameReader{b: b, kind: FrameEffects}
	if err := r.header(EffectsHeaderSize, MaxEffectsFrame); err != nil {
		return nil, err
	}
	if fl := r.u16(2); fl != 0 {
		return nil, r.fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
	}
	n, ferr := r.count(EffectsHeaderSize, EffectHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	f := &EffectsFrame{}
	if n > 0 {
		f.Effects = make([]Effect, n)
	}
	p := EffectsHeaderSize
	for i := range f.Effects {
		if err := r.need(i, p, EffectHeaderSize, "effect header"); err != nil {
			return nil, err
		}
		e := &f.Effects[i]
		size := r.u32(p)
		e.Op = EffectOp(r.u8(p + 4))
		e.Flags = r.u8(p + 5)
		e.Target = r.u16(p + 6)
		e.Item = r.u32(p + 8)
		if prob := e.check(); prob != nil {
			return nil, r.fail(i, p+prob.Off, prob.Err, prob.Msg)
		}
		bodyAt := p + EffectHeaderSize
		body, err := r.body(i, bodyAt, size)
		if err != nil {
			return nil, err
		}
		if err := r.effectBody(i, bodyAt, body, e); err != nil {
			return nil, err
		}
		p = bodyAt + len(body)
	}
	if p != len(b) {
		return nil, r.fail(-1, p, ErrTrailing, strconv.Itoa(len(b)-p)+" bytes after the last effect")
	}
	return f, nil
}

// effectBody decodes the body of effect i, which starts at off.
func (r *frameReader) effectBody(i, off int, body []byte, e *Effect) *FrameError {
	var err *FrameError
	one := func(what string) {
		e.Value, err = r.value(i, off, body, what)
	}
	switch e.Op {
	case EffectAppend:
		one("APPEND record")
	case EffectHop:
		rest, restAt := body, off
		switch e.Partitioner() {
		case PartitionHash:
			var n int
			if e.Key, n, err = r.valuePrefix(i, off, body, "HOP key"); err != nil {
				return err
			}
			rest, restAt = body[n:], off+n
		case PartitionDirect:
			if len(body) < 4 {
				return r.fail(i, off, ErrTruncated, "DIRECT HOP body starts with a u32 partition; it has "+strconv.Itoa(len(body))+" bytes")
			}
			e.Partition = binary.LittleEndian.Uint32(body)
			rest, restAt = body[4:], off+4
		}
		e.Value, err = r.value(i, restAt, rest, "HOP payload")
	case EffectTransform:
		one("TRANSFORM path")
	case EffectEmit:
		one("EMIT value")
	case EffectLog:
		e.Text = string(body)
	case EffectOutcome:
		if e.Outcome() == OutcomeOK {
			if len(body) != 0 {
				return r.fail(i, off, ErrTrailing, "an OK OUTCOME has an empty body, not "+strconv.Itoa(len(body))+" bytes")
			}
			return nil
		}
		err = r.detail(i, off, body, e, "OUTCOME error detail")
	case EffectDefine:
		one("DEFINE definition")
	case EffectError:
		err = r.detail(i, off, body, e, "ERROR detail")
	case EffectAggregate:
		var n int
		if e.Key, n, err = r.valuePrefix(i, off, body, "AGGREGATE key path"); err != nil {
			return err
		}
		if e.Key.Kind() != KindList {
			return r.fail(i, off, ErrBadValue, "AGGREGATE key path must be a list, not "+e.Key.Kind().String())
		}
		if e.Aggregator() != AggTopN {
			e.Value, err = r.value(i, off+n, body[n:], "AGGREGATE value")
			return err
		}
		var m int
		if e.Value, m, err = r.valuePrefix(i, off+n, body[n:], "AGGREGATE value"); err != nil {
			return err
		}
		var nv Value
		at := off + n + m
		if nv, err = r.value(i, at, body[n+m:], "AGGREGATE n"); err != nil {
			return err
		}
		var ok bool
		if e.N, ok = nv.AsInt(); !ok {
			return r.fail(i, at, ErrBadValue, "AGGREGATE n of TOP_N must be an int, not "+nv.Kind().String())
		}
	}
	return err
}

func (r *frameReader) detail(i, off int, body []byte, e *Effect, what string) *FrameError {
	v, err := r.value(i, off, body, what)
	if err != nil {
		return err
	}
	d, msg := parseErrorDetail(v)
	if msg != "" {
		return r.fail(i, off, ErrBadValue, what+": "+msg)
	}
	e.Detail = d
	return nil
}

// Rejection describes an effect the host refused while applying a flush
// (ABI.md §7.1). flush returns how many it refused; take returns the list
// as a MessagePack list of maps {"effect", "item", "code", "message"}.
type Rejection struct {
	// Effect is the index of the effect in its frame.
	Effect int
	// Item is the item of the effect; the host made it POISON.
	Item uint32
	// Code says why: EBADID, EWRONGPART, EPATH, ESCHEMA, EQUOTA, ...
	Code Errno
	// Message says what to fix.
	Message string
}

// RejectionsValue returns the list form of rs that take returns.
func RejectionsValue(rs []Rejection) Value {
	items := make([]Value, len(rs))
	for i, r := range rs {
		items[i] = Map(
			MapEntry{String("effect"), Int(int64(r.Effect))},
			MapEntry{String("item"), Int(int64(r.Item))},
			MapEntry{String("code"), Int(int64(r.Code))},
			MapEntry{String("message"), String(r.Message)},
		)
	}
	return List(items...)
}

// ParseRejections reads the list form of rejections.
func ParseRejections(v Value) ([]Rejection, error) {
	fail := func(msg string) ([]Rejection, error) {
		return nil, &FrameError{Frame: FrameResponse, Index: -1, Offset: -1, Err: ErrBadValue, Msg: "rejections: " + msg}
	}
	if v.Kind() != KindList {
		return fail("a list, not " + v.Kind().String())
	}
	out := make([]Rejection, 0, v.Len())
	for i, it := range v.Items() {
		at := "[" + strconv.Itoa(i) + "]"
		if it.Kind() != KindMap || it.Len() != 4 {
			return fail(at + " is a map of effect, item, code and message")
		}
		eff, ok1 := mustInt(it, "effect")
		item, ok2 := mustInt(it, "item")
		code, ok3 := mustInt(it, "code")
		mv, _ := it.Get(String("message"))
		msg, ok4 := mv.AsString()
		if !ok1 || !ok2 || !ok3 || !ok4 || eff < 0 || eff > math.MaxInt32 || item < 0 || item > math.MaxUint32 ||
			code >= 0 || code < math.MinInt32 {
			return fail(at + " needs int effect >= 0, int item, negative int code and string message")
		}
		out = append(out, Rejection{Effect: int(eff), Item: uint32(item), Code: Errno(code), Message: msg})
	}
	return out, nil
}

func mustInt(m Value, key string) (int64, bool) {
	v, ok := m.Get(String(key))
	if !ok {
		return 0, false
	}
	return v.AsInt()
}

// CallCheck enforces, across the flushes of one export call, the rules of
// ABI.md §6.4 that a single frame cannot show: which ops a call may flush,
// that items are processed in order with exactly one OUTCOME each, and
// that squall_init defines the module exactly once. The host feeds it
// every decoded frame and the call's status; the Go SDK's test harness
// does the same.
type CallCheck struct {
	init    bool
	items   uint32
	next    uint32 // the item being processed: every item before it has its OUTCOME
	defined bool
	failed  bool
}

// NewInitCheck returns the checker of a squall_init call.
func NewInitCheck() *CallCheck { return &CallCheck{init: true} }

// NewProcessCheck returns the checker of a squall_process call of a batch
// of items items.
func NewProcessCheck(items uint32) *CallCheck { return &CallCheck{items: items} }

// Failed reports whether an ERROR effect was flushed: the call failed
// whatever status it returns.
func (c *CallCheck) Failed() bool { return c.failed }

// Next returns the index of the item being processed: every item before it
// has its OUTCOME.
func (c *CallCheck) Next() uint32 { return c.next }

func seqFail(i int, msg string) *FrameError {
	return &FrameError{Frame: FrameEffects, Index: i, Offset: -1, Err: ErrSequence, Msg: msg}
}

// Frame checks the effects of one flushed frame in order. It accepts the
// whole frame or, on the first violation, none of it (the checker's state
// is unchanged) and returns a [*FrameError] with Err ErrSequence.
func (c *CallCheck) Frame(f *EffectsFrame) error {
	next, defined, failed := c.next, c.defined, c.failed
	for i := range f.Effects {
		e := &f.Effects[i]
		if c.init {
			switch e.Op {
			case EffectDefine:
				if defined {
					return seqFail(i, "a second DEFINE; squall_init flushes the definition once")
				}
				defined = true
			case EffectLog, EffectError:
				if e.Item != NoItem {
					return seqFail(i, e.Op.String()+" during squall_init belongs to no item; its item must be NoItem")
				}
				failed = failed || e.Op == EffectError
			default:
				return seqFail(i, e.Op.String()+" is not allowed in squall_init; only DEFINE, LOG and ERROR are")
			}
			continue
		}
		switch e.Op {
		case EffectDefine:
			return seqFail(i, "DEFINE is allowed only in squall_init")
		case EffectLog, EffectError:
			if e.Item != NoItem && e.Item >= c.items {
				return seqFail(i, e.Op.String()+" names item "+strconv.FormatUint(uint64(e.Item), 10)+
					"; the batch has "+strconv.FormatUint(uint64(c.items), 10)+" items")
			}
			failed = failed || e.Op == EffectError
			continue
		}
		switch {
		case e.Item >= c.items:
			return seqFail(i, e.Op.String()+" names item "+strconv.FormatUint(uint64(e.Item), 10)+
				"; the batch has "+strconv.FormatUint(uint64(c.items), 10)+" items")
		case e.Item < next:
			return seqFail(i, e.Op.String()+" for item "+strconv.FormatUint(uint64(e.Item), 10)+
				" after that item's OUTCOME")
		case e.Item > next:
			return seqFail(i, e.Op.String()+" for item "+strconv.FormatUint(uint64(e.Item), 10)+
				" before the OUTCOME of item "+strconv.FormatUint(uint64(next), 10)+"; items are processed in order")
		}
		if e.Op == EffectOutcome {
			next++
		}
	}
	c.next, c.defined, c.failed = next, defined, failed
	return nil
}

// End checks the call as it returns status. For a successful status it
// requires the definition (init) or an OUTCOME for every item (process).
// A nil result with a failed status (or Failed) still means the call
// failed; End only reports protocol violations.
func (c *CallCheck) End(status CallStatus) error {
	if status != StatusOK || c.failed {
		return nil
	}
	if c.init {
		if !c.defined {
			return seqFail(-1, "squall_init returned OK without flushing a DEFINE")
		}
		return nil
	}
	if c.next != c.items {
		return seqFail(-1, "squall_process returned OK but items "+strconv.FormatUint(uint64(c.next), 10)+
			" to "+strconv.FormatUint(uint64(c.items)-1, 10)+" have no OUTCOME")
	}
	return nil
}
