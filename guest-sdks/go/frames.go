package squall

import (
	"errors"
	"strconv"

	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// The guest's side of the ABI frames (ABI.md §6): it decodes the init,
// batch and response frames the host writes, and encodes the effects and
// query frames it hands to the host. Decoders check every length before
// using it and never panic.

// initFrame is the frame of squall_init (§6.1).
type initFrame struct {
	flags                uint16
	hostMajor, hostMinor uint16
	tasks                uint32
	timeUnixNano         int64
	seed                 uint64
}

func decodeInit(b []byte) (initFrame, error) {
	r := wire.Reader{B: b, Kind: wire.KindInit}
	if err := r.Header(wire.InitFrameSize, wire.InitFrameSize); err != nil {
		return initFrame{}, err
	}
	f := initFrame{
		flags:        r.U16(2),
		hostMajor:    r.U16(4),
		hostMinor:    r.U16(6),
		tasks:        r.U32(8),
		timeUnixNano: int64(r.U64(16)),
		seed:         r.U64(24),
	}
	if f.flags&^wire.InitDescribe != 0 {
		return initFrame{}, r.Fail(-1, 2, wire.ErrReserved, "flags 0x"+strconv.FormatUint(uint64(f.flags), 16)+" set reserved bits")
	}
	if v := r.U32(12); v != 0 {
		return initFrame{}, r.Fail(-1, 12, wire.ErrReserved, "reserved u32 is "+strconv.FormatUint(uint64(v), 10))
	}
	return f, nil
}

// batchFrame is the frame of squall_process (§6.2). Payloads alias the
// inbox, which the host does not touch during the call.
type batchFrame struct {
	query        bool // the BATCH_QUERY flag (1.1): topology indexes the queries
	batchID      uint64
	partition    uint32
	attempt      uint32
	topology     uint16
	timeUnixNano int64
	seed         uint64
	items        []batchItem
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

func decodeBatch(b []byte) (*batchFrame, error) {
	r := wire.Reader{B: b, Kind: wire.KindBatch}
	if err := r.Header(wire.BatchHeaderSize, wire.MaxBatchFrame); err != nil {
		return nil, err
	}
	n, ferr := r.Count(wire.BatchHeaderSize, wire.ItemHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	fl := r.U16(2)
	if fl&^wire.BatchQuery != 0 {
		return nil, r.Fail(-1, 2, wire.ErrReserved, "flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
	}
	query := fl&wire.BatchQuery != 0
	if v := r.U16(26); v != 0 {
		return nil, r.Fail(-1, 26, wire.ErrReserved, "reserved u16 is "+strconv.Itoa(int(v)))
	}
	if v := r.U32(28); v != 0 {
		return nil, r.Fail(-1, 28, wire.ErrReserved, "reserved u32 is "+strconv.FormatUint(uint64(v), 10))
	}
	f := &batchFrame{
		query:        query,
		batchID:      r.U64(8),
		partition:    r.U32(16),
		attempt:      r.U32(20),
		topology:     r.U16(24),
		timeUnixNano: int64(r.U64(32)),
		seed:         r.U64(40),
		items:        make([]batchItem, n),
	}
	p := wire.BatchHeaderSize
	for i := range f.items {
		if err := r.Need(i, p, wire.ItemHeaderSize, "item header"); err != nil {
			return nil, err
		}
		it := &f.items[i]
		size := r.U32(p)
		it.kind = r.U8(p + 4)
		if fl := r.U8(p + 5); fl != 0 {
			return nil, r.Fail(i, p+5, wire.ErrReserved, "item flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
		}
		it.stage = r.U16(p + 6)
		it.depot = r.U16(p + 8)
		it.attempt = r.U16(p + 10)
		it.sourcePartition = r.U32(p + 12)
		it.offset = r.U64(p + 16)
		it.eventTimeUnixNano = int64(r.U64(p + 24))
		switch it.kind {
		case wire.ItemRecord:
			if query {
				return nil, r.Fail(i, p+4, wire.ErrReserved, "a QUERY batch holds INVOKE and HOP items, not RECORD")
			}
			if it.depot == wire.NoDepot {
				return nil, r.Fail(i, p+8, wire.ErrReserved, "a RECORD item needs a depot index, not 0xFFFF")
			}
		case wire.ItemHop, wire.ItemInvoke:
			name := "HOP"
			if it.kind == wire.ItemInvoke {
				name = "INVOKE"
				switch {
				case !query:
					return nil, r.Fail(i, p+4, wire.ErrReserved, "an INVOKE item is allowed only in a QUERY batch")
				case i != 0:
					return nil, r.Fail(i, p+4, wire.ErrReserved, "an INVOKE item must be the first item of its batch")
				case it.stage != 0:
					return nil, r.Fail(i, p+6, wire.ErrReserved, "an INVOKE item runs the entry stage 0, not "+strconv.Itoa(int(it.stage)))
				}
			}
			if it.depot != wire.NoDepot {
				return nil, r.Fail(i, p+8, wire.ErrReserved, "a "+name+" item has depot 0xFFFF, not "+strconv.Itoa(int(it.depot)))
			}
			if it.offset != 0 {
				return nil, r.Fail(i, p+16, wire.ErrReserved, "a "+name+" item has offset 0, not "+strconv.FormatUint(it.offset, 10))
			}
		default:
			return nil, r.Fail(i, p+4, wire.ErrUnknownCode, "unknown item kind "+strconv.Itoa(int(it.kind))+"; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)")
		}
		if size == 0 {
			return nil, r.Fail(i, p, wire.ErrBadValue, "empty payload; a payload is one MessagePack value")
		}
		body, err := r.Body(i, p+wire.ItemHeaderSize, wire.ItemHeaderSize, size)
		if err != nil {
			return nil, err
		}
		it.payload = body
		p += wire.ItemHeaderSize + len(body)
	}
	if err := r.Trailing(p); err != nil {
		return nil, err
	}
	return f, nil
}

// result is one result of a response frame (§6.6).
type result struct {
	status  int32
	value   Value
	message string
}

func decodeResponse(b []byte) ([]result, error) {
	var one [1]result
	return decodeResponseInto(b, one[:0])
}

// decodeResponseInto is decodeResponse appending the results to out (the
// runtime's single query decodes into an array on its stack).
func decodeResponseInto(b []byte, out []result) ([]result, error) {
	r := wire.Reader{B: b, Kind: wire.KindResponse}
	if err := r.Header(wire.ResponseHeaderSize, wire.MaxResponseFrame); err != nil {
		return nil, err
	}
	if err := r.Flags(); err != nil {
		return nil, err
	}
	n, ferr := r.Count(wire.ResponseHeaderSize, wire.ResultHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	if uint64(n) > uint64(cap(out)) {
		out = make([]result, n)
	} else {
		out = out[:n]
	}
	p := wire.ResponseHeaderSize
	for i := range out {
		if err := r.Need(i, p, wire.ResultHeaderSize, "result header"); err != nil {
			return nil, err
		}
		res := &out[i]
		size := r.U32(p)
		res.status = int32(r.U32(p + 4))
		if res.status > wire.ResultNotFound {
			return nil, r.Fail(i, p+4, wire.ErrUnknownCode, "unknown result status "+strconv.Itoa(int(res.status))+
				"; use 0 (OK), 1 (NOT_FOUND) or a negative errno")
		}
		at := p + wire.ResultHeaderSize
		body, err := r.Body(i, at, wire.ResultHeaderSize, size)
		if err != nil {
			return nil, err
		}
		switch res.status {
		case wire.ResultOK:
			v, derr := Decode(body)
			if derr != nil {
				return nil, valueFail(&r, i, at, "result", derr)
			}
			res.value = v
		case wire.ResultNotFound:
			if len(body) != 0 {
				return nil, r.Fail(i, at, wire.ErrTrailing, "a NOT_FOUND result has an empty body, not "+strconv.Itoa(len(body))+" bytes")
			}
		default:
			res.message = string(body)
		}
		p = at + len(body)
	}
	if err := r.Trailing(p); err != nil {
		return nil, err
	}
	return out, nil
}

// valueFail reports a body at off that is not one MessagePack value.
func valueFail(r *wire.Reader, index, off int, what string, err error) *wire.FrameError {
	var de *DecodeError
	if errors.As(err, &de) {
		off += de.Offset
	}
	return r.Fail(index, off, wire.ErrBadValue, what+": "+err.Error())
}

// appendEffectHeader appends the 12-byte header of an effect with a size
// of 0, to patch once the body is written.
func appendEffectHeader(b []byte, op, flags uint8, target uint16, item uint32) []byte {
	b = wire.AppendU32(b, 0)
	b = append(b, op, flags)
	b = wire.AppendU16(b, target)
	return wire.AppendU32(b, item)
}

// errorDetail is the body of an ERROR effect and of a failed OUTCOME.
type errorDetail struct {
	kind, message, stack string
}

func (d errorDetail) value() Value {
	es := []MapEntry{{String("message"), String(validString(d.message))}}
	if d.kind != "" {
		es = append(es, MapEntry{String("kind"), String(validString(d.kind))})
	}
	if d.stack != "" {
		es = append(es, MapEntry{String("stack"), String(validString(d.stack))})
	}
	return Map(es...)
}

// validString replaces invalid UTF-8 (error messages may quote bytes).
func validString(s string) string {
	if invalidUTF8At([]byte(s)) == len(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r)
	}
	return string(out)
}

// appendQuery appends one query (§6.5) of a query frame.
func appendQuery(b []byte, op uint8, pstate uint16, path Path) ([]byte, error) {
	start := len(b)
	b = wire.AppendU32(b, 0)
	b = append(b, op, 0)
	b = wire.AppendU16(b, pstate)
	out, err := appendPath(b, path)
	if err != nil {
		return b[:start], err
	}
	wire.PutU32(out[start:], uint32(len(out)-start-wire.QueryItemHeaderSize))
	return out, nil
}

// appendInvoke appends one INVOKE query (ABI 1.1, §15.7) of a query frame:
// query q with the argument list args.
func appendInvoke(b []byte, q uint16, args Value) ([]byte, error) {
	start := len(b)
	b = wire.AppendU32(b, 0)
	b = append(b, wire.QueryInvoke, 0)
	b = wire.AppendU16(b, q)
	out, err := appendEncode(b, &args)
	if err != nil {
		return b[:start], err
	}
	wire.PutU32(out[start:], uint32(len(out)-start-wire.QueryItemHeaderSize))
	return out, nil
}
