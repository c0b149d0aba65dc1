package abi

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of containers (lists, maps and sets) that
// [Encode] and [Decode] accept. A scalar has depth 0 and a container has
// depth one more than its deepest child, so an empty list has depth 1.
const MaxDepth = 128

// SetExtType is the MessagePack extension type that encodes a set.
const SetExtType = 1

// extHeaderMax is the length of the longest extension header (ext32: 0xc9,
// four length bytes, the type byte).
const extHeaderMax = 6

// tooLong reports whether n exceeds the largest length a MessagePack header
// can declare (2^32-1).
func tooLong(n int) bool { return uint64(n) > math.MaxUint32 }

// EncodeError reports a value that has no canonical encoding: a string that
// is not valid UTF-8, nesting deeper than [MaxDepth], or a string, bytes or
// container too long for a MessagePack header.
//
// Path locates the offending value inside the encoded one: "$" is the value
// itself, "[3]" item 3 of a list, "#[3]" element 3 of a set (in canonical
// order), "[k]" the value stored under key k of a map and "{k}" the key k
// itself, with k written as by [Value.String]. For example
// `$[2]["name"]` is the value under "name" in the map at index 2 of a list.
type EncodeError struct {
	Path string
	Msg  string
}

func (e *EncodeError) Error() string { return "abi: encode: " + e.Path + ": " + e.Msg }

// DecodeError reports input that is not the MessagePack encoding of a
// [Value]. Offset is the byte offset in the input of the value, header or
// byte at fault.
type DecodeError struct {
	Offset int
	Msg    string
}

