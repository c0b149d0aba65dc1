package abi

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// Frames are the byte messages of the guest ABI (ABI.md §6): fixed
// little-endian headers for control data, canonical MessagePack for user
// data. Every frame starts with the same two bytes, the version
// ([FrameVersion]) and the kind ([FrameKind]).
//
// The decoders in this package take untrusted bytes: they check every
// length against the input before using or allocating it, never panic, and
// report the first problem as a [*FrameError] naming the frame, the index of
// the item (effect, query, result) and the byte offset. Decoded frames may
// alias the input (raw payloads and strings are copied, byte slices are
// not): do not modify the input while using them.

// Categories of [*FrameError]; test with errors.Is.
var (
	// ErrTruncated: the frame ends before a header or body it declares.
	ErrTruncated = errors.New("truncated")
	// ErrFrameVersion: the version byte is not [FrameVersion].
	ErrFrameVersion = errors.New("unsupported frame version")
	// ErrFrameKind: the kind byte is not the kind expected.
	ErrFrameKind = errors.New("wrong frame kind")
	// ErrReserved: a reserved field, flag bit or unused field is not zero.
	ErrReserved = errors.New("reserved field not zero")
	// ErrUnknownCode: an opcode, item kind, partitioner, level, outcome or
	// status that the ABI (up to [Minor]) does not define.
	ErrUnknownCode = errors.New("unknown code")
	// ErrTooLarge: the frame, or a length or count in it, exceeds a limit.
	ErrTooLarge = errors.New("too large")
	// ErrTrailing: bytes follow the last unit of a frame or a body's
	// contents.
	ErrTrailing = errors.New("trailing bytes")
	// ErrBadValue: a MessagePack value is malformed or not of the shape the
	// field requires.
	ErrBadValue = errors.New("bad value")
	// ErrSequence: effects out of the order of ABI.md §6.4, or an effect not
	// allowed in the current call.
	ErrSequence = errors.New("out of sequence")
)

// FrameError reports a frame that does not follow the ABI.
type FrameError struct {
	// Frame is the kind of frame being decoded or encoded.
	Frame FrameKind
	// Index is the index of the batch item, effect, query or result at
	// fault, or -1 for the frame header.
	Index int
	// Offset is the byte offset in the frame of the field at fault, or -1
	// when not known (encoding, sequence checks).
	Offset int
	// Err is the category: one of the Err* variables of this package.
	Err error
	// Cause is the underlying error, when there is one: a [*DecodeError],
	// [*EncodeError] or [*DefError].
	Cause error
	// Msg says what is wrong.
	Msg string
}

// unitNames name the units of each frame kind in messages.
var unitNames = [...]string{"", "", "item", "effect", "query", "result"}

// Error renders the error as "abi: <frame> frame: <unit> <index> at byte
// <offset>: <message>" (or "header at byte <offset>" for the frame header).
func (e *FrameError) Error() string {
	s := "abi: " + e.Frame.String() + " frame: "
	if e.Index >= 0 && int(e.Frame) < len(unitNames) && unitNames[e.Frame] != "" {
		s += unitNames[e.Frame] + " " + strconv.Itoa(e.Index)
		if e.Offset >= 0 {
			s += " at byte " + strconv.Itoa(e.Offset)
		}
		s += ": "
	} else if e.Offset >= 0 {
		s += "header at byte " + strconv.Itoa(e.Offset) + ": "
	}
	return s + e.Msg
}

