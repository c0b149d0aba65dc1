package squall

import (
	"bytes"
	"math"
	"slices"
	"strconv"
)

// Kind is the type of a [Value].
//
// The numeric order of the kinds is the order of values of different kinds
// in sorted PState collections (see [Compare]): every nil sorts before every
// bool, every bool before every int, and so on.
type Kind uint8

// The kinds of values, in their sort order.
const (
	KindNil Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindBytes
	KindList
	KindMap
	KindSet
)

var kindNames = [...]string{"nil", "bool", "int", "float", "string", "bytes", "list", "map", "set"}

// String returns the kind's name: nil, bool, int, float, string, bytes,
// list, map or set.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is an immutable Squall value: nil, a bool, a 64-bit int, a 64-bit
// float, a UTF-8 string, bytes, a list, a map (whose keys may be any value,
// lists included) or a set. It is what records, hop payloads, PState keys
// and values, and query results are made of.
//
// The zero Value is nil. Values are small and passed by value; the contents
// of strings, bytes and containers are shared and never modified. Map
// entries and set elements are kept in canonical order (by the canonical
// MessagePack encoding of the key), which is also the order [Value.Entries]
// and [Value.Items] return them in.
//
// Build values with [Nil], [Bool], [Int], [Float], [String], [Bytes],
// [List], [Map] and [Set], or convert ordinary Go values with [ValueOf].
// Read them with the As methods, or convert them back with [As] and
// [Unmarshal].
type Value struct {
	kind Kind
	n    uint64  // bool (0 or 1), int64 bits, float64 bits
	s    string  // string or bytes contents
	c    []Value // list items; set elements; map entries as k0, v0, k1, v1, ...
}

// MapEntry is one key and value of a map.
type MapEntry struct {
	Key, Val Value
}

// canonicalNaN is the only NaN bit pattern a Value holds.
const canonicalNaN = 0x7ff8000000000000

// Nil returns the nil value (the zero Value).
func Nil() Value { return Value{} }

// Bool returns a bool value.
func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, n: 1}
	}
	return Value{kind: KindBool}
}

// Int returns an int value.
func Int(i int64) Value { return Value{kind: KindInt, n: uint64(i)} }

// Float returns a float value. Every NaN becomes the one canonical NaN;
// negative zero stays distinct from zero.
func Float(f float64) Value {
	if f != f {
		return Value{kind: KindFloat, n: canonicalNaN}
	}
	return Value{kind: KindFloat, n: math.Float64bits(f)}
}

// String returns a string value. s must be valid UTF-8 to be encoded:
// encoding a value holding invalid UTF-8 fails with an [*EncodeError].
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bytes returns a bytes value holding a copy of b.
func Bytes(b []byte) Value { return Value{kind: KindBytes, s: string(b)} }

// List returns a list of items. The slice is not copied: do not modify it
// afterwards.
func List(items ...Value) Value { return Value{kind: KindList, c: items} }

// Set returns a set of elems, in canonical order, without duplicates.
func Set(elems ...Value) Value {
	if len(elems) == 0 {
		return Value{kind: KindSet}
	}
	return Value{kind: KindSet, c: sortUnique(append([]Value(nil), elems...), 1)}
}

// Map returns a map of entries, in canonical order. When a key appears more
// than once, the last entry wins.
func Map(entries ...MapEntry) Value {
	if len(entries) == 0 {
		return Value{kind: KindMap}
	}
	flat := make([]Value, 0, 2*len(entries))
	for _, e := range entries {
		flat = append(flat, e.Key, e.Val)
	}
	return Value{kind: KindMap, c: sortUnique(flat, 2)}
}

// sortUnique sorts, in place, groups of stride values by the canonical
// encoding of the first value of each group, keeping the last of equal
// groups, and returns the sorted prefix of vals.
func sortUnique(vals []Value, stride int) []Value {
	n := len(vals) / stride
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = cmpCanonical(&vals[(i-1)*stride], &vals[i*stride]) < 0
	}
	if sorted {
		return vals
	}
	if n <= 32 {
		// A stable insertion sort: maps and sets built by hand are small.
		for i := 1; i < n; i++ {
			for j := i; j > 0 && cmpCanonical(&vals[(j-1)*stride], &vals[j*stride]) > 0; j-- {
				for k := range stride {
					vals[(j-1)*stride+k], vals[j*stride+k] = vals[j*stride+k], vals[(j-1)*stride+k]
				}
			}
		}
	} else {
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
		slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
		out := make([]Value, 0, len(vals))
		for _, k := range ks {
			out = append(out, vals[k.i*stride:k.i*stride+stride]...)
		}
		vals = out
	}
	// Keep the last of each run of equal keys.
	w := 0
	for i := 0; i < n; i++ {
		if i+1 < n && cmpCanonical(&vals[i*stride], &vals[(i+1)*stride]) == 0 {
			continue
		}
		if w != i {
			copy(vals[w*stride:w*stride+stride], vals[i*stride:i*stride+stride])
		}
		w++
	}
	clear(vals[w*stride:])
	return vals[:w*stride]
}

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.kind }

