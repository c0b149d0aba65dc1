// Package wire holds the byte layout of the frames of the Squall guest ABI
// v1 (abi/ABI.md §6): constants, bounds-checked readers of fixed
// little-endian headers, and the frame errors of §6.7. It knows nothing of
// MessagePack values: the SDK's frame codecs (package squall for the
// guest's side, squalltest for the fake host's side) decode bodies
// themselves.
package wire

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Frame kinds (byte 1 of every frame).
const (
	KindInit     = 1
	KindBatch    = 2
	KindEffects  = 3
	KindQuery    = 4
	KindResponse = 5
)

// Version is byte 0 of every frame of ABI v1.
const Version = 1

// Fixed sizes, in bytes.
const (
	InitFrameSize       = 32
	BatchHeaderSize     = 48
	ItemHeaderSize      = 32
	EffectsHeaderSize   = 8
	EffectHeaderSize    = 12
	QueryHeaderSize     = 8
	QueryItemHeaderSize = 8
	ResponseHeaderSize  = 8
	ResultHeaderSize    = 8
)

// Frame size limits (ABI.md §10).
const (
	MaxBatchFrame    = 64 << 20
	MaxEffectsFrame  = 16 << 20
	MaxQueryFrame    = 1 << 20
	MaxResponseFrame = 64 << 20
)

// NoItem is the item index of an effect that belongs to no item; NoDepot
// the depot index of a hop delivery.
const (
	NoItem  = 0xFFFF_FFFF
	NoDepot = 0xFFFF
)

// InitDescribe is the init flag of the deploy-time instance.
const InitDescribe = 1

// Batch item kinds.
const (
	ItemRecord = 1
	ItemHop    = 2
	ItemInvoke = 3 // ABI 1.1: the invocation of a query's entry stage
)

// BatchQuery is the batch header flag of a query invocation (ABI 1.1).
const BatchQuery = 1

// Effect ops.
const (
	OpAppend    = 1
	OpHop       = 2
	OpTransform = 3
	OpEmit      = 4
	OpLog       = 5
	OpOutcome   = 6
	OpDefine    = 7
	OpError     = 8
	OpAggregate = 9 // ABI 1.1
)

// OpNames are the spec names of the effect ops.
var OpNames = [...]string{"", "APPEND", "HOP", "TRANSFORM", "EMIT", "LOG", "OUTCOME", "DEFINE", "ERROR", "AGGREGATE"}

// Emit streams and the AGGREGATE target of the query result (ABI 1.1).
const (
	EmitAckReturn     = 0
	EmitQueryResult   = 1
	QueryResultTarget = 0xFFFF
)

// Aggregators (the flags of AGGREGATE, ABI 1.1).
const (
	AggCount = 1
	AggSum   = 2
	AggMin   = 3
	AggMax   = 4
	AggSet   = 5
	AggList  = 6
	AggMap   = 7
	AggTopN  = 8
)

// AggNames are the spec names of the aggregators.
var AggNames = [...]string{"", "COUNT", "SUM", "MIN", "MAX", "SET", "LIST", "MAP", "TOP_N"}

// APPEND flags.
const (
	AckMask     = 0x03
	AppendLocal = 0x04
)

// HOP partitioners.
const (
	HopHash    = 1
	HopAll     = 2
	HopGlobal  = 3
	HopOrigin  = 4
	HopShuffle = 5
	HopDirect  = 6
)

// Outcomes.
const (
	OutcomeOK     = 0
	OutcomePoison = 1
	OutcomeRetry  = 2
)

// Query ops and result statuses.
const (
	QuerySelect    = 1
	QuerySelectOne = 2
	QueryInvoke    = 3 // ABI 1.1
	ResultOK       = 0
	ResultNotFound = 1
)

// Call statuses.
const (
	StatusOK     = 0
	StatusFailed = 1
)

// Errno values (negative).
const (
	EINVAL     = -1
	ENOENT     = -2
	EBADID     = -3
	ETOOBIG    = -4
	EWRONGPART = -5
	EQUOTA     = -6
	ESTATE     = -7
	EINTERNAL  = -8
	EPATH      = -9
	ESCHEMA    = -10
	EMULTI     = -11
	ETIMEDOUT  = -12 // ABI 1.1
	EFAILED    = -13 // ABI 1.1
)

var errnoNames = [...]string{"", "EINVAL", "ENOENT", "EBADID", "ETOOBIG", "EWRONGPART", "EQUOTA",
	"ESTATE", "EINTERNAL", "EPATH", "ESCHEMA", "EMULTI", "ETIMEDOUT", "EFAILED"}

// ErrnoName returns the name of a negative errno, such as "EPATH".
func ErrnoName(code int32) string {
	if code < 0 && int(-code) < len(errnoNames) {
		return errnoNames[-code]
	}
	return "errno(" + strconv.Itoa(int(code)) + ")"
}

// Frame error categories (abi/testdata/frames/invalid.jsonl "error").
var (
	ErrTruncated    = errors.New("truncated")
	ErrFrameVersion = errors.New("frame_version")
	ErrFrameKind    = errors.New("frame_kind")
	ErrReserved     = errors.New("reserved")
	ErrUnknownCode  = errors.New("unknown_code")
	ErrTooLarge     = errors.New("too_large")
	ErrTrailing     = errors.New("trailing")
	ErrBadValue     = errors.New("bad_value")
	ErrSequence     = errors.New("sequence")
)

var kindNames = [...]string{"", "init", "batch", "effects", "query", "response"}
var unitNames = [...]string{"", "", "item", "effect", "query", "result"}