// Unwrap returns the category and the cause, for errors.Is and errors.As.
func (e *FrameError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// Errno returns the code a host function returns for this error: ETOOBIG
// for ErrTooLarge, ESTATE for ErrSequence, EINVAL otherwise.
func (e *FrameError) Errno() Errno {
	switch e.Err {
	case ErrTooLarge:
		return ETOOBIG
	case ErrSequence:
		return ESTATE
	}
	return EINVAL
}

// frameReader reads the fields of one frame with bounds checks. Reads past
// the end return zero; callers check room first with need.
type frameReader struct {
	b    []byte
	kind FrameKind
}

func (r *frameReader) fail(index, off int, err error, msg string) *FrameError {
	return &FrameError{Frame: r.kind, Index: index, Offset: off, Err: err, Msg: msg}
}

// need reports ErrTruncated unless n bytes are left at off.
func (r *frameReader) need(index, off, n int, what string) *FrameError {
	if have := len(r.b) - off; n < 0 || have < n {
		return r.fail(index, off, ErrTruncated, what+" needs "+strconv.Itoa(n)+" bytes, "+strconv.Itoa(max(have, 0))+" left")
	}
	return nil
}

func (r *frameReader) u8(off int) uint8 { return r.b[off] }
func (r *frameReader) u16(off int) uint16 {
	return binary.LittleEndian.Uint16(r.b[off:])
}
func (r *frameReader) u32(off int) uint32 {
	return binary.LittleEndian.Uint32(r.b[off:])
}
func (r *frameReader) u64(off int) uint64 {
	return binary.LittleEndian.Uint64(r.b[off:])
}

// header checks the version and kind bytes, the frame size limit and that
// size header bytes are present.
func (r *frameReader) header(size, limit int) *FrameError {
	if len(r.b) > limit {
		return r.fail(-1, 0, ErrTooLarge, "frame is "+strconv.Itoa(len(r.b))+" bytes; the limit is "+strconv.Itoa(limit))
	}
	if len(r.b) >= 1 && r.b[0] != FrameVersion {
		return r.fail(-1, 0, ErrFrameVersion, "version "+strconv.Itoa(int(r.b[0]))+"; ABI v1 frames have version 1")
	}
	if len(r.b) >= 2 && FrameKind(r.b[1]) != r.kind {
		return r.fail(-1, 1, ErrFrameKind, "kind byte "+strconv.Itoa(int(r.b[1]))+" ("+FrameKind(r.b[1]).String()+"), want "+
			strconv.Itoa(int(r.kind))+" ("+r.kind.String()+")")
	}
	return r.need(-1, 0, size, r.kind.String()+" header")
}

// count reads the u32 unit count at off 4 of a header and checks that
// count units of at least unitSize bytes fit after the header.
func (r *frameReader) count(headerSize, unitSize int) (int, *FrameError) {
	n := r.u32(4)
	room := (len(r.b) - headerSize) / unitSize
	if uint64(n) > uint64(room) {
		return 0, r.fail(-1, 4, ErrTruncated, "declares "+strconv.FormatUint(uint64(n), 10)+" "+unitNames[r.kind]+
			"s but "+strconv.Itoa(len(r.b)-headerSize)+" bytes follow the header; each needs at least "+strconv.Itoa(unitSize))
	}
	return int(n), nil
}

// body returns the body of n bytes at off of unit index.
func (r *frameReader) body(index, off int, n uint32) ([]byte, *FrameError) {
	if uint64(n) > uint64(len(r.b)-off) {
		return nil, r.fail(index, off-headerLenBefore(r.kind), ErrTruncated, "body length "+strconv.FormatUint(uint64(n), 10)+
			" exceeds the "+strconv.Itoa(len(r.b)-off)+" bytes left")
	}
	return r.b[off : off+int(n)], nil
}

// headerLenBefore is the distance from a unit's header start to its body.
func headerLenBefore(k FrameKind) int {
	switch k {
	case FrameBatch:
		return ItemHeaderSize
	case FrameEffects:
		return EffectHeaderSize
	case FrameQuery:
		return QueryItemHeaderSize
	case FrameResponse:
		return ResultHeaderSize
	}
	return 0
}

// value decodes one whole MessagePack value from body, which starts at off
// in the frame.
func (r *frameReader) value(index, off int, body []byte, what string) (Value, *FrameError) {
	v, err := Decode(body)
	if err != nil {
		var de *DecodeError
		at := off
		if errors.As(err, &de) {
			at += de.Offset
		}
		return Value{}, &FrameError{Frame: r.kind, Index: index, Offset: at, Err: ErrBadValue, Cause: err,
			Msg: what + ": " + err.Error()}
	}
	return v, nil
}

// valuePrefix decodes one MessagePack value from the front of body.
func (r *frameReader) valuePrefix(index, off int, body []byte, what string) (Value, int, *FrameError) {
	v, n, err := DecodePrefix(body)
	if err != nil {
		var de *DecodeError
		at := off
		if errors.As(err, &de) {
			at += de.Offset
		}
		return Value{}, 0, &FrameError{Frame: r.kind, Index: index, Offset: at, Err: ErrBadValue, Cause: err,
			Msg: what + ": " + err.Error()}
	}
	return v, n, nil
}

// Encoding helpers.

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// appendFrameHeader appends version, kind, flags and count.
func appendFrameHeader(b []byte, kind FrameKind, flags uint16, count int) []byte {
	b = append(b, FrameVersion, byte(kind))
	b = appendU16(b, flags)
	return appendU32(b, uint32(count))
}

// encodeFail builds an encoding error.
func encodeFail(kind FrameKind, index int, err error, cause error, msg string) *FrameError {
	return &FrameError{Frame: kind, Index: index, Offset: -1, Err: err, Cause: cause, Msg: msg}
}

// appendValue encodes v canonically, reporting an encoding error as a
// FrameError for unit index.
func appendFrameValue(dst []byte, kind FrameKind, index int, v Value, what string) ([]byte, error) {
	out, err := AppendEncode(dst, v)
	if err != nil {
		return dst, encodeFail(kind, index, ErrBadValue, err, what+": "+err.Error())
	}
	return out, nil
}

// patchLen writes the u32 body length of a unit whose length field is at
// lenAt and whose body starts at bodyAt and ends at the end of b.
func patchLen(b []byte, kind FrameKind, index, lenAt, bodyAt int) ([]byte, error) {
	n := len(b) - bodyAt
	if uint64(n) > math.MaxUint32 {
		return b, encodeFail(kind, index, ErrTooLarge, nil, "body of "+strconv.Itoa(n)+" bytes does not fit a u32 length")
	}
	binary.LittleEndian.PutUint32(b[lenAt:], uint32(n))
	return b, nil
}

// checkFrameSize reports ErrTooLarge when the frame appended to dst from
// start exceeds limit.
func checkFrameSize(b []byte, start int, kind FrameKind, limit int) error {
	if n := len(b) - start; n > limit {
		return encodeFail(kind, -1, ErrTooLarge, nil, "frame would be "+strconv.Itoa(n)+" bytes; the limit is "+strconv.Itoa(limit))
	}
	return nil
}

// InitFrame is the frame the host writes into the inbox before calling
// squall_init (ABI.md §6.1). It is exactly [InitFrameSize] bytes.
type InitFrame struct {
	// Flags: [InitDescribe] on the deploy-time instance.
	Flags InitFlags
	// HostMajor and HostMinor are the host's ABI version; HostMinor is at
	// least the minor the guest's marker asks for.
	HostMajor, HostMinor uint16
	// Tasks is the number of partitions of the module (a power of two).
	Tasks uint32
	// TimeUnixNano is the time the clocks show during squall_init.
	TimeUnixNano int64
	// Seed seeds random_get during squall_init.
	Seed uint64
}

// Append appends the encoding of f to dst.
func (f *InitFrame) Append(dst []byte) []byte {
	dst = append(dst, FrameVersion, byte(FrameInit))
	dst = appendU16(dst, uint16(f.Flags))
	dst = appendU16(dst, f.HostMajor)
	dst = appendU16(dst, f.HostMinor)
	dst = appendU32(dst, f.Tasks)
	dst = appendU32(dst, 0)
	dst = appendU64(dst, uint64(f.TimeUnixNano))
	return appendU64(dst, f.Seed)
}

// DecodeInit decodes an init frame, which is exactly [InitFrameSize] bytes.
func DecodeInit(b []byte) (*InitFrame, error) {
	r := frameReader{b: b, kind: FrameInit}
	if err := r.header(InitFrameSize, InitFrameSize); err != nil {
		return nil, err
	}
	f := &InitFrame{
		Flags:        InitFlags(r.u16(2)),
		HostMajor:    r.u16(4),
		HostMinor:    r.u16(6),
		Tasks:        r.u32(8),
		TimeUnixNano: int64(r.u64(16)),
		Seed:         r.u64(24),
	}
	if f.Flags&^InitDescribe != 0 {
		return nil, r.fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(f.Flags), 16)+" set reserved bits")
	}
	if v := r.u32(12); v != 0 {
		return nil, r.fail(-1, 12, ErrReserved, "reserved u32 is "+strconv.FormatUint(uint64(v), 10))
	}
	return f, nil
}

