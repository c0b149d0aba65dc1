// Package keyenc is the order-preserving, self-delimiting encoding of
// [abi.Value]s into storage keys, in the style of the FoundationDB tuple
// layer. It is part of the on-disk format (format version 1): never change
// an existing tag or encoding, only add new tags.
//
// # Guarantees
//
// For all values a and b that encode:
//
//	bytes.Compare(Append(nil, a), Append(nil, b)) == abi.Compare(a, b)
//
// Every encoding is self-delimiting, so a tuple (the concatenation of the
// encodings of several values, see [AppendTuple]) compares element by
// element, and a shorter tuple that is a prefix of a longer one sorts before
// it.
//
// The encoding is canonical: every value has exactly one encoding, and
// [Decode] rejects every byte string that is not the encoding of a value
// (non-minimal ints, non-canonical NaNs, bad escapes, invalid UTF-8, map keys
// or set elements out of order or repeated). Decoding never panics.
//
// # Tags
//
// Every element starts with a tag byte in 0x01..0xFE. The byte 0x00 never
// starts an element: it terminates strings, bytes and containers, and it is
// the first byte of an escape. The storage layer relies on this: for a key
// path P (a tuple), P 0x00 … holds metadata of the node at P (size,
// bounds), which sorts before every child key P elem … and cannot be
// mistaken for one. 0xFF never starts an element either.
//
//	tag         kind    payload
//	0x00        —       reserved: terminator / escape, never starts an element
//	0x01        nil     none
//	0x02        bool    none (false)
//	0x03        bool    none (true)
//	0x0C..0x13  int     negative, 8..1 magnitude bytes (tag 0x14-n for n bytes),
//	                    ones' complement of the big-endian magnitude
//	0x14        int     none (zero)
//	0x15..0x1C  int     positive, 1..8 big-endian magnitude bytes (tag 0x14+n)
//	0x21        float   8 bytes: IEEE 754 bits big-endian, all bits flipped when
//	                    the sign bit is set, else only the sign bit flipped
//	0x30        string  UTF-8 bytes, 0x00 escaped as 0x00 0xFF, then 0x00
//	0x31        bytes   bytes, 0x00 escaped as 0x00 0xFF, then 0x00
//	0x40        list    the items' encodings, then 0x00
//	0x41        map     key0 val0 key1 val1 … with keys in abi.Compare order, then 0x00
//	0x42        set     the elements' encodings in abi.Compare order, then 0x00
//	0xFF        —       reserved: second byte of the 0x00 escape, never a tag
//
// Ints use the fewest magnitude bytes (the first magnitude byte is never
// zero), so small ints are short: 0 is 1 byte, ±1..±255 are 2 bytes. The
// magnitude of math.MinInt64 is 2^63, which fits in 8 bytes. Only the one
// canonical NaN (0x7FF8000000000000) is encoded; it sorts after +Inf.
//
// # Ranges
//
// As in the FoundationDB tuple layer, one encoding can be a proper prefix of
// another: "" encodes as 30 00 and "\x00" as 30 00 FF 00. The longer one
// always continues with 0xFF where the shorter one ends, and 0xFF never
// follows a complete element, so the order of keys is not affected — but a
// plain prefix scan is wrong: the keys starting with the tuple P = 30 00
// include those of the sibling "\x00". The keys of the subtree at P (P
// itself, its 0x00 metadata keys and every tuple that extends P) are exactly
// the keys in [P, [TupleEnd](P)) = [P, P 0xFF); its children proper lie in
// [P 0x01, P 0xFF).
//
// # Limits
//
// Containers nest at most [MaxDepth] deep. Keys the storage layer writes are
// at most [MaxKeyLen] bytes; see [CheckKeyLen].
package keyenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"unicode/utf8"

	"github.com/squall-run/squall/abi"
)

// Tag bytes; see the package documentation.
const (
	tagTerm    = 0x00
	tagNil     = 0x01
	tagFalse   = 0x02
	tagTrue    = 0x03
	tagIntZero = 0x14 // negative ints: 0x14-n; positive: 0x14+n, n = 1..8 bytes
	tagFloat   = 0x21
	tagString  = 0x30
	tagBytes   = 0x31
	tagList    = 0x40
	tagMap     = 0x41
	tagSet     = 0x42
	escByte    = 0xFF // follows 0x00 inside strings and bytes to escape it
)

// MaxDepth is the deepest nesting of containers that encodes and decodes,
// the same as the value codec's: a scalar has depth 0 and a container one
// more than its deepest child, so a list holding an empty list has depth 2.
const MaxDepth = abi.MaxDepth

// MaxKeyLen is the largest storage key, in bytes, that the storage layer
// writes.
const MaxKeyLen = 16 << 10

// ErrKeyTooLarge is matched (with [errors.Is]) by the error [CheckKeyLen]
// returns.
var ErrKeyTooLarge = errors.New("keyenc: key too large")

// KeyTooLargeError reports a key longer than [MaxKeyLen].
type KeyTooLargeError struct {
	Len int // length of the key in bytes
}

func (e *KeyTooLargeError) Error() string {
	return fmt.Sprintf("keyenc: key is %d bytes; the limit is %d bytes", e.Len, MaxKeyLen)
}

// Is reports whether target is [ErrKeyTooLarge].
func (e *KeyTooLargeError) Is(target error) bool { return target == ErrKeyTooLarge }

// CheckKeyLen returns a [*KeyTooLargeError] when key is longer than
// [MaxKeyLen], and nil otherwise.
func CheckKeyLen(key []byte) error {
	if len(key) > MaxKeyLen {
		return &KeyTooLargeError{Len: len(key)}
	}
	return nil
}

// Error reports malformed input to [Decode] or [DecodeTuple].
type Error struct {
	Offset int    // offset of the offending byte in the input
	Msg    string // what is wrong
}

