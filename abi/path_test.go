package abi

import (
	"math"
	"strings"
	"testing"
)

func TestPathStringAndRoundTrip(t *testing.T) {
	alice := String("alice")
	tests := []struct {
		p    Path
		want string
	}{
		{P(), ""},
		{P().Key(alice).SortedRange(Int(10), Int(20), RangeOpts{}).View(ViewCount),
			`key("alice").sortedRange(10, 20).view(count)`},
		{P().MustKey(Int(1)).MapVals().MapKeys().All().First().Last().Nth(-1),
			`mustKey(1).mapVals().mapKeys().all().first().last().nth(-1)`},
		{P().SortedRange(Nil(), String("m"), RangeOpts{ExcludeFrom: true, IncludeTo: true, Limit: 100, Reverse: true}),
			`sortedRange(open, "m", excludeFrom, includeTo, limit=100, reverse)`},
		{P().All().Filter(FilterGt, Float(1.5)).Filter(FilterExists, Nil()).NilToVal(Int(0)).View(ViewSize),
			`all().filter(gt, 1.5).filter(exists).nilToVal(0).view(size)`},
		{P().Key(alice).Set(List(Int(1))), `key("alice").set([1])`},
		{P().Remove(), `remove()`},
		{P().Incr(3), `incr(3)`},
		{P().IncrFloat(-0.5), `incr(-0.5)`},
		{P().Append(Int(1), Int(2)), `append(1, 2)`},
		{P().Prepend(String("x")), `prepend("x")`},
		{P().Merge(Map(MapEntry{String("a"), Int(1)})), `merge({"a": 1})`},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
		v := tc.p.Value()
		b, err := Encode(v)
		if err != nil {
			t.Fatalf("%s: encode: %v", tc.want, err)
		}
		dv, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.want, err)
		}
		back, err := ParsePath(dv)
		if err != nil {
			t.Fatalf("%s: ParsePath(%s): %v", tc.want, v, err)
		}
		if !Equal(back.Value(), v) || back.String() != tc.want {
			t.Errorf("round trip of %s gave %s", tc.want, back)
		}
	}
}

func TestPathValueForm(t *testing.T) {
	p := P().Key(String("a")).SortedRange(Int(1), Nil(), RangeOpts{Limit: 5}).Filter(FilterExists, Nil()).View(ViewSize)
	want := `[[1, "a"], [8, 1, nil, {"limit": 5}], [9, "exists"], [11, "size"]]`
	if got := p.Value().String(); got != want {
		t.Errorf("Value() = %s, want %s", got, want)
	}
}

func TestPathBuilderDoesNotAlias(t *testing.T) {
	base := make(Path, 0, 8).Key(Int(1))
	a := base.Key(Int(2))
	b := base.Key(Int(3))
	if a.String() != "key(1).key(2)" || b.String() != "key(1).key(3)" {
		t.Errorf("aliasing: a=%s b=%s", a, b)
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Int(1), "abi: path: a path is a list of steps, not int"},
		{List(Int(1)), "abi: path step 0: a step is a non-empty list [opcode, args...], not 1"},
		{List(List()), "abi: path step 0: a step is a non-empty list"},
		{List(List(Int(1), Int(2)), List(String("key"))), "abi: path step 1: the opcode must be an int, not string"},
		{List(List(Int(99))), "abi: path step 0: unknown opcode 99"},
		{List(List(Int(1))), "abi: path step 0: key takes 1 argument(s), got 0"},
		{List(List(Int(4), Int(1))), "abi: path step 0: all takes 0 argument(s), got 1"},
		{List(List(Int(7), String("x"))), "nth needs an int index, not string"},
		{List(List(Int(8), Int(1))), "sortedRange takes 2 or 3 argument(s), got 1"},
		{List(List(Int(8), Int(1), Int(2), Int(3))), "sortedRange options must be a map, not int"},
		{List(List(Int(8), Int(1), Int(2), Map(MapEntry{String("lim"), Int(1)}))), `unknown sortedRange option "lim"`},
		{List(List(Int(8), Int(1), Int(2), Map(MapEntry{String("limit"), Int(-1)}))), "limit must be an int from 0"},
		{List(List(Int(8), Int(1), Int(2), Map(MapEntry{String("reverse"), Int(1)}))), "option reverse must be a bool, not int"},
		{List(List(Int(9), String("gte"), Int(1))), `unknown filter comparison "gte"`},
		{List(List(Int(9), String("gt"))), `filter gt takes an operand: [9, "gt", v]`},
		{List(List(Int(9), String("exists"), Int(1))), "filter exists takes no operand"},
		{List(List(Int(9))), "filter takes 1 or 2 argument(s), got 0"},
		{List(List(Int(11), String("avg"))), `unknown view function "avg"`},
		{List(List(Int(33), String("1"))), "incr needs an int or float amount, not string"},
		{List(List(Int(37), List())), "merge needs a map, not list"},
	}
	for _, tc := range tests {
		_, err := ParsePath(tc.v)
		if err == nil {
			t.Errorf("ParsePath(%s) succeeded, want error %q", tc.v, tc.want)
			continue
		}
		if _, ok := err.(*PathError); !ok {
			t.Errorf("ParsePath(%s) error is %T, want *PathError", tc.v, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePath(%s) = %q, want it to contain %q", tc.v, err, tc.want)
		}
	}
}

