package squall

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Canonical MessagePack. Every value has exactly one encoding, the one the
// Squall ABI pins in abi/doc.go and abi/testdata/values.jsonl: shortest ints
// (unsigned forms for non-negative values), floats always float64 with one
// NaN, UTF-8 strings distinct from bytes, maps with unique keys sorted by
// their encoded bytes, sets as extension type 1 holding the sorted array of
// their elements, nesting at most MaxDepth. Partitioning hashes these bytes,
// so every SDK produces them byte for byte.

// MaxDepth is the deepest nesting of lists, maps and sets that [Encode] and
// [Decode] accept. A scalar has depth 0 and a container one more than its
// deepest child.
const MaxDepth = 128

// setExtType is the MessagePack extension type of a set.
const setExtType = 1

// EncodeError reports a value that has no canonical encoding: a string that
// is not valid UTF-8, or nesting deeper than [MaxDepth]. Path locates the
// value: "$" is the value itself, "[3]" item 3 of a list, "#[3]" element 3
// of a set, "[k]" the value under key k of a map and "{k}" the key itself.
type EncodeError struct {
	Path string
	Msg  string
}

func (e *EncodeError) Error() string { return "squall: encode: " + e.Path + ": " + e.Msg }

// DecodeError reports bytes that are not the MessagePack encoding of a
// value. Offset is the byte offset of the value, header or byte at fault.
type DecodeError struct {
	Offset int
	Msg    string
	// reason is the category of abi/testdata/invalid.jsonl.
	reason string
}

