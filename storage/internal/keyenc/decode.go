package keyenc

import (
	"bytes"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/squall-run/squall/abi"
)

// canonicalNaN is the only NaN bit pattern an abi.Value holds.
const canonicalNaN = 0x7FF8000000000000

// Decode decodes one element from the front of b and returns it with the
// number of bytes it took. Bytes after the element are not examined. It
// returns an [*Error] when b does not start with the canonical encoding of a
// value.
func Decode(b []byte) (abi.Value, int, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return abi.Value{}, 0, err
	}
	return v, d.off, nil
}

// DecodeTuple decodes a whole tuple: the concatenation of the encodings of
// zero or more values. It returns an [*Error] when b is not exactly such a
// concatenation (for example when a 0x00 byte follows an element).
func DecodeTuple(b []byte) ([]abi.Value, error) {
	d := decoder{b: b}
	var out []abi.Value
	for d.off < len(b) {
		v, err := d.value(0)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

type decoder struct {
	b   []byte
	off int
}

func (d *decoder) errf(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// value decodes one element at d.off and advances past it.
func (d *decoder) value(depth int) (abi.Value, error) {
	start := d.off
	if start >= len(d.b) {
		return abi.Value{}, d.errf(start, "unexpected end of input, want an element tag")
	}
	tag := d.b[start]
	d.off++
	switch {
	case tag == tagNil:
		return abi.Nil(), nil
	case tag == tagFalse:
		return abi.Bool(false), nil
	case tag == tagTrue:
		return abi.Bool(true), nil
	case tag >= tagIntZero-8 && tag <= tagIntZero+8:
		return d.int(tag)
	case tag == tagFloat:
		return d.float()
	case tag == tagString:
		s, err := d.escaped()
		if err != nil {
			return abi.Value{}, err
		}
		if !utf8.Valid(s) {
			return abi.Value{}, d.errf(start, "string is not valid UTF-8")
		}
		return abi.String(string(s)), nil
	case tag == tagBytes:
		s, err := d.escaped()
		if err != nil {
			return abi.Value{}, err
		}
		return abi.Bytes(s), nil
	case tag == tagList, tag == tagMap, tag == tagSet:
		return d.container(tag, start, depth)
	case tag == tagTerm:
		return abi.Value{}, d.errf(start, "byte 0x00 cannot start an element")
	}
	return abi.Value{}, d.errf(start, "unknown tag 0x%02X", tag)
}

func (d *decoder) int(tag byte) (abi.Value, error) {
	start := d.off - 1
	if tag == tagIntZero {
		return abi.Int(0), nil
	}
	neg := tag < tagIntZero
	n := int(tag) - tagIntZero
	if neg {
		n = -n
	}
	if len(d.b)-d.off < n {
		return abi.Value{}, d.errf(start, "int with tag 0x%02X needs %d bytes, only %d left", tag, n, len(d.b)-d.off)
	}
	var mag uint64
	for _, c := range d.b[d.off : d.off+n] {
		if neg {
			c = ^c
		}
		mag = mag<<8 | uint64(c)
	}
	if mag>>(8*(n-1)) == 0 {
		return abi.Value{}, d.errf(start, "int is not minimally encoded (leading zero magnitude byte)")
	}
	d.off += n
	if neg {
		if mag > 1<<63 {
			return abi.Value{}, d.errf(start, "negative int magnitude %d overflows int64", mag)
		}
		return abi.Int(int64(-mag)), nil
	}
	if mag > math.MaxInt64 {
		return abi.Value{}, d.errf(start, "int %d overflows int64", mag)
	}
	return abi.Int(int64(mag)), nil
}

func (d *decoder) float() (abi.Value, error) {
	start := d.off - 1
	if len(d.b)-d.off < 8 {
		return abi.Value{}, d.errf(start, "float needs 8 bytes, only %d left", len(d.b)-d.off)
	}
	var bits uint64
	for _, c := range d.b[d.off : d.off+8] {
		bits = bits<<8 | uint64(c)
	}
	if bits>>63 != 0 {
		bits &^= 1 << 63
	} else {
		bits = ^bits
	}
	f := math.Float64frombits(bits)
	if f != f && bits != canonicalNaN {
		return abi.Value{}, d.errf(start, "float is a non-canonical NaN (bits 0x%016X)", bits)
	}
	d.off += 8
	return abi.Float(f), nil
}

// escaped decodes the payload of a string or bytes element: 0x00 0xFF is an
// escaped 0x00 and any other 0x00 terminates. The result may share memory
// with the input; the abi constructors copy it.
func (d *decoder) escaped() ([]byte, error) {
	start := d.off - 1
	rest := d.b[d.off:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return nil, d.errf(start, "unterminated %s (no 0x00 terminator)", tagName(d.b[start]))
	}
	if i+1 >= len(rest) || rest[i+1] != escByte {
		// The common case: no escapes.
		d.off += i + 1
		return rest[:i], nil
	}
	out := make([]byte, 0, len(rest))
	for {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil, d.errf(start, "unterminated %s (no 0x00 terminator)", tagName(d.b[start]))
		}
		out = append(out, rest[:i]...)
		if i+1 < len(rest) && rest[i+1] == escByte {
			out = append(out, 0)
			rest = rest[i+2:]
			continue
		}
		d.off = len(d.b) - len(rest) + i + 1
		return out, nil
	}
}

func (d *decoder) container(tag byte, start, depth int) (abi.Value, error) {
	if depth >= MaxDepth {
		return abi.Value{}, d.errf(start, "containers nested more than %d deep", MaxDepth)
	}
	var items []abi.Value
	prevStart, prevEnd := -1, -1 // encoding of the previous map key or set element
	for i := 0; ; i++ {
		if d.off >= len(d.b) {
			return abi.Value{}, d.errf(start, "unterminated %s (no 0x00 terminator)", tagName(tag))
		}
		if d.b[d.off] == tagTerm {
			d.off++
			break
		}
		elemStart := d.off
		v, err := d.value(depth + 1)
		if err != nil {
			return abi.Value{}, err
		}
		items = append(items, v)
		isKey := tag == tagSet || tag == tagMap && i%2 == 0
		if !isKey {
			continue
		}
		if prevStart >= 0 {
			c := bytes.Compare(d.b[prevStart:prevEnd], d.b[elemStart:d.off])
			if c == 0 {
				return abi.Value{}, d.errf(elemStart, "%s holds %s twice", tagName(tag), elemWord(tag))
			}
			if c > 0 {
				return abi.Value{}, d.errf(elemStart, "%s %ss are not in ascending order", tagName(tag), elemWord(tag))
			}
		}
		prevStart, prevEnd = elemStart, d.off
	}
	switch tag {
	case tagList:
		return abi.List(items...), nil
	case tagSet:
		return abi.Set(items...), nil
	}
	if len(items)%2 != 0 {
		return abi.Value{}, d.errf(d.off-1, "map ends after a key with no value")
	}
	entries := make([]abi.MapEntry, len(items)/2)
	for i := range entries {
		entries[i] = abi.MapEntry{Key: items[2*i], Val: items[2*i+1]}
	}
	return abi.Map(entries...), nil
}

func tagName(tag byte) string {
	switch tag {
	case tagString:
		return "string"
	case tagBytes:
		return "bytes"
	case tagList:
		return "list"
	case tagMap:
		return "map"
	case tagSet:
		return "set"
	}
	return fmt.Sprintf("tag 0x%02X", tag)
}

func elemWord(tag byte) string {
	if tag == tagMap {
		return "key"
	}
	return "element"
}
