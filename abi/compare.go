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
		return compareSorted(a.c, b.c, 1)
	case KindMap:
		return compareSorted(a.c, b.c, 2)
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

// compareSorted compares two sets (stride 1) or maps (stride 2, key and
// value pairs) as sequences of groups taken in Compare order of their first
// values.
func compareSorted(a, b []Value, stride int) int {
	var abuf, bbuf [16]int
	ai, bi := indexes(abuf[:], len(a)/stride), indexes(bbuf[:], len(b)/stride)
	orderByCompare(ai, a, stride)
	orderByCompare(bi, b, stride)
	for k := range min(len(ai), len(bi)) {
		i, j := ai[k]*stride, bi[k]*stride
		for s := range stride {
			if c := Compare(a[i+s], b[j+s]); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(ai), len(bi))
}

// indexes returns 0, 1, ..., n-1 in buf when it is large enough.
func indexes(buf []int, n int) []int {
	if n > len(buf) {
		buf = make([]int, n)
	}
	buf = buf[:n]
	for i := range buf {
		buf[i] = i
	}
	return buf
}

// orderByCompare sorts idx, indexes of the groups of stride values of vals,
// by Compare of the first value of each group.
func orderByCompare(idx []int, vals []Value, stride int) {
	if len(idx) > 16 {
		slices.SortFunc(idx, func(i, j int) int { return Compare(vals[i*stride], vals[j*stride]) })
		return
	}
	// Insertion sort: sets and maps used as keys are small.
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && Compare(vals[idx[j-1]*stride], vals[idx[j]*stride]) > 0; j-- {
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
}