// BatchHeader is the fixed header of a batch frame (ABI.md §6.2).
type BatchHeader struct {
	// Flags: [BatchQuery] (1.1) for the batches of a query invocation;
	// other bits are reserved.
	Flags uint16
	// BatchID numbers the batches of one (topology, partition); every
	// attempt of a batch carries the same id.
	BatchID uint64
	// Partition is the partition the batch runs on.
	Partition uint32
	// Attempt is 0 on the first attempt of the batch and counts retries.
	Attempt uint32
	// Topology is the index of the topology in the module definition (of
	// the query in its queries, with BatchQuery).
	Topology uint16
	// TimeUnixNano is the batch time: what the clocks show, the same on
	// every attempt.
	TimeUnixNano int64
	// Seed seeds random_get for the batch, the same on every attempt.
	Seed uint64
}

// BatchItem is one item of a batch frame: a depot record or a hop
// delivery.
type BatchItem struct {
	// Kind is ItemRecord or ItemHop; with BatchQuery, ItemInvoke or
	// ItemHop.
	Kind ItemKind
	// Stage is the index, in the topology's stages, of the stage to run.
	Stage uint16
	// Depot is the depot index of a record; [NoDepot] for a hop.
	Depot uint16
	// Attempt counts the earlier failed deliveries of this item.
	Attempt uint16
	// SourcePartition is the depot partition of a record (the batch's
	// partition) or the partition that sent a hop.
	SourcePartition uint32
	// Offset is the record's offset in its depot partition; 0 for a hop.
	Offset uint64
	// EventTimeUnixNano is the record's append time, or the batch time of
	// the batch that sent the hop.
	EventTimeUnixNano int64
	// Payload is the canonical MessagePack encoding of the record or hop
	// payload. DecodeBatch does not decode it; use [Decode].
	Payload []byte
}