// KindName returns the name of a frame kind.
func KindName(k int) string {
	if k >= KindInit && k <= KindResponse {
		return kindNames[k]
	}
	return "frame(" + strconv.Itoa(k) + ")"
}

// FrameError reports a frame that does not follow the ABI.
type FrameError struct {
	Frame  int   // frame kind
	Index  int   // unit index, -1 for the header
	Offset int   // byte offset of the field at fault, -1 when unknown
	Err    error // category
	Msg    string
}

func (e *FrameError) Error() string {
	s := "squall: " + KindName(e.Frame) + " frame: "
	if e.Index >= 0 && e.Frame < len(unitNames) && unitNames[e.Frame] != "" {
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

// Unwrap returns the category.
func (e *FrameError) Unwrap() error { return e.Err }

// Errno returns the code a host function returns for the error.
func (e *FrameError) Errno() int32 {
	switch e.Err {
	case ErrTooLarge:
		return ETOOBIG
	case ErrSequence:
		return ESTATE
	}
	return EINVAL
}

// Reader reads the fields of one frame. Reads are unchecked: check room
// with Need, Header, Count and Body first.
type Reader struct {
	B    []byte
	Kind int
}

// Fail returns a FrameError of the reader's frame.
func (r *Reader) Fail(index, off int, err error, msg string) *FrameError {
	return &FrameError{Frame: r.Kind, Index: index, Offset: off, Err: err, Msg: msg}
}

// Need fails with ErrTruncated unless n bytes are left at off.
func (r *Reader) Need(index, off, n int, what string) *FrameError {
	if have := len(r.B) - off; have < n {
		return r.Fail(index, off, ErrTruncated, what+" needs "+strconv.Itoa(n)+" bytes, "+strconv.Itoa(max(have, 0))+" left")
	}
	return nil
}

// U8 and the others read little-endian integers.
func (r *Reader) U8(off int) uint8   { return r.B[off] }
func (r *Reader) U16(off int) uint16 { return binary.LittleEndian.Uint16(r.B[off:]) }
func (r *Reader) U32(off int) uint32 { return binary.LittleEndian.Uint32(r.B[off:]) }
func (r *Reader) U64(off int) uint64 { return binary.LittleEndian.Uint64(r.B[off:]) }

// Header checks the frame size limit, the version and kind bytes, and that
// size header bytes are present.
func (r *Reader) Header(size, limit int) *FrameError {
	if len(r.B) > limit {
		return r.Fail(-1, 0, ErrTooLarge, "frame is "+strconv.Itoa(len(r.B))+" bytes; the limit is "+strconv.Itoa(limit))
	}
	if len(r.B) >= 1 && r.B[0] != Version {
		return r.Fail(-1, 0, ErrFrameVersion, "version "+strconv.Itoa(int(r.B[0]))+"; ABI v1 frames have version 1")
	}
	if len(r.B) >= 2 && int(r.B[1]) != r.Kind {
		return r.Fail(-1, 1, ErrFrameKind, "kind byte "+strconv.Itoa(int(r.B[1]))+" ("+KindName(int(r.B[1]))+"), want "+
			strconv.Itoa(r.Kind)+" ("+KindName(r.Kind)+")")
	}
	return r.Need(-1, 0, size, KindName(r.Kind)+" header")
}

// Count reads the u32 unit count at offset 4 and checks that that many
// units of at least unitSize bytes fit after the header.
func (r *Reader) Count(headerSize, unitSize int) (int, *FrameError) {
	n := r.U32(4)
	if uint64(n) > uint64((len(r.B)-headerSize)/unitSize) {
		return 0, r.Fail(-1, 4, ErrTruncated, "declares "+strconv.FormatUint(uint64(n), 10)+" "+unitNames[r.Kind]+
			"s but "+strconv.Itoa(len(r.B)-headerSize)+" bytes follow the header; each needs at least "+strconv.Itoa(unitSize))
	}
	return int(n), nil
}

// Body returns the n-byte body of unit index that starts at off, right
// after a unit header of headerSize bytes.
func (r *Reader) Body(index, off, headerSize int, n uint32) ([]byte, *FrameError) {
	if uint64(n) > uint64(len(r.B)-off) {
		return nil, r.Fail(index, off-headerSize, ErrTruncated, "body length "+strconv.FormatUint(uint64(n), 10)+
			" exceeds the "+strconv.Itoa(len(r.B)-off)+" bytes left")
	}
	return r.B[off : off+int(n)], nil
}

// Flags reports reserved flag bits of the frame header.
func (r *Reader) Flags() *FrameError {
	if fl := r.U16(2); fl != 0 {
		return r.Fail(-1, 2, ErrReserved, "flags 0x"+strconv.FormatUint(uint64(fl), 16)+" set reserved bits")
	}
	return nil
}

// Trailing reports bytes after the last unit, which ends at p.
func (r *Reader) Trailing(p int) *FrameError {
	if p != len(r.B) {
		return r.Fail(-1, p, ErrTrailing, strconv.Itoa(len(r.B)-p)+" bytes after the last "+unitNames[r.Kind])
	}
	return nil
}

// AppendHeader appends version, kind, flags 0 and count.
func AppendHeader(b []byte, kind int, count uint32) []byte {
	b = append(b, Version, byte(kind), 0, 0)
	return binary.LittleEndian.AppendUint32(b, count)
}

// AppendU16 and the others append little-endian integers.
func AppendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// PutU32 writes a little-endian u32 at b[0:4].
// PutU16 writes v little-endian at b[0:2].
func PutU16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

func PutU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
