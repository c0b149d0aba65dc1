package squalltest

import (
	"bytes"
	"errors"
	"strconv"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// The host's side of the ABI frames, as the fake host needs them: it
// encodes init, batch and response frames, and decodes the effects and
// query frames the guest flushes, as strictly as the real host (ABI.md
// §6.7) and more: every value the guest writes must be canonical.

// appendInit encodes an init frame; the harness speaks ABI 1.1 (hostMinor
// 1).
func appendInit(b []byte, flags, hostMinor uint16, tasks uint32, timeUnixNano int64, seed uint64) []byte {
	b = append(b, wire.Version, wire.KindInit)
	b = wire.AppendU16(b, flags)
	b = wire.AppendU16(b, 1) // host major
	b = wire.AppendU16(b, hostMinor)
	b = wire.AppendU32(b, tasks)
	b = wire.AppendU32(b, 0)
	b = wire.AppendU64(b, uint64(timeUnixNano))
	return wire.AppendU64(b, seed)
}

type batchHeader struct {
	flags        uint16 // wire.BatchQuery for a query invocation
	batchID      uint64
	partition    uint32
	attempt      uint32
	topology     uint16
	timeUnixNano int64
	seed         uint64
}

type batchItem struct {
	kind              uint8
	stage             uint16
	depot             uint16
	attempt           uint16
	sourcePartition   uint32
	offset            uint64
	eventTimeUnixNano int64
	payload           []byte
}

func appendBatch(b []byte, h batchHeader, items []batchItem) []byte {
	b = wire.AppendHeader(b, wire.KindBatch, uint32(len(items)))
	wire.PutU16(b[len(b)-6:], h.flags)
	b = wire.AppendU64(b, h.batchID)
	b = wire.AppendU32(b, h.partition)
	b = wire.AppendU32(b, h.attempt)
	b = wire.AppendU16(b, h.topology)
	b = wire.AppendU16(b, 0)
	b = wire.AppendU32(b, 0)
	b = wire.AppendU64(b, uint64(h.timeUnixNano))
	b = wire.AppendU64(b, h.seed)
	for _, it := range items {
		b = wire.AppendU32(b, uint32(len(it.payload)))
		b = append(b, it.kind, 0)
		b = wire.AppendU16(b, it.stage)
		b = wire.AppendU16(b, it.depot)
		b = wire.AppendU16(b, it.attempt)
		b = wire.AppendU32(b, it.sourcePartition)
		b = wire.AppendU64(b, it.offset)
		b = wire.AppendU64(b, uint64(it.eventTimeUnixNano))
		b = append(b, it.payload...)
	}
	return b
}

type result struct {
	status  int32
	value   squall.Value
	message string
}

func appendResponse(b []byte, rs []result) ([]byte, error) {
	b = wire.AppendHeader(b, wire.KindResponse, uint32(len(rs)))
	for _, r := range rs {
		at := len(b)
		b = wire.AppendU32(b, 0)
		b = wire.AppendU32(b, uint32(r.status))
		switch {
		case r.status == wire.ResultOK:
			var err error
			if b, err = squall.AppendEncode(b, r.value); err != nil {
				return nil, err
			}
		case r.status < 0:
			b = append(b, r.message...)
		}
		wire.PutU32(b[at:], uint32(len(b)-at-wire.ResultHeaderSize))
	}
	return b, nil
}

// detail is an error detail: the body of ERROR and failed OUTCOMEs.
type detail struct {
	Kind, Message, Stack string
}

// effect is one decoded effect.
type effect struct {
	op, flags uint8
	target    uint16
	item      uint32
	key       squall.Value // HASH hop
	partition uint32       // DIRECT hop
	value     squall.Value // record, payload, path, emitted value, definition, aggregated value
	n         int64        // TOP_N bound of AGGREGATE
	raw       []byte       // DEFINE body
	text      string       // LOG
	detail    detail
}

// decodeEffects decodes an effects frame. canonical makes it refuse
// values that are not in canonical form.
func decodeEffects(b []byte, canonical bool) ([]effect, error) {
	r := wire.Reader{B: b, Kind: wire.KindEffects}
	if err := r.Header(wire.EffectsHeaderSize, wire.MaxEffectsFrame); err != nil {
		return nil, err
	}
	if err := r.Flags(); err != nil {
		return nil, err
	}
	n, ferr := r.Count(wire.EffectsHeaderSize, wire.EffectHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	out := make([]effect, n)
	p := wire.EffectsHeaderSize
	for i := range out {
		if err := r.Need(i, p, wire.EffectHeaderSize, "effect header"); err != nil {
			return nil, err
		}
		e := &out[i]
		size := r.U32(p)
		e.op, e.flags, e.target, e.item = r.U8(p+4), r.U8(p+5), r.U16(p+6), r.U32(p+8)
		if err := checkEffectHeader(&r, i, p, e); err != nil {
			return nil, err
		}
		at := p + wire.EffectHeaderSize
		body, err := r.Body(i, at, wire.EffectHeaderSize, size)
		if err != nil {
			return nil, err
		}
		if err := effectBody(&r, i, at, body, e, canonical); err != nil {
			return nil, err
		}
		p = at + len(body)
	}
	if err := r.Trailing(p); err != nil {
		return nil, err
	}
	return out, nil
}

func checkEffectHeader(r *wire.Reader, i, p int, e *effect) *wire.FrameError {
	name := "effect_op(" + strconv.Itoa(int(e.op)) + ")"
	if e.op >= wire.OpAppend && e.op <= wire.OpAggregate {
		name = wire.OpNames[e.op]
	}
	needItem := func() *wire.FrameError {
		if e.item == wire.NoItem {
			return r.Fail(i, p+8, wire.ErrSequence, name+" needs an item index, not NoItem (0xFFFFFFFF)")
		}
		return nil
	}
	zeroFlags := func() *wire.FrameError {
		if e.flags != 0 {
			return r.Fail(i, p+5, wire.ErrReserved, name+" flags are reserved, got 0x"+strconv.FormatUint(uint64(e.flags), 16))
		}
		return nil
	}
	zeroTarget := func() *wire.FrameError {
		if e.target != 0 {
			return r.Fail(i, p+6, wire.ErrReserved, name+" target is reserved, got "+strconv.Itoa(int(e.target)))
		}
		return nil
	}
	first := func(es ...*wire.FrameError) *wire.FrameError {
		for _, e := range es {
			if e != nil {
				return e
			}
		}
		return nil
	}
	switch e.op {
	case wire.OpAppend:
		if e.flags&^(wire.AckMask|wire.AppendLocal) != 0 {
			return r.Fail(i, p+5, wire.ErrReserved, "APPEND flags 0x"+strconv.FormatUint(uint64(e.flags), 16)+" set reserved bits")
		}
		if e.flags&wire.AckMask == 3 {
			return r.Fail(i, p+5, wire.ErrUnknownCode, "APPEND ack level 3 is undefined; use 0 (NONE), 1 (APPEND_ACK) or 2 (ACK)")
		}
		return needItem()
	case wire.OpHop:
		if e.flags < wire.HopHash || e.flags > wire.HopDirect {
			return r.Fail(i, p+5, wire.ErrUnknownCode, "unknown HOP partitioner "+strconv.Itoa(int(e.flags))+"; use 1 (HASH) to 6 (DIRECT)")
		}
		return needItem()
	case wire.OpTransform, wire.OpEmit:
		return first(zeroFlags(), needItem())
	case wire.OpLog:
		if e.flags > 3 {
			return r.Fail(i, p+5, wire.ErrUnknownCode, "unknown LOG level "+strconv.Itoa(int(e.flags))+"; use 0 (DEBUG) to 3 (ERROR)")
		}
		return zeroTarget()
	case wire.OpOutcome:
		if e.flags > wire.OutcomeRetry {
			return r.Fail(i, p+5, wire.ErrUnknownCode, "unknown outcome "+strconv.Itoa(int(e.flags))+"; use 0 (OK), 1 (POISON) or 2 (RETRY)")
		}
		return first(zeroTarget(), needItem())
	case wire.OpDefine:
		if err := first(zeroFlags(), zeroTarget()); err != nil {
			return err
		}
		if e.item != wire.NoItem {
			return r.Fail(i, p+8, wire.ErrSequence, "DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not "+strconv.FormatUint(uint64(e.item), 10))
		}
		return nil
	case wire.OpError:
		return first(zeroFlags(), zeroTarget())
	case wire.OpAggregate:
		if e.flags < wire.AggCount || e.flags > wire.AggTopN {
			return r.Fail(i, p+5, wire.ErrUnknownCode, "unknown aggregator "+strconv.Itoa(int(e.flags))+"; use 1 (COUNT) to 8 (TOP_N)")
		}
		return needItem()
	}
	return r.Fail(i, p+4, wire.ErrUnknownCode, "unknown effect op "+strconv.Itoa(int(e.op))+"; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)")
}

// value decodes one value spanning body, which starts at off.
func value(r *wire.Reader, i, off int, body []byte, what string, canonical bool) (squall.Value, *wire.FrameError) {
	v, n, err := squall.DecodePrefix(body)
	if err == nil && n != len(body) {
		_, err = squall.Decode(body)
	}
	if err != nil {
		var de *squall.DecodeError
		at := off
		if errors.As(err, &de) {
			at += de.Offset
		}
		return v, r.Fail(i, at, wire.ErrBadValue, what+": "+err.Error())
	}
	if canonical {
		if enc, _ := squall.Encode(v); !bytes.Equal(enc, body) {
			return v, r.Fail(i, off, wire.ErrBadValue, what+": not in canonical form: "+v.String())
		}
	}
	return v, nil
}

func effectBody(r *wire.Reader, i, off int, body []byte, e *effect, canonical bool) *wire.FrameError {
	var err *wire.FrameError
	switch e.op {
	case wire.OpAppend:
		e.value, err = value(r, i, off, body, "APPEND record", canonical)
	case wire.OpHop:
		rest, at := body, off
		switch e.flags {
		case wire.HopHash:
			k, n, derr := squall.DecodePrefix(body)
			if derr != nil {
				var de *squall.DecodeError
				pos := off
				if errors.As(derr, &de) {
					pos += de.Offset
				}
				return r.Fail(i, pos, wire.ErrBadValue, "HOP key: "+derr.Error())
			}
			if canonical {
				if enc, _ := squall.Encode(k); !bytes.Equal(enc, body[:n]) {
					return r.Fail(i, off, wire.ErrBadValue, "HOP key: not in canonical form: "+k.String())
				}
			}
			e.key, rest, at = k, body[n:], off+n
		case wire.HopDirect:
			if len(body) < 4 {
				return r.Fail(i, off, wire.ErrTruncated, "DIRECT HOP body starts with a u32 partition; it has "+strconv.Itoa(len(body))+" bytes")
			}
			e.partition = uint32(body[0]) | uint32(body[1])<<8 | uint32(body[2])<<16 | uint32(body[3])<<24
			rest, at = body[4:], off+4
		}
		e.value, err = value(r, i, at, rest, "HOP payload", canonical)
	case wire.OpTransform:
		e.value, err = value(r, i, off, body, "TRANSFORM path", canonical)
	case wire.OpEmit:
		e.value, err = value(r, i, off, body, "EMIT value", canonical)
	case wire.OpLog:
		e.text = string(body)
	case wire.OpOutcome:
		if e.flags == wire.OutcomeOK {
			if len(body) != 0 {
				return r.Fail(i, off, wire.ErrTrailing, "an OK OUTCOME has an empty body, not "+strconv.Itoa(len(body))+" bytes")
			}
			return nil
		}
		err = errorDetail(r, i, off, body, e, "OUTCOME error detail", canonical)
	case wire.OpDefine:
		e.value, err = value(r, i, off, body, "DEFINE definition", canonical)
		e.raw = body
	case wire.OpError:
		err = errorDetail(r, i, off, body, e, "ERROR detail", canonical)
	case wire.OpAggregate:
		var n int
		if e.key, n, err = prefixValue(r, i, off, body, "AGGREGATE key path", canonical); err != nil {
			return err
		}
		if e.key.Kind() != squall.KindList {
			return r.Fail(i, off, wire.ErrBadValue, "AGGREGATE key path must be a list, not "+e.key.Kind().String())
		}
		if e.flags != wire.AggTopN {
			e.value, err = value(r, i, off+n, body[n:], "AGGREGATE value", canonical)
			return err
		}
		var m int
		if e.value, m, err = prefixValue(r, i, off+n, body[n:], "AGGREGATE value", canonical); err != nil {
			return err
		}
		nv, ferr := value(r, i, off+n+m, body[n+m:], "AGGREGATE n", canonical)
		if ferr != nil {
			return ferr
		}
		var ok bool
		if e.n, ok = nv.AsInt(); !ok {
			return r.Fail(i, off+n+m, wire.ErrBadValue, "AGGREGATE n of TOP_N must be an int, not "+nv.Kind().String())
		}
	}
	return err
}

// prefixValue decodes one value at the front of body, which starts at off.
func prefixValue(r *wire.Reader, i, off int, body []byte, what string, canonical bool) (squall.Value, int, *wire.FrameError) {
	v, n, err := squall.DecodePrefix(body)
	if err != nil {
		var de *squall.DecodeError
		pos := off
		if errors.As(err, &de) {
			pos += de.Offset
		}
		return v, 0, r.Fail(i, pos, wire.ErrBadValue, what+": "+err.Error())
	}
	if canonical {
		if enc, _ := squall.Encode(v); !bytes.Equal(enc, body[:n]) {
			return v, 0, r.Fail(i, off, wire.ErrBadValue, what+": not in canonical form: "+v.String())
		}
	}
	return v, n, nil
}

func errorDetail(r *wire.Reader, i, off int, body []byte, e *effect, what string, canonical bool) *wire.FrameError {
	v, err := value(r, i, off, body, what, canonical)
	if err != nil {
		return err
	}
	if v.Kind() != squall.KindMap {
		return r.Fail(i, off, wire.ErrBadValue, what+": an error detail is a map, not "+v.Kind().String())
	}
	hasMsg := false
	for _, en := range v.Entries() {
		k, ok := en.Key.AsString()
		if !ok {
			return r.Fail(i, off, wire.ErrBadValue, what+": error detail keys are strings, not "+en.Key.Kind().String())
		}
		s, ok := en.Val.AsString()
		if !ok && (k == "kind" || k == "message" || k == "stack") {
			return r.Fail(i, off, wire.ErrBadValue, what+": error detail field "+strconv.Quote(k)+" must be a string, not "+en.Val.Kind().String())
		}
		switch k {
		case "kind":
			e.detail.Kind = s
		case "message":
			e.detail.Message, hasMsg = s, true
		case "stack":
			e.detail.Stack = s
		default:
			return r.Fail(i, off, wire.ErrBadValue, what+": unknown error detail field "+strconv.Quote(k)+"; the fields are \"kind\", \"message\" and \"stack\"")
		}
	}
	if !hasMsg {
		return r.Fail(i, off, wire.ErrBadValue, what+": error detail has no \"message\"")
	}
	return nil
}

type query struct {
	op     uint8
	pstate uint16
	path   squall.Value
}

func decodeQuery(b []byte, canonical bool) ([]query, error) {
	r := wire.Reader{B: b, Kind: wire.KindQuery}
	if err := r.Header(wire.QueryHeaderSize, wire.MaxQueryFrame); err != nil {
		return nil, err
	}
	if err := r.Flags(); err != nil {
		return nil, err
	}
	n, ferr := r.Count(wire.QueryHeaderSize, wire.QueryItemHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	out := make([]query, n)
	p := wire.QueryHeaderSize
	for i := range out {
		if err := r.Need(i, p, wire.QueryItemHeaderSize, "query header"); err != nil {
			return nil, err
		}
		q := &out[i]
		size := r.U32(p)
		q.op = r.U8(p + 4)
		if q.op < wire.QuerySelect || q.op > wire.QueryInvoke {
			return nil, r.Fail(i, p+4, wire.ErrUnknownCode, "unknown query op "+strconv.Itoa(int(q.op))+"; use 1 (SELECT), 2 (SELECT_ONE) or 3 (INVOKE)")
		}
		if fl := r.U8(p + 5); fl != 0 {
			return nil, r.Fail(i, p+5, wire.ErrReserved, "query flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
		}
		q.pstate = r.U16(p + 6)
		at := p + wire.QueryItemHeaderSize
		body, err := r.Body(i, at, wire.QueryItemHeaderSize, size)
		if err != nil {
			return nil, err
		}
		if q.path, err = value(&r, i, at, body, "path", canonical); err != nil {
			return nil, err
		}
		if q.op == wire.QueryInvoke && q.path.Kind() != squall.KindList {
			return nil, r.Fail(i, at, wire.ErrBadValue, "INVOKE arguments must be a list, not "+q.path.Kind().String())
		}
		p = at + len(body)
	}
	if err := r.Trailing(p); err != nil {
		return nil, err
	}
	return out, nil
}

// rejection is an effect the fake host refused (ABI.md §7.1).
type rejection struct {
	effect  int
	item    uint32
	code    int32
	message string
}

func rejectionsValue(rs []rejection) squall.Value {
	items := make([]squall.Value, len(rs))
	for i, r := range rs {
		e := func(k string, v squall.Value) squall.MapEntry { return squall.MapEntry{Key: squall.String(k), Val: v} }
		items[i] = squall.Map(e("effect", squall.Int(int64(r.effect))), e("item", squall.Int(int64(r.item))),
			e("code", squall.Int(int64(r.code))), e("message", squall.String(r.message)))
	}
	return squall.List(items...)
}

// callCheck enforces the order rules of ABI.md §6.4 across the flushes of
// one call.
type callCheck struct {
	init    bool
	items   uint32
	next    uint32
	defined bool
	failed  bool
}

func seqFail(i int, msg string) *wire.FrameError {
	return &wire.FrameError{Frame: wire.KindEffects, Index: i, Offset: -1, Err: wire.ErrSequence, Msg: msg}
}

// frame checks one frame; on a violation nothing of it is accepted.
func (c *callCheck) frame(es []effect) error {
	next, defined, failed := c.next, c.defined, c.failed
	u := func(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
	for i := range es {
		e := &es[i]
		name := wire.OpNames[e.op]
		if c.init {
			switch e.op {
			case wire.OpDefine:
				if defined {
					return seqFail(i, "a second DEFINE; squall_init flushes the definition once")
				}
				defined = true
			case wire.OpLog, wire.OpError:
				if e.item != wire.NoItem {
					return seqFail(i, name+" during squall_init belongs to no item; its item must be NoItem")
				}
				failed = failed || e.op == wire.OpError
			default:
				return seqFail(i, name+" is not allowed in squall_init; only DEFINE, LOG and ERROR are")
			}
			continue
		}
		switch e.op {
		case wire.OpDefine:
			return seqFail(i, "DEFINE is allowed only in squall_init")
		case wire.OpLog, wire.OpError:
			if e.item != wire.NoItem && e.item >= c.items {
				return seqFail(i, name+" names item "+u(e.item)+"; the batch has "+u(c.items)+" items")
			}
			failed = failed || e.op == wire.OpError
			continue
		}
		switch {
		case e.item >= c.items:
			return seqFail(i, name+" names item "+u(e.item)+"; the batch has "+u(c.items)+" items")
		case e.item < next:
			return seqFail(i, name+" for item "+u(e.item)+" after that item's OUTCOME")
		case e.item > next:
			return seqFail(i, name+" for item "+u(e.item)+" before the OUTCOME of item "+u(next)+"; items are processed in order")
		}
		if e.op == wire.OpOutcome {
			next++
		}
	}
	c.next, c.defined, c.failed = next, defined, failed
	return nil
}

// end checks the call as it returns status.
func (c *callCheck) end(status int32) error {
	if status != wire.StatusOK || c.failed {
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