func TestPathValidate(t *testing.T) {
	k := String("k")
	tests := []struct {
		p    Path
		mode Mode
		want string // "" = valid
	}{
		{P().Key(k).MapVals().View(ViewSize), ModeSelect, ""},
		{P(), ModeSelect, ""},
		{P().Key(k).Set(Int(1)), ModeTransform, ""},
		{P().Key(k).Set(Int(1)), ModeSelect, "abi: path step 1 (set(1)): a select path cannot end with a terminal"},
		{P().Key(k), ModeTransform, "abi: path: a transform path must end with a terminal"},
		{P(), ModeTransform, "a transform path must end with a terminal"},
		{P().Remove().Key(k), ModeTransform, "abi: path step 0 (remove()): a terminal must be the last step of a path; 1 step(s) follow it"},
		{P().View(ViewSize).Set(Int(1)), ModeTransform, "abi: path step 0 (view(size)): view is read-only"},
		{Path{{Op: 99}}, ModeSelect, "unknown opcode 99"},
		{Path{{Op: OpFilter}}, ModeSelect, "unknown filter comparison"},
		{Path{{Op: OpView}}, ModeSelect, "unknown view function"},
		{Path{{Op: OpIncr, Arg: String("x")}}, ModeTransform, "incr needs an int or float amount"},
		{P().SortedRange(Nil(), Nil(), RangeOpts{Limit: -1}), ModeSelect, "limit must be 0 (no limit) or positive, not -1"},
	}
	for _, tc := range tests {
		err := tc.p.Validate(tc.mode)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.p, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	nan := Float(math.NaN())
	tests := []struct {
		op     FilterOp
		v, arg Value
		want   bool
	}{
		{FilterEq, Int(1), Int(1), true},
		{FilterEq, Int(1), Float(1), true},
		{FilterEq, Float(1.5), Int(1), false},
		{FilterNe, Int(1), String("1"), true},
		{FilterEq, String("a"), String("a"), true},
		{FilterLt, Int(1), Float(1.5), true},
		{FilterLt, Float(1.5), Int(2), true},
		{FilterGt, Float(1.5), Int(1), true},
		{FilterGe, Int(math.MaxInt64), Float(0x1p63), false},
		{FilterLt, Int(math.MaxInt64), Float(0x1p63), true},
		{FilterGt, Int(math.MinInt64), Float(-0x1p64), true},
		{FilterGt, String("b"), String("a"), true},
		{FilterGt, String("b"), Int(1), false}, // different kinds never order
		{FilterLt, String("b"), Int(1), false},
		{FilterLe, nan, nan, true},
		{FilterLt, nan, Float(1), false},
		{FilterLt, Int(1), nan, false},
		{FilterEq, Float(0), Float(math.Copysign(0, -1)), true},
		{FilterExists, Nil(), Nil(), false},
		{FilterExists, Bool(false), Nil(), true},
		{FilterEq, Nil(), Nil(), true},
		{FilterGe, List(Int(1), Int(2)), List(Int(1)), true},
	}
	for _, tc := range tests {
		if got := tc.op.Match(tc.v, tc.arg); got != tc.want {
			t.Errorf("filter(%s, %s) on %s = %v, want %v", tc.op, tc.arg, tc.v, got, tc.want)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	seeds := []Path{
		P().Key(String("a")).SortedRange(Int(1), Int(2), RangeOpts{Limit: 3, Reverse: true}).View(ViewCount),
		P().All().Filter(FilterLt, Int(3)).Append(Int(1), Int(2)),
		P().MustKey(Nil()).Nth(-2).NilToVal(Map()).Merge(Map(MapEntry{String("x"), Int(1)})),
	}
	for _, p := range seeds {
		b, err := Encode(p.Value())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		if err != nil {
			return
		}
		p, err := ParsePath(v)
		if err != nil {
			return
		}
		_ = p.String()
		_ = p.Validate(ModeSelect)
		_ = p.Validate(ModeTransform)
		back, err := ParsePath(p.Value())
		if err != nil {
			t.Fatalf("re-parse of %s: %v", p, err)
		}
		if back.String() != p.String() {
			t.Fatalf("round trip changed %s into %s", p, back)
		}
	})
}