func (e *DecodeError) Error() string {
	return "abi: decode: byte offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Encode returns the canonical MessagePack encoding of v (see the package
// documentation). It fails with an [*EncodeError] when v holds a string that
// is not valid UTF-8 or nests deeper than [MaxDepth].
func Encode(v Value) ([]byte, error) {
	b, err := AppendEncode(make([]byte, 0, encodedLen(v)), v)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// encodedLen returns the length of the canonical encoding of v (or, for a
// value Encode rejects, of what appendCanonical writes).
func encodedLen(v Value) int {
	switch v.kind {
	case KindInt:
		i := int64(v.n)
		switch {
		case i >= -32 && i <= 0x7f:
			return 1
		case i >= math.MinInt8 && i <= math.MaxUint8:
			return 2
		case i >= math.MinInt16 && i <= math.MaxUint16:
			return 3
		case i >= math.MinInt32 && i <= math.MaxUint32:
			return 5
		}
		return 9
	case KindFloat:
		return 9
	case KindString:
		if len(v.s) < 32 {
			return 1 + len(v.s)
		}
		return lenHeader(len(v.s), 2) + len(v.s)
	case KindBytes:
		return lenHeader(len(v.s), 2) + len(v.s)
	case KindList, KindMap, KindSet:
		n := len(v.c)
		if v.kind == KindMap {
			n /= 2
		}
		size := 1
		if n >= 16 {
			size = lenHeader(n, 3)
		}
		for _, c := range v.c {
			size += encodedLen(c)
		}
		if v.kind == KindSet {
			var hdr [extHeaderMax]byte
			size += extHeader(&hdr, size, SetExtType)
		}
		return size
	}
	return 1
}

// lenHeader returns the length of a header with an 8-, 16- or 32-bit length
// field, skipping the 8-bit form when min8 is 3.
func lenHeader(n, min8 int) int {
	switch {
	case n <= math.MaxUint8 && min8 == 2:
		return 2
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

// AppendEncode appends the canonical MessagePack encoding of v to dst and
// returns the extended buffer. On error it returns dst unchanged (its spare
// capacity may have been written) and an [*EncodeError].
func AppendEncode(dst []byte, v Value) ([]byte, error) {
	out, ok := appendValue(dst, v, 0, true)
	if !ok {
		if err := findEncodeError(v, 0, []byte("$")); err != nil {
			return dst, err
		}
		// Only a set whose payload exceeds 4 GiB gets here.
		return dst, &EncodeError{Path: "$", Msg: "set encoding longer than 4294967295 bytes"}
	}
	return out, nil
}

// appendCanonical appends the canonical encoding of v to dst. It never fails
// and validates nothing: strings are written as they are and nesting is not
// limited. It defines the order of map keys and set elements.
func appendCanonical(dst []byte, v Value) []byte {
	dst, _ = appendValue(dst, v, 0, false)
	return dst
}

// appendValue appends the canonical encoding of v, at the given nesting
// depth, to dst. When validate is set it stops and reports false at the
// first value that [Encode] must reject; findEncodeError then describes it.
func appendValue(dst []byte, v Value, depth int, validate bool) ([]byte, bool) {
	switch v.kind {
	case KindNil:
		return append(dst, 0xc0), true
	case KindBool:
		if v.n != 0 {
			return append(dst, 0xc3), true
		}
		return append(dst, 0xc2), true
	case KindInt:
		return appendInt(dst, int64(v.n)), true
	case KindFloat:
		bits := v.n
		if bits&0x7ff0000000000000 == 0x7ff0000000000000 && bits&0x000fffffffffffff != 0 {
			bits = canonicalNaN
		}
		return binary.BigEndian.AppendUint64(append(dst, 0xcb), bits), true
	case KindString:
		if validate && (tooLong(len(v.s)) || !utf8.ValidString(v.s)) {
			return dst, false
		}
		return append(appendStrHeader(dst, len(v.s)), v.s...), true
	case KindBytes:
		if validate && tooLong(len(v.s)) {
			return dst, false
		}
		return append(appendBinHeader(dst, len(v.s)), v.s...), true
	case KindList:
		depth++
		if validate && (depth > MaxDepth || tooLong(len(v.c))) {
			return dst, false
		}
		dst = appendArrayHeader(dst, len(v.c))
		return appendSeq(dst, v.c, depth, validate)
	case KindMap:
		depth++
		if validate && (depth > MaxDepth || tooLong(len(v.c)/2)) {
			return dst, false
		}
		dst = appendMapHeader(dst, len(v.c)/2)
		return appendSeq(dst, v.c, depth, validate)
	case KindSet:
		depth++
		if validate && (depth > MaxDepth || tooLong(len(v.c))) {
			return dst, false
		}
		// The extension header depends on the payload length: reserve the
		// longest header, write the payload, then close the gap.
		start := len(dst)
		dst = append(dst, 0, 0, 0, 0, 0, 0)
		dst = appendArrayHeader(dst, len(v.c))
		dst, ok := appendSeq(dst, v.c, depth, validate)
		if !ok {
			return dst, false
		}
		payload := len(dst) - start - extHeaderMax
		if validate && tooLong(payload) {
			return dst, false
		}
		var hdr [extHeaderMax]byte
		h := extHeader(&hdr, payload, SetExtType)
		copy(dst[start:], hdr[:h])
		copy(dst[start+h:], dst[start+extHeaderMax:])
		return dst[:len(dst)-(extHeaderMax-h)], true
	}
	// Values of unknown kind cannot be built outside this package.
	if validate {
		return dst, false
	}
	return append(dst, 0xc0), true
}

func appendSeq(dst []byte, vals []Value, depth int, validate bool) ([]byte, bool) {
	for i := range vals {
		var ok bool
		if dst, ok = appendValue(dst, vals[i], depth, validate); !ok {
			return dst, false
		}
	}
	return dst, true
}

// appendInt appends the shortest encoding of i: the unsigned forms for
// non-negative values and the signed forms for negative ones.
func appendInt(dst []byte, i int64) []byte {
	if i >= 0 {
		switch {
		case i <= 0x7f:
			return append(dst, byte(i))
		case i <= math.MaxUint8:
			return append(dst, 0xcc, byte(i))
		case i <= math.MaxUint16:
			return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(i))
		case i <= math.MaxUint32:
			return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(i))
		}
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), uint64(i))
	}
	switch {
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
}

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
}