func (e *DecodeError) Error() string {
	return "squall: decode: byte offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Encode returns the canonical MessagePack encoding of v.
func Encode(v Value) ([]byte, error) { return AppendEncode(nil, v) }

// AppendEncode appends the canonical MessagePack encoding of v to dst. On
// error it returns dst (its spare capacity may have been written) and an
// [*EncodeError].
func AppendEncode(dst []byte, v Value) ([]byte, error) { return appendEncode(dst, &v) }

// appendEncode is AppendEncode of *v.
func appendEncode(dst []byte, v *Value) ([]byte, error) {
	out, ok := appendValue(dst, v, 0, true)
	if !ok {
		if err := findEncodeError(*v, 0, "$"); err != nil {
			return dst, err
		}
		return dst, &EncodeError{Path: "$", Msg: "value too large to encode"}
	}
	return out, nil
}

// appendCanonical appends the canonical encoding of v without validating
// it: the key order of maps and sets.
func appendCanonical(dst []byte, v *Value) []byte {
	dst, _ = appendValue(dst, v, 0, false)
	return dst
}

// cmpCanonical compares the canonical encodings of a and b, as
// bytes.Compare would, without building them for strings and ints.
func cmpCanonical(a, b *Value) int {
	switch {
	case a.kind == KindString && b.kind == KindString:
		// The header orders strings of different lengths; equal headers
		// leave the contents.
		var ha, hb [5]byte
		if c := bytes.Compare(appendLenHeader(ha[:0], len(a.s), 0xa0, 32, 0xd9), appendLenHeader(hb[:0], len(b.s), 0xa0, 32, 0xd9)); c != 0 {
			return c
		}
		return strings.Compare(a.s, b.s)
	case a.kind == KindInt && b.kind == KindInt:
		var ea, eb [9]byte
		return bytes.Compare(appendInt(ea[:0], int64(a.n)), appendInt(eb[:0], int64(b.n)))
	}
	var ea, eb [64]byte
	return bytes.Compare(appendCanonical(ea[:0], a), appendCanonical(eb[:0], b))
}

func tooLong(n int) bool { return uint64(n) > math.MaxUint32 }

// appendValue appends v at nesting depth. With validate set it stops and
// reports false at the first value Encode must reject.
//
// v is a pointer, as in the decoder: a Value copied is a call to memmove
// in Go's WebAssembly code.
func appendValue(dst []byte, v *Value, depth int, validate bool) ([]byte, bool) {
	switch v.kind {
	case KindNil:
		return append(dst, 0xc0), true
	case KindBool:
		if v.n == 1 {
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
		if validate && (tooLong(len(v.s)) || !isValidString(v.s)) {
			return dst, false
		}
		if len(v.s) < 32 {
			return append(append(dst, 0xa0|byte(len(v.s))), v.s...), true
		}
		return append(appendLenHeader(dst, len(v.s), 0xa0, 32, 0xd9), v.s...), true
	case KindBytes:
		if validate && tooLong(len(v.s)) {
			return dst, false
		}
		return append(appendLenHeader(dst, len(v.s), 0, 0, 0xc4), v.s...), true
	case KindList, KindMap, KindSet:
		depth++
		n := len(v.c)
		if v.kind == KindMap {
			n /= 2
		}
		if validate && (depth > MaxDepth || tooLong(n)) {
			return dst, false
		}
		if v.kind == KindMap {
			dst = appendLenHeader(dst, n, 0x80, 16, 0xde-1)
			return appendSeq(dst, v.c, depth, validate)
		}
		if v.kind == KindList {
			dst = appendLenHeader(dst, n, 0x90, 16, 0xdc-1)
			return appendSeq(dst, v.c, depth, validate)
		}
		// A set: the extension header depends on the payload length, so
		// reserve the longest header, write the payload, then close the gap.
		const maxExtHeader = 6
		start := len(dst)
		dst = append(dst, make([]byte, maxExtHeader)...)
		dst = appendLenHeader(dst, n, 0x90, 16, 0xdc-1)
		dst, ok := appendSeq(dst, v.c, depth, validate)
		if !ok {
			return dst, false
		}
		payload := len(dst) - start - maxExtHeader
		if validate && tooLong(payload) {
			return dst, false
		}
		var hdr [maxExtHeader]byte
		h := extHeader(hdr[:], payload)
		copy(dst[start:], hdr[:h])
		copy(dst[start+h:], dst[start+maxExtHeader:])
		return dst[:len(dst)-(maxExtHeader-h)], true
	}
	return dst, false
}

func appendSeq(dst []byte, vals []Value, depth int, validate bool) ([]byte, bool) {
	for i := range vals {
		var ok bool
		if dst, ok = appendValue(dst, &vals[i], depth, validate); !ok {
			return dst, false
		}
	}
	return dst, true
}

// appendInt appends the shortest encoding of i: unsigned forms for
// non-negative values, signed forms for negative ones.
func appendInt(dst []byte, i int64) []byte {
	if uint64(i) <= 0x7f {
		return append(dst, byte(i))
	}
	switch {
	case i >= 0 && i <= 0x7f, i < 0 && i >= -32:
		return append(dst, byte(i))
	case i > 0 && i <= math.MaxUint8:
		return append(dst, 0xcc, byte(i))
	case i > 0 && i <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(i))
	case i > 0 && i <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(i))
	case i > 0:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), uint64(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
}

// appendLenHeader appends the shortest header for a length n: the fix form
// fix|n when n < fixMax, else the 8-bit (code8; strings and bytes only),
// 16-bit and 32-bit forms, whose codes follow code8. Arrays and maps have
// no 8-bit form: they pass code8 one below their 16-bit code.
func appendLenHeader(dst []byte, n int, fix byte, fixMax int, code8 byte) []byte {
	hasLen8 := code8 == 0xd9 || code8 == 0xc4
	switch {
	case n < fixMax:
		return append(dst, fix|byte(n))
	case hasLen8 && n <= math.MaxUint8:
		return append(dst, code8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, code8+1), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, code8+2), uint32(n))
}

// extHeader writes the shortest extension header of a set payload of n
// bytes into hdr and returns its length.
func extHeader(hdr []byte, n int) int {
	switch n {
	case 1, 2, 4, 8, 16:
		hdr[0], hdr[1] = 0xd4+byte(bitsLen(n)), setExtType
		return 2
	}
	switch {
	case n <= math.MaxUint8:
		hdr[0], hdr[1], hdr[2] = 0xc7, byte(n), setExtType
		return 3
	case n <= math.MaxUint16:
		hdr[0] = 0xc8
		binary.BigEndian.PutUint16(hdr[1:], uint16(n))
		hdr[3] = setExtType
		return 4
	}
	hdr[0] = 0xc9
	binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	hdr[5] = setExtType
	return 6
}

