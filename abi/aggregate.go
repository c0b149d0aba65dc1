package abi

import (
	"math"
	"slices"
	"strconv"
)

// Aggregator names how an AGGREGATE effect combines a value into an
// accumulator (ABI.md §15.3). The host implements every aggregator
// ([Aggregate]); guests only name them.
type Aggregator uint8

// Aggregators (the flags of AGGREGATE).
const (
	// AggCount adds 1; the value is nil.
	AggCount Aggregator = 1
	// AggSum adds an int or float.
	AggSum Aggregator = 2
	// AggMin keeps the smallest value ([Compare] order).
	AggMin Aggregator = 3
	// AggMax keeps the largest value ([Compare] order).
	AggMax Aggregator = 4
	// AggSet adds the value to a set.
	AggSet Aggregator = 5
	// AggList appends the value to a list.
	AggList Aggregator = 6
	// AggMap sets key k to x in a map; the value is the pair [k, x].
	AggMap Aggregator = 7
	// AggTopN merges a [score, id] pair into a list of the n pairs with the
	// highest scores, one per id, monotonic in score.
	AggTopN Aggregator = 8
)

// MaxTopN bounds the n of AggTopN.
const MaxTopN = 10000

var aggregatorNames = [...]string{"", "COUNT", "SUM", "MIN", "MAX", "SET", "LIST", "MAP", "TOP_N"}

// String returns the spec name, such as "COUNT".
func (a Aggregator) String() string {
	if a >= AggCount && a <= AggTopN {
		return aggregatorNames[a]
	}
	return "aggregator(" + strconv.Itoa(int(a)) + ")"
}

// ParseAggregator returns the aggregator with the spec name s.
func ParseAggregator(s string) (Aggregator, bool) {
	for i := AggCount; i <= AggTopN; i++ {
		if aggregatorNames[i] == s {
			return i, true
		}
	}
	return 0, false
}

// AggregateError says why a value cannot be aggregated.
type AggregateError struct {
	Agg Aggregator
	Msg string
}

func (e *AggregateError) Error() string { return "abi: " + e.Agg.String() + ": " + e.Msg }

// CheckAggregateValue checks the shape of the value v (and n for AggTopN)
// that an AGGREGATE combines, independently of the accumulator.
func CheckAggregateValue(agg Aggregator, v Value, n int) error {
	fail := func(msg string) error { return &AggregateError{Agg: agg, Msg: msg} }
	switch agg {
	case AggCount:
		if !v.IsNil() {
			return fail("the value must be nil, not " + v.Kind().String())
		}
	case AggSum:
		if v.Kind() != KindInt && v.Kind() != KindFloat {
			return fail("the value must be an int or a float, not " + v.Kind().String())
		}
	case AggMin, AggMax, AggList:
	case AggSet:
		if v.Kind() == KindFloat {
			return fail("set elements cannot be floats")
		}
	case AggMap:
		if v.Kind() != KindList || v.Len() != 2 {
			return fail("the value must be a [key, value] pair, not " + v.String())
		}
		if v.Index(0).Kind() == KindFloat {
			return fail("map keys cannot be floats")
		}
	case AggTopN:
		if v.Kind() != KindList || v.Len() != 2 {
			return fail("the value must be a [score, id] pair, not " + v.String())
		}
		if n < 1 || n > MaxTopN {
			return fail("n is " + strconv.Itoa(n) + "; it must be from 1 to " + strconv.Itoa(MaxTopN))
		}
	default:
		return &AggregateError{Agg: agg, Msg: "unknown aggregator; use 1 (COUNT) to 8 (TOP_N)"}
	}
	return nil
}