func appendBinHeader(dst []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

// extHeader writes into hdr the shortest extension header for a payload of
// n bytes and returns its length.
func extHeader(hdr *[extHeaderMax]byte, n int, typ int8) int {
	switch n {
	case 1:
		hdr[0], hdr[1] = 0xd4, byte(typ)
		return 2
	case 2:
		hdr[0], hdr[1] = 0xd5, byte(typ)
		return 2
	case 4:
		hdr[0], hdr[1] = 0xd6, byte(typ)
		return 2
	case 8:
		hdr[0], hdr[1] = 0xd7, byte(typ)
		return 2
	case 16:
		hdr[0], hdr[1] = 0xd8, byte(typ)
		return 2
	}
	switch {
	case n <= math.MaxUint8:
		hdr[0], hdr[1], hdr[2] = 0xc7, byte(n), byte(typ)
		return 3
	case n <= math.MaxUint16:
		hdr[0] = 0xc8
		binary.BigEndian.PutUint16(hdr[1:], uint16(n))
		hdr[3] = byte(typ)
		return 4
	}
	hdr[0] = 0xc9
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	hdr[5] = byte(typ)
	return 6
}

// findEncodeError walks v the way appendValue does and describes the first
// value that appendValue rejects. It runs only after an encoding failed, so
// it may allocate.
func findEncodeError(v Value, depth int, path []byte) *EncodeError {
	fail := func(msg string) *EncodeError { return &EncodeError{Path: string(path), Msg: msg} }
	switch v.kind {
	case KindNil, KindBool, KindInt, KindFloat:
		return nil
	case KindString:
		if tooLong(len(v.s)) {
			return fail("string longer than 4294967295 bytes")
		}
		if !utf8.ValidString(v.s) {
			return fail("invalid UTF-8 in string at byte " + strconv.Itoa(invalidUTF8At(v.s)))
		}
		return nil
	case KindBytes:
		if tooLong(len(v.s)) {
			return fail("bytes longer than 4294967295 bytes")
		}
		return nil
	case KindList, KindMap, KindSet:
		depth++
		if depth > MaxDepth {
			return fail("nesting deeper than " + strconv.Itoa(MaxDepth))
		}
		n := len(v.c)
		if v.kind == KindMap {
			n /= 2
		}
		if tooLong(n) {
			return fail(v.kind.String() + " longer than 4294967295 entries")
		}
		for i, c := range v.c {
			p := path
			switch {
			case v.kind == KindList:
				p = append(append(append(p[:len(p):len(p)], '['), strconv.Itoa(i)...), ']')
			case v.kind == KindSet:
				p = append(append(append(p[:len(p):len(p)], "#["...), strconv.Itoa(i)...), ']')
			case i%2 == 0:
				p = append(append(append(p[:len(p):len(p)], '{'), c.String()...), '}')
			default:
				p = append(append(append(p[:len(p):len(p)], '['), v.c[i-1].String()...), ']')
			}
			if err := findEncodeError(c, depth, p); err != nil {
				return err
			}
		}
		return nil
	}
	return fail("invalid value kind " + v.kind.String())
}

// invalidUTF8At returns the byte offset of the first invalid UTF-8 sequence
// in s, or len(s).
func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}

// Decode decodes the MessagePack encoding of one value, which must span all
// of b. It accepts any well-formed encoding of a value, canonical or not:
// integers in longer forms than needed, float32, longer headers, map entries
// and set elements in any order. It rejects everything else with a
// [*DecodeError]: truncated input, trailing bytes, strings that are not
// valid UTF-8, unsigned integers above [math.MaxInt64], duplicate map keys
// or set elements (after canonicalisation), extension types other than
// [SetExtType], the unused byte 0xc1, and nesting deeper than [MaxDepth].
//
// Decode never panics. Declared lengths are checked against the input before
// anything is allocated, so memory use is proportional to len(b) (at most
// about 60 bytes per input byte, for containers of one-byte items). Strings
// and bytes are copied: the result does not alias b.
func Decode(b []byte) (Value, error) {
	v, n, err := DecodePrefix(b)
	if err != nil {
		return Value{}, err
	}
	if n != len(b) {
		return Value{}, &DecodeError{Offset: n, Msg: "trailing bytes after value (" + strconv.Itoa(len(b)-n) + " bytes)"}
	}
	return v, nil
}

// DecodePrefix decodes one value from the front of b as [Decode] does and
// returns it with the number of bytes it spans. Bytes after it are ignored.
func DecodePrefix(b []byte) (Value, int, error) {
	d := decoder{b: b, end: len(b)}
	v, n, err := d.value(0, 0)
	if err != nil {
		return Value{}, 0, err
	}
	return v, n, nil
}

// IsCanonical reports whether b is exactly the canonical encoding of a value:
// [Decode] accepts it and [Encode] of the result gives b back.
func IsCanonical(b []byte) bool {
	v, err := Decode(b)
	if err != nil {
		return false
	}
	// A decoded value always encodes: its strings are valid UTF-8 and its
	// depth is at most MaxDepth.
	return bytes.Equal(appendCanonical(make([]byte, 0, len(b)), v), b)
}

// Canonicalize decodes b as [Decode] does and returns the canonical encoding
// of the value. The result equals b exactly when [IsCanonical](b).
func Canonicalize(b []byte) ([]byte, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(b)), v), nil
}

