package abi

import (
	"cmp"
	"slices"
	"strings"
)

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b in the
// total order of values. It is the order of sorted PState collections and of
// the order-preserving storage key encoding; it is part of the on-disk format.
//
// Values of different kinds order by [Kind]: nil < bool < int < float <
// string < bytes < list < map < set. Within a kind:
//
//   - bool: false < true.
//   - int: numerically.
//   - float: by the IEEE 754 total order restricted to the values a [Value]
//     can hold: -Inf < ... < -0.0 < +0.0 < ... < +Inf < NaN. Ints and floats
//     never compare equal (1 < 1.0 because int sorts before float).
//   - string: bytewise on the UTF-8 encoding (which is also code point order).
//   - bytes: bytewise.
//   - list: lexicographically item by item; a proper prefix sorts first.
//   - map: as the sequence of its (key, value) pairs taken in Compare order
//     of the keys, each pair compared key first; a proper prefix sorts first.
//   - set: as the list of its elements taken in Compare order.
//
// Compare(a, b) == 0 exactly when [Equal](a, b). Note that maps and sets
// iterate in canonical MessagePack order, which is not Compare order.
func Compare(a, b Value) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case KindNil:
		return 0
	case KindBool:
		return cmp.Compare(a.n, b.n)
	case KindInt:
		return cmp.Compare(int64(a.n), int64(b.n))
	case KindFloat:
		return cmp.Compare(floatKey(a.n), floatKey(b.n))
	case KindString, KindBytes:
		return strings.Compare(a.s, b.s)
	case KindList:
		return compareSeq(a.c, b.c)
	case KindSet:
		if len(a.c) == 0 || len(b.c) == 0 {
			return cmp.Compare(len(a.c), len(b.c))
		}
		return compareSeq(sortedByCompare(a.c, 1), sortedByCompare(b.c, 1))
	case KindMap:
		if len(a.c) == 0 || len(b.c) == 0 {
			return cmp.Compare(len(a.c), len(b.c))
		}
		return compareSeq(sortedByCompare(a.c, 2), sortedByCompare(b.c, 2))
	}
	return 0
}

// floatKey maps float64 bits to a uint64 whose unsigned order is the IEEE 754
// total order: negative numbers have every bit flipped, others the sign bit.
func floatKey(bits uint64) uint64 {
	if bits>>63 != 0 {
		return ^bits
	}
	return bits | 1<<63
}

// compareSeq compares two sequences of values lexicographically.
func compareSeq(a, b []Value) int {
	for i := range min(len(a), len(b)) {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// sortedByCompare returns vals (groups of stride values: set elements or
// map key, value pairs) reordered so that the first values of the groups are
// in Compare order. The input is not modified; when it is already in order
// it is returned as is.
func sortedByCompare(vals []Value, stride int) []Value {
	n := len(vals) / stride
	sorted := true
	for i := 1; i < n; i++ {
		if Compare(vals[(i-1)*stride], vals[i*stride]) > 0 {
			sorted = false
			break
		}
	}
	if sorted {
		return vals
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return Compare(vals[i*stride], vals[j*stride]) })
	out := make([]Value, 0, len(vals))
	for _, i := range idx {
		out = append(out, vals[i*stride:i*stride+stride]...)
	}
	return out
}
