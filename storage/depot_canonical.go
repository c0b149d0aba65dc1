package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/squall-run/squall/abi"
)

// isCanonicalFast reports whether b is exactly one value in canonical
// MessagePack (as abi.Encode writes it), without allocating. It is
// conservative: it knows every form but sets (extension type 1), and
// returns false for them and for anything it does not accept, in which case
// the caller takes the slow path (abi.Decode, then abi.AppendEncode), which
// also produces the exact error. Whenever it returns true, abi.IsCanonical(b)
// is true too (FuzzCanonicalFast checks this).
//
// Records are usually canonical already (the SDKs write canonical bytes), so
// the fast path saves decoding every record into a Value tree.
func isCanonicalFast(b []byte) bool {
	n, ok := scanCanonical(b, 0, 0)
	return ok && n == len(b)
}

// scanCanonical checks the canonical value at b[p:] and returns the offset
// after it.
func scanCanonical(b []byte, p, depth int) (int, bool) {
	if p >= len(b) {
		return 0, false
	}
	c := b[p]
	switch {
	case c <= 0x7f, c >= 0xe0: // fixints
		return p + 1, true
	case c >= 0x80 && c <= 0x8f:
		return scanMap(b, p+1, int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return scanArray(b, p+1, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return scanStr(b, p+1, int(c&0x1f))
	}
	need := func(n int) bool { return len(b)-p > n }
	switch c {
	case 0xc0, 0xc2, 0xc3:
		return p + 1, true
	case 0xc4: // bin8
		if !need(1) {
			return 0, false
		}
		return scanBytes(b, p+2, int(b[p+1]))
	case 0xc5: // bin16
		if !need(2) {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(b[p+1:]))
		if n <= math.MaxUint8 {
			return 0, false
		}
		return scanBytes(b, p+3, n)
	case 0xc6: // bin32
		if !need(4) {
			return 0, false
		}
		n := uint64(binary.BigEndian.Uint32(b[p+1:]))
		if n <= math.MaxUint16 || n > uint64(len(b)) {
			return 0, false
		}
		return scanBytes(b, p+5, int(n))
	case 0xcb: // float64
		if !need(8) {
			return 0, false
		}
		bits := binary.BigEndian.Uint64(b[p+1:])
		if bits&0x7ff0000000000000 == 0x7ff0000000000000 && bits&0x000fffffffffffff != 0 && bits != 0x7ff8000000000000 {
			return 0, false // a NaN other than the canonical one
		}
		return p + 9, true
	case 0xcc:
		return p + 2, need(1) && b[p+1] > 0x7f
	case 0xcd:
		return p + 3, need(2) && binary.BigEndian.Uint16(b[p+1:]) > math.MaxUint8
	case 0xce:
		return p + 5, need(4) && binary.BigEndian.Uint32(b[p+1:]) > math.MaxUint16
	case 0xcf:
		if !need(8) {
			return 0, false
		}
		u := binary.BigEndian.Uint64(b[p+1:])
		return p + 9, u > math.MaxUint32 && u <= math.MaxInt64
	case 0xd0:
		return p + 2, need(1) && int8(b[p+1]) < -32
	case 0xd1:
		return p + 3, need(2) && int16(binary.BigEndian.Uint16(b[p+1:])) < math.MinInt8
	case 0xd2:
		return p + 5, need(4) && int32(binary.BigEndian.Uint32(b[p+1:])) < math.MinInt16
	case 0xd3:
		return p + 9, need(8) && int64(binary.BigEndian.Uint64(b[p+1:])) < math.MinInt32
	case 0xd9: // str8
		if !need(1) || b[p+1] < 32 {
			return 0, false
		}
		return scanStr(b, p+2, int(b[p+1]))
	case 0xda: // str16
		if !need(2) {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(b[p+1:]))
		if n <= math.MaxUint8 {
			return 0, false
		}
		return scanStr(b, p+3, n)
	case 0xdb: // str32
		if !need(4) {
			return 0, false
		}
		n := uint64(binary.BigEndian.Uint32(b[p+1:]))
		if n <= math.MaxUint16 || n > uint64(len(b)) {
			return 0, false
		}
		return scanStr(b, p+5, int(n))
	case 0xdc: // array16
		if !need(2) {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(b[p+1:]))
		if n < 16 {
			return 0, false
		}
		return scanArray(b, p+3, n, depth)
	case 0xdd: // array32
		if !need(4) {
			return 0, false
		}
		n := uint64(binary.BigEndian.Uint32(b[p+1:]))
		if n <= math.MaxUint16 || n > uint64(len(b)) {
			return 0, false
		}
		return scanArray(b, p+5, int(n), depth)
	case 0xde: // map16
		if !need(2) {
			return 0, false
		}
		n := int(binary.BigEndian.Uint16(b[p+1:]))
		if n < 16 {
			return 0, false
		}
		return scanMap(b, p+3, n, depth)
	case 0xdf: // map32
		if !need(4) {
			return 0, false
		}
		n := uint64(binary.BigEndian.Uint32(b[p+1:]))
		if n <= math.MaxUint16 || n > uint64(len(b)) {
			return 0, false
		}
		return scanMap(b, p+5, int(n), depth)
	}
	// 0xc1, float32, extensions (sets): not canonical, or left to the slow
	// path.
	return 0, false
}

func scanBytes(b []byte, p, n int) (int, bool) {
	if n > len(b)-p {
		return 0, false
	}
	return p + n, true
}

func scanStr(b []byte, p, n int) (int, bool) {
	if n > len(b)-p || !utf8.Valid(b[p:p+n]) {
		return 0, false
	}
	return p + n, true
}

func scanArray(b []byte, p, n, depth int) (int, bool) {
	if depth++; depth > abi.MaxDepth || n > len(b)-p {
		return 0, false
	}
	for range n {
		var ok bool
		if p, ok = scanCanonical(b, p, depth); !ok {
			return 0, false
		}
	}
	return p, true
}

// scanMap checks n entries whose keys must be in strictly ascending order
// of their (canonical) encodings.
func scanMap(b []byte, p, n, depth int) (int, bool) {
	if depth++; depth > abi.MaxDepth || 2*n > len(b)-p {
		return 0, false
	}
	var prev []byte
	for i := range n {
		start := p
		var ok bool
		if p, ok = scanCanonical(b, p, depth); !ok {
			return 0, false
		}
		key := b[start:p]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return 0, false
		}
		prev = key
		if p, ok = scanCanonical(b, p, depth); !ok {
			return 0, false
		}
	}
	return p, true
}