// decoder holds the input and scratch space reused while decoding one value.
type decoder struct {
	b     []byte
	end   int  // the end of the input, or of the set payload being decoded
	inSet bool // whether end is the end of a set payload

	// keys is a stack holding, for each map or set being decoded, the
	// canonical encoding of its last key, to check that keys are ascending.
	keys []byte
	// offs is a stack of the input offsets of keys of the maps and sets
	// being decoded, for error messages in the unsorted case.
	offs []int
}

func (d *decoder) fail(off int, msg string) (Value, int, error) {
	return Value{}, 0, &DecodeError{Offset: off, Msg: msg}
}

// need reports an error unless n bytes follow p.
func (d *decoder) need(at, p int, n uint64, what string) error {
	if have := d.end - p; uint64(have) < n {
		return &DecodeError{Offset: at, Msg: "truncated " + what + " (need " +
			strconv.FormatUint(n, 10) + " bytes, have " + strconv.Itoa(have) + ")"}
	}
	return nil
}

// length reads a big-endian length of size bytes (1, 2 or 4) at p, for the
// value that starts at at.
func (d *decoder) length(at, p, size int, form string) (uint64, int, error) {
	if err := d.need(at, p, uint64(size), form+" header"); err != nil {
		return 0, 0, err
	}
	switch size {
	case 1:
		return uint64(d.b[p]), p + 1, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(d.b[p:])), p + 2, nil
	}
	return uint64(binary.BigEndian.Uint32(d.b[p:])), p + 4, nil
}

// value decodes the value that starts at p, inside containers nested depth
// deep, and returns it with the offset just after it.
func (d *decoder) value(p, depth int) (Value, int, error) {
	if p >= d.end {
		if d.inSet {
			return d.fail(p, "unexpected end of set payload")
		}
		return d.fail(p, "unexpected end of input")
	}
	c := d.b[p]
	switch {
	case c <= 0x7f:
		return Int(int64(c)), p + 1, nil
	case c >= 0xe0:
		return Int(int64(int8(c))), p + 1, nil
	case c <= 0x8f:
		return d.mapOrSet(p, p+1, uint64(c&0x0f), depth, "fixmap", 2)
	case c <= 0x9f:
		return d.list(p, p+1, uint64(c&0x0f), depth, "fixarray")
	case c <= 0xbf:
		return d.str(p, p+1, uint64(c&0x1f), "fixstr")
	}
	switch c {
	case 0xc0:
		return Value{}, p + 1, nil
	case 0xc1:
		return d.fail(p, "invalid byte 0xc1 (never used)")
	case 0xc2:
		return Bool(false), p + 1, nil
	case 0xc3:
		return Bool(true), p + 1, nil
	case 0xc4, 0xc5, 0xc6:
		size := 1 << (c - 0xc4)
		form := binForms[c-0xc4]
		n, q, err := d.length(p, p+1, size, form)
		if err != nil {
			return Value{}, 0, err
		}
		if err := d.need(p, q, n, form); err != nil {
			return Value{}, 0, err
		}
		return Value{kind: KindBytes, s: string(d.b[q : q+int(n)])}, q + int(n), nil
	case 0xc7, 0xc8, 0xc9:
		size := 1 << (c - 0xc7)
		form := extForms[c-0xc7]
		n, q, err := d.length(p, p+1, size, form)
		if err != nil {
			return Value{}, 0, err
		}
		return d.ext(p, q, n, depth, form)
	case 0xca:
		if err := d.need(p, p+1, 4, "float32"); err != nil {
			return Value{}, 0, err
		}
		f := math.Float32frombits(binary.BigEndian.Uint32(d.b[p+1:]))
		return Float(float64(f)), p + 5, nil
	case 0xcb:
		if err := d.need(p, p+1, 8, "float64"); err != nil {
			return Value{}, 0, err
		}
		return Float(math.Float64frombits(binary.BigEndian.Uint64(d.b[p+1:]))), p + 9, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		size := 1 << (c - 0xcc)
		if err := d.need(p, p+1, uint64(size), uintForms[c-0xcc]); err != nil {
			return Value{}, 0, err
		}
		var u uint64
		switch size {
		case 1:
			u = uint64(d.b[p+1])
		case 2:
			u = uint64(binary.BigEndian.Uint16(d.b[p+1:]))
		case 4:
			u = uint64(binary.BigEndian.Uint32(d.b[p+1:]))
		default:
			u = binary.BigEndian.Uint64(d.b[p+1:])
			if u > math.MaxInt64 {
				return d.fail(p, "integer out of int64 range ("+strconv.FormatUint(u, 10)+")")
			}
		}
		return Int(int64(u)), p + 1 + size, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		if err := d.need(p, p+1, uint64(size), intForms[c-0xd0]); err != nil {
			return Value{}, 0, err
		}
		var i int64
		switch size {
		case 1:
			i = int64(int8(d.b[p+1]))
		case 2:
			i = int64(int16(binary.BigEndian.Uint16(d.b[p+1:])))
		case 4:
			i = int64(int32(binary.BigEndian.Uint32(d.b[p+1:])))
		default:
			i = int64(binary.BigEndian.Uint64(d.b[p+1:]))
		}
		return Int(i), p + 1 + size, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(p, p+1, 1<<(c-0xd4), depth, fixextForms[c-0xd4])
	case 0xd9, 0xda, 0xdb:
		size := 1 << (c - 0xd9)
		form := strForms[c-0xd9]
		n, q, err := d.length(p, p+1, size, form)
		if err != nil {
			return Value{}, 0, err
		}
		return d.str(p, q, n, form)
	case 0xdc, 0xdd:
		form := arrayForms[c-0xdc]
		n, q, err := d.length(p, p+1, 2<<(c-0xdc), form)
		if err != nil {
			return Value{}, 0, err
		}
		return d.list(p, q, n, depth, form)
	}
	// 0xde, 0xdf
	form := mapForms[c-0xde]
	n, q, err := d.length(p, p+1, 2<<(c-0xde), form)
	if err != nil {
		return Value{}, 0, err
	}
	return d.mapOrSet(p, q, n, depth, form, 2)
}