func (e *Error) Error() string {
	return fmt.Sprintf("keyenc: at byte %d: %s", e.Offset, e.Msg)
}

// EncodeError reports a value that has no key encoding: a string that is not
// valid UTF-8, or containers nested deeper than [MaxDepth].
type EncodeError struct {
	Msg string
}

func (e *EncodeError) Error() string { return "keyenc: cannot encode: " + e.Msg }

// Append appends the encoding of v to dst and returns the extended slice.
// On error it returns dst unchanged (its spare capacity may be overwritten).
func Append(dst []byte, v abi.Value) ([]byte, error) {
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendTuple appends the encodings of vs, one after another, to dst. On
// error it returns dst unchanged (its spare capacity may be overwritten).
func AppendTuple(dst []byte, vs ...abi.Value) ([]byte, error) {
	out := dst
	for _, v := range vs {
		var err error
		if out, err = appendValue(out, v, 0); err != nil {
			return dst, err
		}
	}
	return out, nil
}

func appendValue(dst []byte, v abi.Value, depth int) ([]byte, error) {
	switch v.Kind() {
	case abi.KindNil:
		return append(dst, tagNil), nil
	case abi.KindBool:
		if b, _ := v.AsBool(); b {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case abi.KindInt:
		i, _ := v.AsInt()
		return appendInt(dst, i), nil
	case abi.KindFloat:
		f, _ := v.AsFloat()
		return appendFloat(dst, f), nil
	case abi.KindString:
		s, _ := v.AsString()
		if !utf8.ValidString(s) {
			return dst, &EncodeError{Msg: fmt.Sprintf("string %.40q is not valid UTF-8", s)}
		}
		return appendEscaped(append(dst, tagString), s), nil
	case abi.KindBytes:
		b, _ := v.AsBytes()
		return appendEscaped(append(dst, tagBytes), b), nil
	case abi.KindList:
		if depth >= MaxDepth {
			return dst, errTooDeep()
		}
		dst = append(dst, tagList)
		for _, item := range v.Items() {
			var err error
			if dst, err = appendValue(dst, item, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, tagTerm), nil
	case abi.KindSet:
		if depth >= MaxDepth {
			return dst, errTooDeep()
		}
		return appendSorted(append(dst, tagSet), v.Items(), nil, depth+1)
	case abi.KindMap:
		if depth >= MaxDepth {
			return dst, errTooDeep()
		}
		n := v.Len()
		keys := make([]abi.Value, n)
		vals := make([]abi.Value, n)
		for i := range n {
			e := v.Entry(i)
			keys[i], vals[i] = e.Key, e.Val
		}
		return appendSorted(append(dst, tagMap), keys, vals, depth+1)
	}
	return dst, &EncodeError{Msg: "unknown kind " + v.Kind().String()}
}

func errTooDeep() error {
	return &EncodeError{Msg: fmt.Sprintf("containers nested more than %d deep", MaxDepth)}
}

// appendSorted appends the encodings of keys (each followed by the matching
// element of vals, when vals is not nil) in the byte order of the encoded
// keys, which is abi.Compare order, then the terminator.
func appendSorted(dst []byte, keys, vals []abi.Value, depth int) ([]byte, error) {
	type span struct{ start, keyEnd, end int }
	var buf []byte
	spans := make([]span, len(keys))
	for i, k := range keys {
		var err error
		start := len(buf)
		if buf, err = appendValue(buf, k, depth); err != nil {
			return dst, err
		}
		keyEnd := len(buf)
		if vals != nil {
			if buf, err = appendValue(buf, vals[i], depth); err != nil {
				return dst, err
			}
		}
		spans[i] = span{start, keyEnd, len(buf)}
	}
	slices.SortFunc(spans, func(a, b span) int {
		return bytes.Compare(buf[a.start:a.keyEnd], buf[b.start:b.keyEnd])
	})
	for _, s := range spans {
		dst = append(dst, buf[s.start:s.end]...)
	}
	return append(dst, tagTerm), nil
}

func appendInt(dst []byte, i int64) []byte {
	if i == 0 {
		return append(dst, tagIntZero)
	}
	var mag uint64
	if i > 0 {
		mag = uint64(i)
	} else {
		mag = -uint64(i) // 2^63 for MinInt64
	}
	n := (bits.Len64(mag) + 7) / 8
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], mag)
	if i > 0 {
		dst = append(dst, byte(tagIntZero+n))
		return append(dst, b[8-n:]...)
	}
	dst = append(dst, byte(tagIntZero-n))
	for _, c := range b[8-n:] {
		dst = append(dst, ^c)
	}
	return dst
}

func appendFloat(dst []byte, f float64) []byte {
	bits := math.Float64bits(f)
	if bits>>63 != 0 {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(append(dst, tagFloat), bits)
}

func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, escByte)
		} else {
			dst = append(dst, s[i])
		}
	}
	return append(dst, tagTerm)
}

// TupleEnd returns p 0xFF (in a new slice): the smallest key greater than
// every key that extends the tuple p by more elements or by a 0x00 suffix,
// and smaller than the key of every tuple that follows p. Scan
// [p, TupleEnd(p)) for the subtree at p; do not use [PrefixEnd] for that.
func TupleEnd(p []byte) []byte {
	end := make([]byte, len(p)+1)
	copy(end, p)
	end[len(p)] = 0xFF
	return end
}

// PrefixEnd returns the smallest key greater than every key that starts with
// b, or nil when there is none (b is empty or all 0xFF). It does not modify b.
func PrefixEnd(b []byte) []byte {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xFF {
			end := make([]byte, i+1)
			copy(end, b)
			end[i]++
			return end
		}
	}
	return nil
}
