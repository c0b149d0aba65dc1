package abi

import (
	"bytes"
	"math"
	"slices"
	"sort"
)

// Kind is the type of a [Value].
//
// The numeric order of the kinds is the order of values of different kinds:
// every nil sorts before every bool, every bool before every int, and so on
// (see [Compare]). The order is part of the on-disk key format; never
// renumber.
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

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + itoa(int64(k)) + ")"
}

// Value is an immutable Squall value: nil, bool, int64, float64, string
// (UTF-8), bytes, list, map (keys of any kind) or set.
//
// The zero Value is nil. Values are small and are passed by value; the
// contents of strings, bytes and containers are shared, never mutated.
// Map entries and set elements are kept sorted by the canonical MessagePack
// encoding of the key (element), which is the order in which they are
// encoded and iterated; [Compare] gives the value order used by sorted
// PState collections.
type Value struct {
	kind Kind
	n    uint64  // bool (0/1), int64 bits, float64 bits
	s    string  // string or bytes contents
	c    []Value // list items; set elements; map entries as key0, val0, key1, val1, ...
}

// MapEntry is one key/value pair of a map.
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

// Float returns a float value. Every NaN becomes the one canonical quiet NaN;
// negative zero is kept distinct from zero.
func Float(f float64) Value {
	if f != f {
		return Value{kind: KindFloat, n: canonicalNaN}
	}
	return Value{kind: KindFloat, n: math.Float64bits(f)}
}

// String returns a string value. s should be valid UTF-8: encoding a value
// that holds invalid UTF-8 fails with an [*EncodeError].
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bytes returns a bytes value holding a copy of b.
func Bytes(b []byte) Value { return Value{kind: KindBytes, s: string(b)} }

// List returns a list of the given items. The slice is not copied; the
// caller must not modify it afterwards.
func List(items ...Value) Value { return Value{kind: KindList, c: items} }

// Set returns a set of the given elements, sorted in canonical order with
// duplicates removed.
func Set(elems ...Value) Value {
	sorted := sortedUnique(elems, 1)
	return Value{kind: KindSet, c: sorted}
}

// Map returns a map of the given entries, sorted in canonical order. When a
// key occurs more than once the last entry wins.
func Map(entries ...MapEntry) Value {
	flat := make([]Value, 0, 2*len(entries))
	for _, e := range entries {
		flat = append(flat, e.Key, e.Val)
	}
	return Value{kind: KindMap, c: sortedUnique(flat, 2)}
}

// sortedUnique sorts groups of stride values by the canonical encoding of the
// first value of each group and keeps the last group of equal keys. It
// returns a new slice.
func sortedUnique(vals []Value, stride int) []Value {
	n := len(vals) / stride
	type keyed struct {
		enc []byte
		i   int
	}
	ks := make([]keyed, n)
	for i := range n {
		ks[i] = keyed{enc: appendCanonical(nil, vals[i*stride]), i: i}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
	out := make([]Value, 0, len(vals))
	for j, k := range ks {
		if j+1 < len(ks) && bytes.Equal(k.enc, ks[j+1].enc) {
			continue // a later duplicate wins
		}
		out = append(out, vals[k.i*stride:k.i*stride+stride]...)
	}
	return out
}

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.kind }

// IsNil reports whether v is nil.
func (v Value) IsNil() bool { return v.kind == KindNil }

// AsBool returns the bool held by v, and whether v is a bool.
func (v Value) AsBool() (bool, bool) { return v.n == 1, v.kind == KindBool }

// AsInt returns the int held by v, and whether v is an int.
func (v Value) AsInt() (int64, bool) {
	if v.kind != KindInt {
		return 0, false
	}
	return int64(v.n), true
}

// AsFloat returns the float held by v, and whether v is a float.
func (v Value) AsFloat() (float64, bool) {
	if v.kind != KindFloat {
		return 0, false
	}
	return math.Float64frombits(v.n), true
}

// AsString returns the string held by v, and whether v is a string.
func (v Value) AsString() (string, bool) {
	if v.kind != KindString {
		return "", false
	}
	return v.s, true
}

// AsBytes returns a copy of the bytes held by v, and whether v is bytes.
func (v Value) AsBytes() ([]byte, bool) {
	if v.kind != KindBytes {
		return nil, false
	}
	return []byte(v.s), true
}

// Len returns the number of items of a list, elements of a set or entries
// of a map, the byte length of a string or bytes value, and 0 otherwise.
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
// order). It returns nil when v is neither or i is out of range.
func (v Value) Index(i int) Value {
	if (v.kind != KindList && v.kind != KindSet) || i < 0 || i >= len(v.c) {
		return Value{}
	}
	return v.c[i]
}

// Items returns the items of a list or the elements of a set, in order.
// The returned slice is shared and must not be modified.
func (v Value) Items() []Value {
	if v.kind != KindList && v.kind != KindSet {
		return nil
	}
	return v.c
}

// Entry returns entry i of a map in canonical order, or a zero entry when v
// is not a map or i is out of range.
func (v Value) Entry(i int) MapEntry {
	if v.kind != KindMap || i < 0 || 2*i >= len(v.c) {
		return MapEntry{}
	}
	return MapEntry{Key: v.c[2*i], Val: v.c[2*i+1]}
}

// Entries returns a copy of the entries of a map in canonical order.
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

// Get returns the value stored under key in a map, and whether it is there.
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
// encoding; it returns the group index where key is or would be inserted.
func (v Value) search(key Value, stride int) (int, bool) {
	enc := appendCanonical(nil, key)
	n := len(v.c) / stride
	var scratch []byte
	i := sort.Search(n, func(i int) bool {
		scratch = appendCanonical(scratch[:0], v.c[i*stride])
		return bytes.Compare(scratch, enc) >= 0
	})
	if i < n {
		scratch = appendCanonical(scratch[:0], v.c[i*stride])
		return i, bytes.Equal(scratch, enc)
	}
	return i, false
}