var (
	binForms    = [...]string{"bin8", "bin16", "bin32"}
	extForms    = [...]string{"ext8", "ext16", "ext32"}
	fixextForms = [...]string{"fixext1", "fixext2", "fixext4", "fixext8", "fixext16"}
	uintForms   = [...]string{"uint8", "uint16", "uint32", "uint64"}
	intForms    = [...]string{"int8", "int16", "int32", "int64"}
	strForms    = [...]string{"str8", "str16", "str32"}
	arrayForms  = [...]string{"array16", "array32"}
	mapForms    = [...]string{"map16", "map32"}
)

// str decodes a string of n bytes at q whose header starts at p.
func (d *decoder) str(p, q int, n uint64, form string) (Value, int, error) {
	if err := d.need(p, q, n, form); err != nil {
		return Value{}, 0, err
	}
	s := d.b[q : q+int(n)]
	if !utf8.Valid(s) {
		return d.fail(p, "invalid UTF-8 in "+form+" at byte "+strconv.Itoa(invalidUTF8At(string(s))))
	}
	return Value{kind: KindString, s: string(s)}, q + int(n), nil
}

// enter checks the nesting depth and the declared length of a container
// whose header starts at p and whose entries (of stride values, at least
// one byte each) start at q.
func (d *decoder) enter(p, q int, n uint64, depth, stride int, form string) error {
	if depth > MaxDepth {
		return &DecodeError{Offset: p, Msg: "nesting deeper than " + strconv.Itoa(MaxDepth)}
	}
	if have := d.end - q; n > uint64(have)/uint64(stride) {
		what := " items"
		if stride == 2 {
			what = " entries"
		}
		return &DecodeError{Offset: p, Msg: form + " of " + strconv.FormatUint(n, 10) + what +
			" exceeds remaining input (" + strconv.Itoa(have) + " bytes)"}
	}
	return nil
}

// list decodes a list of n items at q whose header starts at p.
func (d *decoder) list(p, q int, n uint64, depth int, form string) (Value, int, error) {
	depth++
	if err := d.enter(p, q, n, depth, 1, form); err != nil {
		return Value{}, 0, err
	}
	if n == 0 {
		return Value{kind: KindList}, q, nil
	}
	items := make([]Value, n)
	for i := range items {
		var err error
		if items[i], q, err = d.value(q, depth); err != nil {
			return Value{}, 0, err
		}
	}
	return Value{kind: KindList, c: items}, q, nil
}

