package squall

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Equal reports whether a and b are the same value: the same kind and the
// same contents. Floats compare by their bits, so NaN equals NaN and -0.0
// does not equal 0.0; an int never equals a float. Two values are equal
// exactly when their canonical encodings are.
func Equal(a, b Value) bool {
	if a.kind != b.kind || a.n != b.n || a.s != b.s || len(a.c) != len(b.c) {
		return false
	}
	for i := range a.c {
		if !Equal(a.c[i], b.c[i]) {
			return false
		}
	}
	return true
}

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b in the
// total order of values: the order of the keys of sorted PState collections
// (maps and sets), which [Path.SortedRange], first, last and all follow.
//
// Values of different kinds order by [Kind]: nil < bool < int < float <
// string < bytes < list < map < set. Within a kind: false < true; ints
// numerically; floats numerically with -0.0 < +0.0 and NaN last; strings
// and bytes bytewise; lists item by item (a prefix first); maps and sets
// as the sequence of their entries or elements in Compare order.
// Compare(a, b) == 0 exactly when [Equal](a, b).
func Compare(a, b Value) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case KindBool:
		return cmp.Compare(a.n, b.n)
	case KindInt:
		return cmp.Compare(int64(a.n), int64(b.n))
	case KindFloat:
		return cmp.Compare(floatOrder(a.n), floatOrder(b.n))
	case KindString, KindBytes:
		return strings.Compare(a.s, b.s)
	case KindList:
		for i := range min(len(a.c), len(b.c)) {
			if c := Compare(a.c[i], b.c[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.c), len(b.c))
	case KindMap:
		return compareGroups(a.c, b.c, 2)
	case KindSet:
		return compareGroups(a.c, b.c, 1)
	}
	return 0
}

// floatOrder maps float64 bits to a uint64 whose unsigned order is the
// IEEE 754 total order (negative values flipped, others with the sign bit
// set).
func floatOrder(bits uint64) uint64 {
	if bits>>63 != 0 {
		return ^bits
	}
	return bits | 1<<63
}

// compareGroups compares maps (stride 2) or sets (stride 1) as sequences of
// their groups taken in Compare order of the first value of each group.
func compareGroups(a, b []Value, stride int) int {
	ai := sortedGroups(a, stride)
	bi := sortedGroups(b, stride)
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

func sortedGroups(vals []Value, stride int) []int {
	idx := make([]int, len(vals)/stride)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return Compare(vals[i*stride], vals[j*stride]) })
	return idx
}

// String renders v readably and unambiguously:
//
//	nil  true  42  -7  1.5  1.0  -0.0  NaN  +Inf  "héllo\n"  0x"00ff"
//	[1, 2]  {"a": 1, 2: [nil]}  #{1, 2}
//
// Floats always show a decimal point, an exponent or a name, so they never
// look like ints. Map entries and set elements appear in canonical order.
func (v Value) String() string {
	var b strings.Builder
	v.writeText(&b)
	return b.String()
}

// GoString returns v.String(), so that %#v prints values readably.
func (v Value) GoString() string { return v.String() }

func (v Value) writeText(b *strings.Builder) {
	const hex = "0123456789abcdef"
	switch v.kind {
	case KindNil:
		b.WriteString("nil")
	case KindBool:
		b.WriteString(strconv.FormatBool(v.n == 1))
	case KindInt:
		b.WriteString(strconv.FormatInt(int64(v.n), 10))
	case KindFloat:
		b.WriteString(formatFloat(math.Float64frombits(v.n)))
	case KindString:
		b.WriteString(strconv.Quote(v.s))
	case KindBytes:
		b.WriteString(`0x"`)
		for i := 0; i < len(v.s); i++ {
			b.WriteByte(hex[v.s[i]>>4])
			b.WriteByte(hex[v.s[i]&0xf])
		}
		b.WriteByte('"')
	case KindList, KindSet:
		if v.kind == KindSet {
			b.WriteString("#{")
		} else {
			b.WriteByte('[')
		}
		for i, it := range v.c {
			if i > 0 {
				b.WriteString(", ")
			}
			it.writeText(b)
		}
		if v.kind == KindSet {
			b.WriteByte('}')
		} else {
			b.WriteByte(']')
		}
	case KindMap:
		b.WriteByte('{')
		for i := 0; i+1 < len(v.c); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			v.c[i].writeText(b)
			b.WriteString(": ")
			v.c[i+1].writeText(b)
		}
		b.WriteByte('}')
	}
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}