// BatchFrame is the frame the host writes into the inbox before calling
// squall_process.
type BatchFrame struct {
	Header BatchHeader
	Items  []BatchItem
}

// Append appends the encoding of f to dst. It fails with a [*FrameError]
// when an item is invalid or the frame would exceed [MaxBatchFrame].
func (f *BatchFrame) Append(dst []byte) ([]byte, error) {
	start := len(dst)
	h := &f.Header
	if uint64(len(f.Items)) > math.MaxUint32 {
		return dst, encodeFail(FrameBatch, -1, ErrTooLarge, nil, "too many items")
	}
	b := appendFrameHeader(dst, FrameBatch, h.Flags, len(f.Items))
	b = appendU64(b, h.BatchID)
	b = appendU32(b, h.Partition)
	b = appendU32(b, h.Attempt)
	b = appendU16(b, h.Topology)
	b = appendU16(b, 0)
	b = appendU32(b, 0)
	b = appendU64(b, uint64(h.TimeUnixNano))
	b = appendU64(b, h.Seed)
	if h.Flags&^BatchQuery != 0 {
		return dst, encodeFail(FrameBatch, -1, ErrReserved, nil, "flags 0x"+strconv.FormatUint(uint64(h.Flags), 16)+" set reserved bits")
	}
	for i := range f.Items {
		it := &f.Items[i]
		if err := it.check(h.Flags&BatchQuery != 0, i); err != nil {
			return dst, encodeFail(FrameBatch, i, err.Err, nil, err.Msg)
		}
		if len(it.Payload) == 0 {
			return dst, encodeFail(FrameBatch, i, ErrBadValue, nil, "empty payload; a payload is one MessagePack value")
		}
		if uint64(len(it.Payload)) > math.MaxUint32 {
			return dst, encodeFail(FrameBatch, i, ErrTooLarge, nil, "payload does not fit a u32 length")
		}
		b = appendU32(b, uint32(len(it.Payload)))
		b = append(b, byte(it.Kind), 0)
		b = appendU16(b, it.Stage)
		b = appendU16(b, it.Depot)
		b = appendU16(b, it.Attempt)
		b = appendU32(b, it.SourcePartition)
		b = appendU64(b, it.Offset)
		b = appendU64(b, uint64(it.EventTimeUnixNano))
		b = append(b, it.Payload...)
	}
	if err := checkFrameSize(b, start, FrameBatch, MaxBatchFrame); err != nil {
		return dst, err
	}
	return b, nil
}

// itemProblem is a problem with one item, before it gets a place.
type itemProblem struct {
	Err error
	Msg string
	Off int // offset of the field within the item header
}

