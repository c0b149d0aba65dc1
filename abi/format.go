package abi

import (
	"math"
	"strconv"
	"strings"
)

// String returns a readable, unambiguous rendering of v:
//
//	nil  true  false  42  -7  1.5  1.0  -0.0  1e+21  NaN  +Inf  -Inf
//	"héllo\n"  0x"00ff"  [1, 2]  {"a": 1, 2: [nil]}  #{1, 2}
//
// Floats always show a decimal point, an exponent or a special name, so they
// never look like ints. Strings are quoted with Go escapes ([strconv.Quote]);
// bytes are lowercase hex between 0x" and ". Map entries and set elements
// appear in canonical order.
func (v Value) String() string {
	var sb strings.Builder
	v.appendText(&sb)
	return sb.String()
}

// GoString returns v.String(), so that %#v prints values readably.
func (v Value) GoString() string { return v.String() }

const hexDigits = "0123456789abcdef"

func (v Value) appendText(sb *strings.Builder) {
	switch v.kind {
	case KindNil:
		sb.WriteString("nil")
	case KindBool:
		if v.n != 0 {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case KindInt:
		sb.WriteString(itoa(int64(v.n)))
	case KindFloat:
		sb.WriteString(formatFloat(math.Float64frombits(v.n)))
	case KindString:
		sb.WriteString(strconv.Quote(v.s))
	case KindBytes:
		sb.WriteString(`0x"`)
		for i := 0; i < len(v.s); i++ {
			sb.WriteByte(hexDigits[v.s[i]>>4])
			sb.WriteByte(hexDigits[v.s[i]&0x0f])
		}
		sb.WriteByte('"')
	case KindList, KindSet:
		if v.kind == KindSet {
			sb.WriteString("#{")
		} else {
			sb.WriteByte('[')
		}
		for i, it := range v.c {
			if i > 0 {
				sb.WriteString(", ")
			}
			it.appendText(sb)
		}
		if v.kind == KindSet {
			sb.WriteByte('}')
		} else {
			sb.WriteByte(']')
		}
	case KindMap:
		sb.WriteByte('{')
		for i := 0; i+1 < len(v.c); i += 2 {
			if i > 0 {
				sb.WriteString(", ")
			}
			v.c[i].appendText(sb)
			sb.WriteString(": ")
			v.c[i+1].appendText(sb)
		}
		sb.WriteByte('}')
	default:
		sb.WriteString("<" + v.kind.String() + ">")
	}
}

// formatFloat formats f in the shortest form that reads back exactly, with
// ".0" added when it would otherwise look like an int.
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
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// itoa formats i in decimal.
func itoa(i int64) string { return strconv.FormatInt(i, 10) }
