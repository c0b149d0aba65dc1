package squall

import (
	"errors"
	"strings"
	"testing"
)

// TestPathForms checks the ABI form of every navigator and terminal, and
// that ParsePath reads it back.
func TestPathForms(t *testing.T) {
	for _, c := range []struct {
		p          Path
		form, text string
	}{
		{Key("a"), `[[1, "a"]]`, `key("a")`},
		{P().MustKey(1), `[[2, 1]]`, `mustKey(1)`},
		{P().MapVals().MapKeys(), `[[3], [12]]`, `mapVals().mapKeys()`},
		{P().All().First().Last(), `[[4], [5], [6]]`, `all().first().last()`},
		{P().Nth(-1), `[[7, -1]]`, `nth(-1)`},
		{P().SortedRange(1, nil), `[[8, 1, nil]]`, `sortedRange(1, open)`},
		{P().SortedRangeWith(nil, "z", RangeOpts{ExcludeFrom: true, IncludeTo: true, Limit: 3, Reverse: true}),
			`[[8, nil, "z", {"limit": 3, "reverse": true, "includeTo": true, "excludeFrom": true}]]`,
			`sortedRange(open, "z", excludeFrom, includeTo, limit=3, reverse)`},
		{P().Filter(Ge, 3).FilterExists(), `[[9, "ge", 3], [9, "exists"]]`, `filter(ge, 3).filter(exists)`},
		{P().NilToVal([]int{}), `[[10, []]]`, `nilToVal([])`},
		{P().View(ViewSize), `[[11, "size"]]`, `view(size)`},
		{P().Set(nil), `[[32, nil]]`, `set(nil)`},
		{P().Incr(-2), `[[33, -2]]`, `incr(-2)`},
		{P().IncrFloat(0.5), `[[33, 0.5]]`, `incr(0.5)`},
		{P().Append(1, "x"), `[[34, 1, "x"]]`, `append(1, "x")`},
		{P().Prepend(), `[[35]]`, `prepend()`},
		{P().Remove(), `[[36]]`, `remove()`},
		{P().Merge(map[string]int{"a": 1}), `[[37, {"a": 1}]]`, `merge({"a": 1})`},
	} {
		v, err := c.p.Value()
		if err != nil || v.String() != c.form || c.p.String() != c.text {
			t.Errorf("%s: %s %v, want %s (%s)", c.p, v, err, c.form, c.text)
			continue
		}
		back, err := ParsePath(v)
		if err != nil || back.String() != c.text {
			t.Errorf("ParsePath(%s) = %s, %v", v, back, err)
		}
	}
	// Extending a prefix leaves it alone.
	base := Key("a")
	x, y := base.Key("x"), base.Key("y")
	if base.String() != `key("a")` || x.String() != `key("a").key("x")` || y.String() != `key("a").key("y")` {
		t.Fatalf("%s %s %s", base, x, y)
	}
}

func TestPathErrors(t *testing.T) {
	for _, c := range []struct {
		p    Path
		mode PathMode
		want string
	}{
		{Key(make(chan int)), SelectMode, "path step 0 (key): cannot convert chan int"},
		{P().Key(1).Set(struct{}{}), TransformMode, "path step 1 (set): cannot convert struct {} (a struct)"},
		{P().SortedRangeWith(1, 2, RangeOpts{Limit: -1}), SelectMode, "limit must be 0 (no limit) or positive"},
		{P().Filter(0, 1), SelectMode, "unknown filter comparison"},
		{P().Merge(1), TransformMode, "merge needs a map"},
		{Key(1).Set(1), SelectMode, "step 1 (set(1)): a select path cannot end with a terminal"},
		{Key(1), TransformMode, "path: a transform path must end with a terminal"},
		{P().Set(1).Remove(), TransformMode, "step 0 (set(1)): a terminal must be the last step of a path; 1 step(s) follow it"},
		{P().View(ViewCount).Set(1), TransformMode, "view is read-only"},
	} {
		err := c.p.Validate(c.mode)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.p, err, c.want)
		}
	}
	for _, c := range []struct {
		v    Value
		want string
	}{
		{Int(1), "path: a path is a list of steps, not int"},
		{List(List()), "path step 0: a step is a non-empty list"},
		{List(List(String("key"))), "the opcode must be an int"},
		{List(List(Int(99))), "unknown opcode 99"},
		{List(List(Int(1))), "key takes 1 argument(s), got 0"},
		{List(List(Int(7), String("x"))), "nth needs an int index"},
		{List(List(Int(8), Nil(), Nil(), Map(MapEntry{String("limt"), Int(1)}))), "unknown sortedRange option \"limt\""},
		{List(List(Int(9), String("gt"))), "filter gt takes an operand"},
		{List(List(Int(9), String("exists"), Int(1))), "filter exists takes no operand"},
		{List(List(Int(11), String("len"))), "unknown view function \"len\""},
		{List(List(Int(33), String("1"))), "incr needs an int or float amount"},
	} {
		_, err := ParsePath(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePath(%s): %v, want %q", c.v, err, c.want)
		}
	}
}

func TestSchemaForms(t *testing.T) {
	s := MapOf(StringT, RecordOf(Field("n", IntT), Field("tags", SetOf(StringT).Subindexed())))
	if got := s.String(); got != "map(string, record{n: int, tags: set(string).subindexed})" {
		t.Fatal(got)
	}
	if got := s.Value().String(); got != `{"key": "string", "val": {"type": "record", "fields": [["n", "int"], ["tags", {"elem": "string", "type": "set", "subindexed": true}]]}, "type": "map"}` {
		t.Fatal(got)
	}
}

// TestPathStepInPlace holds Key and Incr, which fill their steps in
// place, to the paths and errors of the general step builder.
func TestPathStepInPlace(t *testing.T) {
	p := P().Key("a").Key(7).Key(int64(-2)).Key(1.5).Incr(3)
	if got, want := p.String(), P().with(step{op: opKey, arg: String("a")}).with(step{op: opKey, arg: Int(7)}).
		with(step{op: opKey, arg: Int(-2)}).with(step{op: opKey, arg: Float(1.5)}).with(step{op: opIncr, arg: Int(3)}).String(); got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	bad := P().Key("a").Key(make(chan int)).Key("b")
	var pe *PathError
	if err := bad.Validate(TransformMode); !errors.As(err, &pe) || pe.Step != 1 || pe.Nav != "key" {
		t.Fatalf("%v (%+v), want a PathError at step 1", err, pe)
	}
}