// Aggregate combines v into the accumulator cur (nil when absent) with agg
// and returns the new accumulator (ABI.md §15.3). n is the bound of
// AggTopN and is ignored otherwise. Errors are [*AggregateError]s.
func Aggregate(agg Aggregator, cur, v Value, n int) (Value, error) {
	if err := CheckAggregateValue(agg, v, n); err != nil {
		return Nil(), err
	}
	fail := func(msg string) (Value, error) { return Nil(), &AggregateError{Agg: agg, Msg: msg} }
	wrongCur := func(want string) (Value, error) {
		return fail("the current value is " + cur.Kind().String() + " " + cur.String() + "; " + agg.String() + " needs " + want)
	}
	switch agg {
	case AggCount:
		return AddNumbers(cur, Int(1), agg)
	case AggSum:
		return AddNumbers(cur, v, agg)
	case AggMin, AggMax:
		if cur.IsNil() {
			return v, nil
		}
		c := Compare(v, cur)
		if agg == AggMin && c < 0 || agg == AggMax && c > 0 {
			return v, nil
		}
		return cur, nil
	case AggSet:
		switch cur.Kind() {
		case KindNil:
			return Set(v), nil
		case KindSet:
			return Set(append(slices.Clone(cur.Items()), v)...), nil
		}
		return wrongCur("a set")
	case AggList:
		switch cur.Kind() {
		case KindNil:
			return List(v), nil
		case KindList:
			return List(append(slices.Clone(cur.Items()), v)...), nil
		}
		return wrongCur("a list")
	case AggMap:
		k, x := v.Index(0), v.Index(1)
		switch cur.Kind() {
		case KindNil:
			return Map(MapEntry{Key: k, Val: x}), nil
		case KindMap:
			return withKey(cur, k, x), nil
		}
		return wrongCur("a map")
	case AggTopN:
		var pairs []Value
		switch cur.Kind() {
		case KindNil:
		case KindList:
			pairs = slices.Clone(cur.Items())
		default:
			return wrongCur("a list of [score, id] pairs")
		}
		score, id := v.Index(0), v.Index(1)
		found := false
		for i, p := range pairs {
			if p.Kind() != KindList || p.Len() != 2 {
				return wrongCur("a list of [score, id] pairs")
			}
			if Equal(p.Index(1), id) {
				found = true
				if Compare(score, p.Index(0)) > 0 {
					pairs[i] = List(score, id)
				}
			}
		}
		if !found {
			pairs = append(pairs, List(score, id))
		}
		slices.SortStableFunc(pairs, func(a, b Value) int {
			if c := Compare(b.Index(0), a.Index(0)); c != 0 {
				return c
			}
			return Compare(a.Index(1), b.Index(1))
		})
		if len(pairs) > n {
			pairs = pairs[:n]
		}
		return List(pairs...), nil
	}
	return fail("unknown aggregator")
}

// AddNumbers returns a + b for COUNT and SUM: nil counts as 0, int + int
// is an int that must not overflow, anything with a float is a float.
func AddNumbers(a, b Value, agg Aggregator) (Value, error) {
	fail := func(msg string) (Value, error) { return Nil(), &AggregateError{Agg: agg, Msg: msg} }
	if a.IsNil() {
		a = Int(0)
	}
	ai, aInt := a.AsInt()
	bi, bInt := b.AsInt()
	if aInt && bInt {
		s := ai + bi
		if (bi > 0 && s < ai) || (bi < 0 && s > ai) {
			return fail("the sum " + strconv.FormatInt(ai, 10) + " + " + strconv.FormatInt(bi, 10) + " overflows int64")
		}
		return Int(s), nil
	}
	af, ok1 := asNumber(a)
	bf, ok2 := asNumber(b)
	if !ok1 || !ok2 {
		return fail("the current value is " + a.Kind().String() + " " + a.String() + "; it needs a number")
	}
	s := af + bf
	if math.IsNaN(s) && !math.IsNaN(af) && !math.IsNaN(bf) {
		return fail("the sum is NaN")
	}
	return Float(s), nil
}

func asNumber(v Value) (float64, bool) {
	if i, ok := v.AsInt(); ok {
		return float64(i), true
	}
	return v.AsFloat()
}

// AggregateAt combines v into acc at the key path keys (ABI.md §15.3
// group-by): each key navigates into a map, created when absent. An empty
// key path aggregates acc itself.
func AggregateAt(acc Value, keys []Value, agg Aggregator, v Value, n int) (Value, error) {
	if len(keys) == 0 {
		return Aggregate(agg, acc, v, n)
	}
	k := keys[0]
	if k.Kind() == KindFloat {
		return Nil(), &AggregateError{Agg: agg, Msg: "a key of the key path is a float; keys cannot be floats"}
	}
	var child Value
	switch acc.Kind() {
	case KindNil:
		child = Nil()
	case KindMap:
		child, _ = acc.Get(k)
	default:
		return Nil(), &AggregateError{Agg: agg, Msg: "the key path navigates into " + acc.Kind().String() + " " + acc.String() + "; only maps have keys"}
	}
	nv, err := AggregateAt(child, keys[1:], agg, v, n)
	if err != nil {
		return Nil(), err
	}
	if acc.IsNil() {
		return Map(MapEntry{Key: k, Val: nv}), nil
	}
	return withKey(acc, k, nv), nil
}

// withKey returns the map m with key k set to v.
func withKey(m, k, v Value) Value {
	return Map(append(slices.Clone(m.Entries()), MapEntry{Key: k, Val: v})...)
}