// ext decodes an extension value whose payload of n bytes starts at q and
// whose header starts at p. Only sets are supported.
func (d *decoder) ext(p, q int, n uint64, depth int, form string) (Value, int, error) {
	if err := d.need(p, q, n+1, form); err != nil {
		return Value{}, 0, err
	}
	if typ := int8(d.b[q]); typ != SetExtType {
		return d.fail(p, "unsupported ext type "+strconv.Itoa(int(typ)))
	}
	q++
	end := q + int(n)
	outer, outerInSet := d.end, d.inSet
	d.end, d.inSet = end, true

	// The payload is one array: the elements.
	if q >= end {
		return d.fail(q, "set payload is empty, want an array")
	}
	var count uint64
	var aform string
	a := q
	switch c := d.b[q]; {
	case c >= 0x90 && c <= 0x9f:
		count, q, aform = uint64(c&0x0f), q+1, "fixarray"
	case c == 0xdc || c == 0xdd:
		aform = arrayForms[c-0xdc]
		var err error
		if count, q, err = d.length(a, q+1, 2<<(c-0xdc), aform); err != nil {
			return Value{}, 0, err
		}
	default:
		return d.fail(q, "set payload is not an array")
	}
	v, q, err := d.mapOrSet(p, q, count, depth, aform, 1)
	if err != nil {
		return Value{}, 0, err
	}
	if q != end {
		return d.fail(q, "set payload has "+strconv.Itoa(end-q)+" trailing bytes")
	}
	d.end, d.inSet = outer, outerInSet
	return v, q, nil
}

// mapOrSet decodes n map entries (stride 2) or set elements (stride 1) at q,
// for a container whose header starts at p. Entries may come in any order;
// the result holds them in canonical order and duplicates are an error.
func (d *decoder) mapOrSet(p, q int, n uint64, depth int, form string, stride int) (Value, int, error) {
	depth++
	if err := d.enter(p, q, n, depth, stride, form); err != nil {
		return Value{}, 0, err
	}
	kind, what := KindMap, "map key"
	if stride == 1 {
		kind, what = KindSet, "set element"
	}
	if n == 0 {
		return Value{kind: kind}, q, nil
	}
	vals := make([]Value, int(n)*stride)
	keyBase, offBase := len(d.keys), len(d.offs)
	sorted := true
	for i := 0; i < len(vals); i += stride {
		off := q
		var err error
		if vals[i], q, err = d.value(q, depth); err != nil {
			return Value{}, 0, err
		}
		d.offs = append(d.offs, off)
		if sorted {
			// d.keys[keyBase:] holds the previous key's encoding.
			cur := len(d.keys)
			d.keys = appendCanonical(d.keys, vals[i])
			if i > 0 {
				switch bytes.Compare(d.keys[keyBase:cur], d.keys[cur:]) {
				case 0:
					return d.fail(off, "duplicate "+what)
				case 1:
					sorted = false
				}
			}
			d.keys = d.keys[:keyBase+copy(d.keys[keyBase:], d.keys[cur:])]
		}
		if stride == 2 {
			if vals[i+1], q, err = d.value(q, depth); err != nil {
				return Value{}, 0, err
			}
		}
	}
	offs := d.offs[offBase:]
	d.keys, d.offs = d.keys[:keyBase], d.offs[:offBase]
	if !sorted {
		var err error
		if vals, err = sortEntries(vals, offs, stride, what); err != nil {
			return Value{}, 0, err
		}
	}
	return Value{kind: kind, c: vals}, q, nil
}

// sortEntries returns vals (groups of stride values) sorted by the canonical
// encoding of the first value of each group, or an error naming the offset
// (from offs) of the later of two equal keys.
func sortEntries(vals []Value, offs []int, stride int, what string) ([]Value, error) {
	type keyed struct {
		enc []byte
		i   int
	}
	ks := make([]keyed, len(vals)/stride)
	var buf []byte
	for i := range ks {
		// Slices of buf stay valid when append moves it: the old array
		// keeps its contents.
		start := len(buf)
		buf = appendCanonical(buf, vals[i*stride])
		ks[i] = keyed{i: i, enc: buf[start:len(buf):len(buf)]}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
	out := make([]Value, 0, len(vals))
	for j, k := range ks {
		if j > 0 && bytes.Equal(ks[j-1].enc, k.enc) {
			return nil, &DecodeError{Offset: max(offs[k.i], offs[ks[j-1].i]), Msg: "duplicate " + what}
		}
		out = append(out, vals[k.i*stride:k.i*stride+stride]...)
	}
	return out, nil
}