// IsNil reports whether v is nil.
func (v Value) IsNil() bool { return v.kind == KindNil }

// AsBool returns the bool held by v and whether v is a bool.
func (v Value) AsBool() (bool, bool) { return v.n == 1, v.kind == KindBool }

// AsInt returns the int held by v and whether v is an int.
func (v Value) AsInt() (int64, bool) {
	if v.kind != KindInt {
		return 0, false
	}
	return int64(v.n), true
}

// AsFloat returns the float held by v and whether v is a float.
func (v Value) AsFloat() (float64, bool) {
	if v.kind != KindFloat {
		return 0, false
	}
	return math.Float64frombits(v.n), true
}

// AsString returns the string held by v and whether v is a string.
func (v Value) AsString() (string, bool) {
	if v.kind != KindString {
		return "", false
	}
	return v.s, true
}

// AsBytes returns a copy of the bytes held by v and whether v is bytes.
func (v Value) AsBytes() ([]byte, bool) {
	if v.kind != KindBytes {
		return nil, false
	}
	return []byte(v.s), true
}

// Len returns the number of items of a list, elements of a set or entries
// of a map, the byte length of a string or bytes, and 0 for other values.
func (v Value) Len() int {
	switch v.kind {
	case KindList, KindSet:
		return len(v.c)
	case KindMap:
		return len(v.c) / 2
	case KindString, KindBytes:
		return len(v.s)
	}
	return 0
}

// Index returns item i of a list or element i of a set (in canonical
// order), or nil when v is neither or i is out of range.
func (v Value) Index(i int) Value {
	if (v.kind != KindList && v.kind != KindSet) || i < 0 || i >= len(v.c) {
		return Value{}
	}
	return v.c[i]
}

// Items returns the items of a list or the elements of a set. The slice is
// shared: do not modify it.
func (v Value) Items() []Value {
	if v.kind != KindList && v.kind != KindSet {
		return nil
	}
	return v.c
}

// Entry returns entry i of a map in canonical order, or a zero MapEntry
// when v is not a map or i is out of range.
func (v Value) Entry(i int) MapEntry {
	if v.kind != KindMap || i < 0 || 2*i >= len(v.c) {
		return MapEntry{}
	}
	return MapEntry{Key: v.c[2*i], Val: v.c[2*i+1]}
}

// Entries returns a copy of the entries of a map, in canonical order.
func (v Value) Entries() []MapEntry {
	if v.kind != KindMap {
		return nil
	}
	out := make([]MapEntry, len(v.c)/2)
	for i := range out {
		out[i] = MapEntry{Key: v.c[2*i], Val: v.c[2*i+1]}
	}
	return out
}

// Get returns the value under key in a map and whether the key is there.
func (v Value) Get(key Value) (Value, bool) {
	if v.kind != KindMap {
		return Value{}, false
	}
	i, ok := v.search(key, 2)
	if !ok {
		return Value{}, false
	}
	return v.c[2*i+1], true
}

// Field returns the value under the string key name of a map (a record),
// or nil when v is not a map or has no such key.
func (v Value) Field(name string) Value {
	f, _ := v.Get(String(name))
	return f
}

// Has reports whether a set holds elem, or a map holds the key elem.
func (v Value) Has(elem Value) bool {
	switch v.kind {
	case KindSet:
		_, ok := v.search(elem, 1)
		return ok
	case KindMap:
		_, ok := v.search(elem, 2)
		return ok
	}
	return false
}

// search finds key among the groups of stride values of v.c by canonical
// encoding: the group index where key is, or would be inserted.
func (v Value) search(key Value, stride int) (int, bool) {
	lo, hi := 0, len(v.c)/stride
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := cmpCanonical(&v.c[m*stride], &key)
		if c == 0 {
			return m, true
		}
		if c < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, false
}