// bitsLen returns log2 of a power of two from 1 to 16.
func bitsLen(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}

// findEncodeError describes the first value appendValue rejects.
func findEncodeError(v Value, depth int, path string) *EncodeError {
	switch v.kind {
	case KindString:
		if tooLong(len(v.s)) {
			return &EncodeError{Path: path, Msg: "string longer than 4294967295 bytes"}
		}
		if !utf8.ValidString(v.s) {
			return &EncodeError{Path: path, Msg: "invalid UTF-8 in string at byte " + strconv.Itoa(invalidUTF8At([]byte(v.s)))}
		}
	case KindBytes:
		if tooLong(len(v.s)) {
			return &EncodeError{Path: path, Msg: "bytes longer than 4294967295 bytes"}
		}
	case KindList, KindMap, KindSet:
		depth++
		if depth > MaxDepth {
			return &EncodeError{Path: path, Msg: "nesting deeper than " + strconv.Itoa(MaxDepth)}
		}
		for i, c := range v.c {
			var p string
			switch {
			case v.kind == KindList:
				p = path + "[" + strconv.Itoa(i) + "]"
			case v.kind == KindSet:
				p = path + "#[" + strconv.Itoa(i) + "]"
			case i%2 == 0:
				p = path + "{" + c.String() + "}"
			default:
				p = path + "[" + v.c[i-1].String() + "]"
			}
			if err := findEncodeError(c, depth, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// isValidString and validBytes report whether s is valid UTF-8.
func isValidString(s string) bool { return shortASCII(s) || utf8.ValidString(s) }
func validBytes(s []byte) bool    { return shortASCII(s) || utf8.Valid(s) }

// shortASCII reports whether s is at most 16 bytes of ASCII, the common
// case, without a loop: in Go's WebAssembly code every loop iteration is
// a jump through the function's dispatch loop, which made
// utf8.ValidString a tenth of the guest's time on short words.
func shortASCII[T string | []byte](s T) bool {
	n := len(s)
	var or byte
	switch {
	case n == 0:
		return true
	case n < 4:
		or = s[0] | s[n>>1] | s[n-1]
	case n <= 8:
		or = s[0] | s[1] | s[2] | s[3] | s[n-4] | s[n-3] | s[n-2] | s[n-1]
	case n <= 16:
		or = s[0] | s[1] | s[2] | s[3] | s[4] | s[5] | s[6] | s[7] |
			s[n-8] | s[n-7] | s[n-6] | s[n-5] | s[n-4] | s[n-3] | s[n-2] | s[n-1]
	default:
		return false
	}
	return or < utf8.RuneSelf
}

func invalidUTF8At(s []byte) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(s)
}

// Decode decodes one MessagePack value spanning all of b. It accepts every
// well-formed encoding of a value, canonical or not (longer int and header
// forms, float32, unsorted map entries and set elements), and builds the
// canonical value. It rejects, with a [*DecodeError], truncated input,
// trailing bytes, invalid UTF-8, uint64 values above 2^63-1, duplicate map
// keys or set elements, extension types other than sets, the byte 0xc1 and
// nesting deeper than [MaxDepth]. Declared lengths are checked against the
// input before anything is allocated. The result does not alias b.
func Decode(b []byte) (Value, error) {
	d := decoder{b: b, end: len(b), whole: true}
	var v Value
	n, err := d.value(&v, 0, 0)
	if err != nil {
		return Value{}, err
	}
	if n != len(b) {
		return Value{}, &DecodeError{Offset: n, Msg: "trailing bytes after value (" + strconv.Itoa(len(b)-n) + " bytes)", reason: "trailing_bytes"}
	}
	return v, nil
}

// DecodePrefix decodes one value from the front of b, as [Decode] does, and
// returns it with the number of bytes it spans.
func DecodePrefix(b []byte) (Value, int, error) {
	d := decoder{b: b, end: len(b)}
	var v Value
	n, err := d.value(&v, 0, 0)
	if err != nil {
		return Value{}, 0, err
	}
	return v, n, nil
}

// IsCanonical reports whether b is exactly the canonical encoding of a
// value.
func IsCanonical(b []byte) bool {
	v, err := Decode(b)
	return err == nil && bytes.Equal(appendCanonical(make([]byte, 0, len(b)), &v), b)
}

// Canonicalize decodes b and returns the canonical encoding of its value.
func Canonicalize(b []byte) ([]byte, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return appendCanonical(make([]byte, 0, len(b)), &v), nil
}

type decoder struct {
	b     []byte
	end   int  // end of the input, or of the set payload being read
	inSet bool // end is the end of a set payload
	// whole: b is exactly the value (Decode), so strings and bytes can be
	// substrings of one copy of b, src, made at the first one.
	whole bool
	src   string
}

// text returns b[p:q] as a string that does not alias b.
func (d *decoder) text(p, q int) string {
	if !d.whole {
		return string(d.b[p:q])
	}
	if d.src == "" {
		d.src = string(d.b)
	}
	return d.src[p:q]
}

func (d *decoder) fail(off int, reason, msg string) (int, error) {
	return 0, &DecodeError{Offset: off, Msg: msg, reason: reason}
}

// need fails unless n bytes follow p, for the value at at.
func (d *decoder) need(at, p int, n uint64, what, reason string) error {
	if have := d.end - p; have < 0 || uint64(have) < n {
		return &DecodeError{Offset: at, reason: reason, Msg: "truncated " + what + " (need " +
			strconv.FormatUint(n, 10) + " bytes, have " + strconv.Itoa(max(have, 0)) + ")"}
	}
	return nil
}

// length reads a big-endian length field of size bytes at p.
func (d *decoder) length(at, p, size int, form string) (uint64, int, error) {
	if err := d.need(at, p, uint64(size), form+" header", "truncated"); err != nil {
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

// lengthReason is the category of a string, bytes or extension body longer
// than the input: the 32-bit forms are how huge lengths arrive.
func lengthReason(size int) string {
	if size == 4 {
		return "length_exceeds_input"
	}
	return "truncated"
}

var (
	uintNames  = [...]string{"uint8", "uint16", "uint32", "uint64"}
	intNames   = [...]string{"int8", "int16", "int32", "int64"}
	strNames   = [...]string{"str8", "str16", "str32"}
	binNames   = [...]string{"bin8", "bin16", "bin32"}
	extNames   = [...]string{"ext8", "ext16", "ext32"}
	fixextName = [...]string{"fixext1", "fixext2", "fixext4", "fixext8", "fixext16"}
)

// value decodes the value at p, inside containers nested depth deep,
// into *out, which is the zero Value, and returns the offset after it.
// Values are written in place: in Go's WebAssembly code a Value (56
// bytes) copied is a call to memmove.
func (d *decoder) value(out *Value, p, depth int) (int, error) {
	if p >= d.end {
		if d.inSet {
			return d.fail(p, "truncated", "unexpected end of set payload")
		}
		return d.fail(p, "truncated", "unexpected end of input")
	}
	c := d.b[p]
	switch {
	case c <= 0x7f:
		out.kind, out.n = KindInt, uint64(int64(c))
		return p + 1, nil
	case c >= 0xe0:
		out.kind, out.n = KindInt, uint64(int64(int8(c)))
		return p + 1, nil
	case c <= 0x8f:
		return d.group(out, p, p+1, uint64(c&0x0f), depth, "fixmap", 2)
	case c <= 0x9f:
		return d.list(out, p, p+1, uint64(c&0x0f), depth, "fixarray")
	case c <= 0xbf:
		return d.str(out, p, p+1, uint64(c&0x1f), "fixstr", 1)
	}
	switch c {
	case 0xc0:
		return p + 1, nil
	case 0xc1:
		return d.fail(p, "reserved_byte", "invalid byte 0xc1 (never used)")
	case 0xc2:
		out.kind = KindBool
		return p + 1, nil
	case 0xc3:
		out.kind, out.n = KindBool, 1
		return p + 1, nil
	case 0xc4, 0xc5, 0xc6:
		size := 1 << (c - 0xc4)
		n, q, err := d.length(p, p+1, size, binNames[c-0xc4])
		if err != nil {
			return 0, err
		}
		if err := d.need(p, q, n, binNames[c-0xc4], lengthReason(size)); err != nil {
			return 0, err
		}
		out.kind, out.s = KindBytes, d.text(q, q+int(n))
		return q + int(n), nil
	case 0xc7, 0xc8, 0xc9:
		size := 1 << (c - 0xc7)
		n, q, err := d.length(p, p+1, size, extNames[c-0xc7])
		if err != nil {
			return 0, err
		}
		return d.ext(out, p, q, n, depth, extNames[c-0xc7], lengthReason(size))
	case 0xca:
		if err := d.need(p, p+1, 4, "float32", "truncated"); err != nil {
			return 0, err
		}
		*out = Float(float64(math.Float32frombits(binary.BigEndian.Uint32(d.b[p+1:]))))
		return p + 5, nil
	case 0xcb:
		if err := d.need(p, p+1, 8, "float64", "truncated"); err != nil {
			return 0, err
		}
		*out = Float(math.Float64frombits(binary.BigEndian.Uint64(d.b[p+1:])))
		return p + 9, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		size := 1 << (c - 0xcc)
		if err := d.need(p, p+1, uint64(size), uintNames[c-0xcc], "truncated"); err != nil {
			return 0, err
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
		}
		if u > math.MaxInt64 {
			return d.fail(p, "int_out_of_range", "integer out of int64 range ("+strconv.FormatUint(u, 10)+")")
		}
		out.kind, out.n = KindInt, uint64(int64(u))
		return p + 1 + size, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		if err := d.need(p, p+1, uint64(size), intNames[c-0xd0], "truncated"); err != nil {
			return 0, err
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
		out.kind, out.n = KindInt, uint64(i)
		return p + 1 + size, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(out, p, p+1, 1<<(c-0xd4), depth, fixextName[c-0xd4], "truncated")
	case 0xd9, 0xda, 0xdb:
		size := 1 << (c - 0xd9)
		n, q, err := d.length(p, p+1, size, strNames[c-0xd9])
		if err != nil {
			return 0, err
		}
		return d.str(out, p, q, n, strNames[c-0xd9], size)
	case 0xdc, 0xdd:
		form := [...]string{"array16", "array32"}[c-0xdc]
		n, q, err := d.length(p, p+1, 2<<(c-0xdc), form)
		if err != nil {
			return 0, err
		}
		return d.list(out, p, q, n, depth, form)
	}
	form := [...]string{"map16", "map32"}[c-0xde]
	n, q, err := d.length(p, p+1, 2<<(c-0xde), form)
	if err != nil {
		return 0, err
	}
	return d.group(out, p, q, n, depth, form, 2)
}

func (d *decoder) str(out *Value, p, q int, n uint64, form string, size int) (int, error) {
	if err := d.need(p, q, n, form, lengthReason(size)); err != nil {
		return 0, err
	}
	s := d.b[q : q+int(n)]
	if !validBytes(s) {
		return d.fail(p, "invalid_utf8", "invalid UTF-8 in "+form+" at byte "+strconv.Itoa(invalidUTF8At(s)))
	}
	out.kind, out.s = KindString, d.text(q, q+int(n))
	return q + int(n), nil
}

// enter checks the depth and the declared count of a container whose
// header is at p and whose entries (stride values of at least one byte
// each) start at q.
func (d *decoder) enter(p, q int, n uint64, depth, stride int, form string) error {
	if depth > MaxDepth {
		return &DecodeError{Offset: p, reason: "too_deep", Msg: "nesting deeper than " + strconv.Itoa(MaxDepth)}
	}
	if have := d.end - q; n > uint64(max(have, 0))/uint64(stride) {
		what := " items"
		if stride == 2 {
			what = " entries"
		}
		return &DecodeError{Offset: p, reason: "length_exceeds_input", Msg: form + " of " + strconv.FormatUint(n, 10) + what +
			" exceeds remaining input (" + strconv.Itoa(max(have, 0)) + " bytes)"}
	}
	return nil
}

func (d *decoder) list(out *Value, p, q int, n uint64, depth int, form string) (int, error) {
	depth++
	if err := d.enter(p, q, n, depth, 1, form); err != nil {
		return 0, err
	}
	if n == 0 {
		out.kind = KindList
		return q, nil
	}
	items := make([]Value, n)
	for i := range items {
		var err error
		if q, err = d.value(&items[i], q, depth); err != nil {
			return 0, err
		}
	}
	out.kind, out.c = KindList, items
	return q, nil
}

// ext decodes an extension whose header is at p and whose type byte and
// payload of n bytes start at q. Only sets exist.
func (d *decoder) ext(out *Value, p, q int, n uint64, depth int, form, reason string) (int, error) {
	if err := d.need(p, q, n+1, form, reason); err != nil {
		return 0, err
	}
	if t := int8(d.b[q]); t != setExtType {
		return d.fail(p, "unsupported_ext", "unsupported ext type "+strconv.Itoa(int(t)))
	}
	q++
	end := q + int(n)
	outerEnd, outerInSet := d.end, d.inSet
	d.end, d.inSet = end, true
	if q >= end {
		return d.fail(q, "bad_set_payload", "set payload is empty, want an array")
	}
	var count uint64
	var aform string
	switch c := d.b[q]; {
	case c >= 0x90 && c <= 0x9f:
		count, aform = uint64(c&0x0f), "fixarray"
		q++
	case c == 0xdc || c == 0xdd:
		aform = [...]string{"array16", "array32"}[c-0xdc]
		var err error
		if count, q, err = d.length(q, q+1, 2<<(c-0xdc), aform); err != nil {
			return 0, err
		}
	default:
		return d.fail(q, "bad_set_payload", "set payload is not an array")
	}
	q, err := d.group(out, p, q, count, depth, aform, 1)
	if err != nil {
		return 0, err
	}
	if q != end {
		return d.fail(q, "bad_set_payload", "set payload has "+strconv.Itoa(end-q)+" trailing bytes")
	}
	d.end, d.inSet = outerEnd, outerInSet
	return q, nil
}

// group decodes n map entries (stride 2) or set elements (stride 1) at q,
// for the container whose header is at p, in any order, into canonical
// order; duplicates are errors.
func (d *decoder) group(out *Value, p, q int, n uint64, depth int, form string, stride int) (int, error) {
	depth++
	if err := d.enter(p, q, n, depth, stride, form); err != nil {
		return 0, err
	}
	kind, what, reason := KindMap, "map key", "duplicate_map_key"
	if stride == 1 {
		kind, what, reason = KindSet, "set element", "duplicate_set_element"
	}
	if n == 0 {
		out.kind = kind
		return q, nil
	}
	vals := make([]Value, int(n)*stride)
	var offBuf [16]int
	offs := offBuf[:0]
	if n > uint64(len(offBuf)) {
		offs = make([]int, 0, n)
	}
	sorted := true
	for i := 0; i < len(vals); i += stride {
		offs = append(offs, q)
		var err error
		if q, err = d.value(&vals[i], q, depth); err != nil {
			return 0, err
		}
		if sorted && i > 0 {
			switch cmpCanonical(&vals[i-stride], &vals[i]) {
			case 0:
				return d.fail(offs[i/stride], reason, "duplicate "+what)
			case 1:
				sorted = false
			}
		}
		if stride == 2 {
			if q, err = d.value(&vals[i+1], q, depth); err != nil {
				return 0, err
			}
		}
	}
	if !sorted {
		type keyed struct {
			enc []byte
			i   int
		}
		ks := make([]keyed, n)
		var buf []byte
		for i := range ks {
			start := len(buf)
			buf = appendCanonical(buf, &vals[i*stride])
			ks[i] = keyed{enc: buf[start:len(buf):len(buf)], i: i}
		}
		slices.SortFunc(ks, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
		sortedVals := make([]Value, 0, len(vals))
		for j, k := range ks {
			if j > 0 && bytes.Equal(ks[j-1].enc, k.enc) {
				return d.fail(max(offs[k.i], offs[ks[j-1].i]), reason, "duplicate "+what)
			}
			sortedVals = append(sortedVals, vals[k.i*stride:k.i*stride+stride]...)
		}
		vals = sortedVals
	}
	out.kind, out.c = kind, vals
	return q, nil
}