// check reports what is wrong with the fields of item i of a batch, a
// query batch when query is set.
func (it *BatchItem) check(query bool, i int) *itemProblem {
	switch it.Kind {
	case ItemRecord:
		if query {
			return &itemProblem{ErrReserved, "a QUERY batch holds INVOKE and HOP items, not RECORD", 4}
		}
		if it.Depot == NoDepot {
			return &itemProblem{ErrReserved, "a RECORD item needs a depot index, not 0xFFFF", 8}
		}
	case ItemHop, ItemInvoke:
		if it.Kind == ItemInvoke {
			switch {
			case !query:
				return &itemProblem{ErrReserved, "an INVOKE item is allowed only in a QUERY batch", 4}
			case i != 0:
				return &itemProblem{ErrReserved, "an INVOKE item must be the first item of its batch", 4}
			case it.Stage != 0:
				return &itemProblem{ErrReserved, "an INVOKE item runs the entry stage 0, not " + strconv.Itoa(int(it.Stage)), 6}
			}
		}
		if it.Depot != NoDepot {
			return &itemProblem{ErrReserved, "a " + it.Kind.String() + " item has depot 0xFFFF, not " + strconv.Itoa(int(it.Depot)), 8}
		}
		if it.Offset != 0 {
			return &itemProblem{ErrReserved, "a " + it.Kind.String() + " item has offset 0, not " + strconv.FormatUint(it.Offset, 10), 16}
		}
	default:
		return &itemProblem{ErrUnknownCode, "unknown item kind " + strconv.Itoa(int(it.Kind)) + "; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)", 4}
	}
	return nil
}

// DecodeBatch decodes a batch frame. Item payloads are returned as slices
// of b, not decoded.
func DecodeBatch(b []byte) (*BatchFrame, error) {
	r := frameReader{b: b, kind: FrameBatch}
	if err := r.header(BatchHeaderSize, MaxBatchFrame); err != nil {
		return nil, err
	}
	n, ferr := r.count(BatchHeaderSize, ItemHeaderSize)
	if ferr != nil {
		return nil, ferr
	}
	f := &BatchFrame{Header: BatchHeader{
		Flags:        r.u16(2),
		BatchID:      r.u64(8),
		Partition:    r.u32(16),
		Attempt:      r.u32(20),
		Topology:     r.u16(24),
		TimeUnixNano: int64(r.u64(32)),
		Seed:         r.u64(40),
	}}
	if f.Header.Flags&^BatchQuery != 0 {
		return nil, r.fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(f.Header.Flags), 16)+" set reserved bits")
	}
	if v := r.u16(26); v != 0 {
		return nil, r.fail(-1, 26, ErrReserved, "reserved u16 is "+strconv.Itoa(int(v)))
	}
	if v := r.u32(28); v != 0 {
		return nil, r.fail(-1, 28, ErrReserved, "reserved u32 is "+strconv.FormatUint(uint64(v), 10))
	}
	if n > 0 {
		f.Items = make([]BatchItem, n)
	}
	p := BatchHeaderSize
	for i := range f.Items {
		if err := r.need(i, p, ItemHeaderSize, "item header"); err != nil {
			return nil, err
		}
		it := &f.Items[i]
		size := r.u32(p)
		it.Kind = ItemKind(r.u8(p + 4))
		if fl := r.u8(p + 5); fl != 0 {
			return nil, r.fail(i, p+5, ErrReserved, "item flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
		}
		it.Stage = r.u16(p + 6)
		it.Depot = r.u16(p + 8)
		it.Attempt = r.u16(p + 10)
		it.SourcePartition = r.u32(p + 12)
		it.Offset = r.u64(p + 16)
		it.EventTimeUnixNano = int64(r.u64(p + 24))
		if prob := it.check(f.Header.Flags&BatchQuery != 0, i); prob != nil {
			return nil, r.fail(i, p+prob.Off, prob.Err, prob.Msg)
		}
		if size == 0 {
			return nil, r.fail(i, p, ErrBadValue, "empty payload; a payload is one MessagePack value")
		}
		body, err := r.body(i, p+ItemHeaderSize, size)
		if err != nil {
			return nil, err
		}
		it.Payload = body
		p += ItemHeaderSize + len(body)
	}
	if p != len(b) {
		return nil, r.fail(-1, p, ErrTrailing, strconv.Itoa(len(b)-p)+" bytes after the last item")
	}
	return f, nil
}
