package squall

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

type userID string

type level int8

type point struct{ X, Y int }

func (p point) MarshalSquall() (Value, error) { return ValueOf([]int{p.X, p.Y}) }

func (p *point) UnmarshalSquall(v Value) error {
	xy, err := As[[2]int](v)
	p.X, p.Y = xy[0], xy[1]
	return err
}

func TestValueOf(t *testing.T) {
	var nilPoint *point
	var nilMap map[string]int
	id := userID("u1")
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{true, "true"},
		{int8(-5), "-5"},
		{uint16(65535), "65535"},
		{uint64(math.MaxInt64), "9223372036854775807"},
		{float32(1.5), "1.5"},
		{3.0, "3.0"},
		{"é", `"é"`},
		{[]byte("ab"), `0x"6162"`},
		{[]byte(nil), "nil"},
		{Int(7), "7"},
		{[]any{1, "a", nil, []int{2}}, `[1, "a", nil, [2]]`},
		{map[string]any{"b": 1, "a": []string{"x"}}, `{"a": ["x"], "b": 1}`},
		{map[int]string{2: "b", -1: "a"}, `{2: "b", -1: "a"}`},
		{id, `"u1"`},
		{&id, `"u1"`},
		{[]userID{"a", "b"}, `["a", "b"]`},
		{map[userID][]level{"x": {1, 2}}, `{"x": [1, 2]}`},
		{[2]bool{true, false}, "[true, false]"},
		{point{1, 2}, "[1, 2]"},
		{&point{3, 4}, "[3, 4]"},
		{nilPoint, "nil"},
		{nilMap, "nil"},
		{[]point{{1, 2}}, "[[1, 2]]"},
		{time.Duration(5), "5"},
		{[]MapEntry{{List(Int(1)), Nil()}}, "{[1]: nil}"},
	} {
		v, err := ValueOf(c.in)
		if err != nil || v.String() != c.want {
			t.Errorf("ValueOf(%#v) = %s, %v; want %s", c.in, v, err, c.want)
		}
	}
	for _, c := range []struct {
		in   any
		want string
	}{
		{uint64(math.MaxUint64), "does not fit a 64-bit signed int"},
		{struct{ A int }{1}, "cannot convert struct { A int } (a struct) to a Value: implement squall.Marshaler"},
		{[]any{1, make(chan int)}, "at [1]: cannot convert chan int"},
		{map[string]any{"k": func() {}}, `at ["k"]: cannot convert func()`},
	} {
		_, err := ValueOf(c.in)
		var ce *ConvertError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValueOf(%T): %v, want %q", c.in, err, c.want)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	v := MustValueOf(map[string]any{"n": 3, "f": 2.5, "s": "x", "l": []int{1, 2}, "m": map[string]any{"k": true}, "b": []byte{1}})
	var (
		n  int64
		f  float64
		s  userID
		l  []level
		m  map[string]bool
		b  []byte
		a  any
		p  *int
		vs []Value
	)
	err := Unpack(v, map[string]any{"n": &n, "f": &f, "s": &s, "l": &l, "m": &m, "b": &b, "missing": &p})
	if err != nil || n != 3 || f != 2.5 || s != "x" || len(l) != 2 || !m["k"] || b[0] != 1 || p != nil {
		t.Fatalf("Unpack: %v %v %v %v %v %v %v %v", err, n, f, s, l, m, b, p)
	}
	if err := Unmarshal(v.Field("n"), &p); err != nil || *p != 3 {
		t.Fatalf("*int: %v", err)
	}
	if err := Unmarshal(v, &a); err != nil || a.(map[string]any)["l"].([]any)[1] != int64(2) {
		t.Fatalf("any: %#v %v", a, err)
	}
	if err := Unmarshal(Map(MapEntry{Int(1), String("a")}), &a); err != nil || a.(map[any]any)[int64(1)] != "a" {
		t.Fatalf("any with int keys: %#v %v", a, err)
	}
	if err := Unmarshal(Set(Int(2), Int(1)), &vs); err != nil || len(vs) != 2 {
		t.Fatalf("set: %v", err)
	}
	if x, err := As[float64](Int(2)); err != nil || x != 2 {
		t.Fatalf("float from int: %v %v", x, err)
	}
	if got, err := MapAs[int64, string](Map(MapEntry{Int(1), String("a")})); err != nil || got[1] != "a" {
		t.Fatalf("MapAs: %v %v", got, err)
	}
	if got, err := ListAs[point](MustValueOf([]point{{1, 2}})); err != nil || got[0].Y != 2 {
		t.Fatalf("ListAs: %v %v", got, err)
	}
	for _, c := range []struct {
		v    Value
		ptr  any
		want string
	}{
		{String("x"), new(int), "cannot store string \"x\" in a int"},
		{Int(300), new(level), "300 does not fit a squall.level"},
		{Int(-1), new(uint), "-1 does not fit a uint"},
		{MustValueOf([]any{1, "x"}), new([]int), `at [1]: cannot store string "x" in a int`},
		{MustValueOf(map[string]any{"a": "x"}), new(map[string]int), `at ["a"]: cannot store string "x" in a int`},
		{List(Int(1)), new([2]int), "holds 2 items"},
		{Int(1), new(point), "cannot store int 1"},
		{Int(1), new(struct{ A int }), "implement squall.Unmarshaler"},
		{Int(1), 5, "needs a non-nil pointer"},
		{Map(MapEntry{List(), Nil()}), new(any), "no comparable Go form"},
		{MustValueOf(map[string]any{"n": "x"}), nil, `["n"]`},
	} {
		var err error
		if c.ptr == nil {
			var n int
			err = Unpack(c.v, map[string]any{"n": &n})
		} else {
			err = Unmarshal(c.v, c.ptr)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Unmarshal(%s, %T): %v, want %q", c.v, c.ptr, err, c.want)
		}
	}
}

func TestTypedInput(t *testing.T) {
	fn := Typed(func(ctx *Ctx, p point) error { return nil })
	err := fn(&Ctx{stage: &Stage{name: "s"}}, String("x"))
	var ie *InputError
	if !errors.As(err, &ie) || !IsPoison(err) || !strings.Contains(err.Error(), `stage "s": input:`) {
		t.Fatalf("%v", err)
	}
}

func TestClassify(t *testing.T) {
	base := errors.New("x")
	for _, c := range []struct {
		err  error
		want outcome
		kind string
	}{
		{base, outcomeRetry, "error"},
		{Poison(base), outcomePoison, "poison"},
		{Retryable(Poison(base)), outcomeRetry, "retry"},
		{Poison(Retryable(base)), outcomePoison, "poison"},
		{&QueryError{Code: EPATH}, outcomePoison, "query"},
		{&QueryError{Code: EINTERNAL}, outcomeRetry, "query"},
		{Retryable(&QueryError{Code: EPATH}), outcomeRetry, "retry"},
		{&RejectedError{Code: ESCHEMA}, outcomePoison, "rejected"},
		{&panicError{value: "boom"}, outcomeRetry, "panic"},
		{&panicError{value: Poison(base)}, outcomePoison, "panic"},
	} {
		o, kind := classify(c.err)
		if o != c.want || kind != c.kind {
			t.Errorf("classify(%v) = %d %s, want %d %s", c.err, o, kind, c.want, c.kind)
		}
	}
	if Poison(nil) != nil || Retryable(nil) != nil {
		t.Fatal("wrapping nil")
	}
}

// TestTypedPrimitives holds the stage functions Typed makes for primitive
// inputs to Unmarshal's conversions: the same value passed on, the same
// error (as an InputError) and no call of the stage.
func TestTypedPrimitives(t *testing.T) {
	inputs := []Value{{}, String("w"), Int(-3), Int(math.MaxInt64), Bool(true), Float(1.5), Bytes([]byte("b")), MustValueOf([]int{1})}
	ctx := &Ctx{stage: &Stage{name: "s"}}
	check := func(name string, v Value, got any, called bool, err error, want any, wantErr error) {
		t.Helper()
		switch {
		case (err == nil) != (wantErr == nil):
			t.Errorf("%s(%s): error %v, Unmarshal's %v", name, v, err, wantErr)
		case err != nil:
			var ie *InputError
			if !errors.As(err, &ie) || ie.Err.Error() != wantErr.Error() || called {
				t.Errorf("%s(%s): %v (called %v), want an InputError of %v", name, v, err, called, wantErr)
			}
		case !called || got != want:
			t.Errorf("%s(%s): stage got %v (called %v), Unmarshal gives %v", name, v, got, called, want)
		}
	}
	for _, v := range inputs {
		var got any
		called := false
		var s string
		err := Typed(func(_ *Ctx, x string) error { got, called = x, true; return nil })(ctx, v)
		werr := Unmarshal(v, &s)
		check("string", v, got, called, err, s, werr)

		got, called = nil, false
		var i int
		err = Typed(func(_ *Ctx, x int) error { got, called = x, true; return nil })(ctx, v)
		werr = Unmarshal(v, &i)
		check("int", v, got, called, err, i, werr)

		got, called = nil, false
		var i64 int64
		err = Typed(func(_ *Ctx, x int64) error { got, called = x, true; return nil })(ctx, v)
		werr = Unmarshal(v, &i64)
		check("int64", v, got, called, err, i64, werr)

		got, called = nil, false
		var b bool
		err = Typed(func(_ *Ctx, x bool) error { got, called = x, true; return nil })(ctx, v)
		werr = Unmarshal(v, &b)
		check("bool", v, got, called, err, b, werr)

		var gotV Value
		err = Typed(func(_ *Ctx, x Value) error { gotV = x; return nil })(ctx, v)
		if err != nil || !Equal(gotV, v) {
			t.Errorf("Value(%s): got %s, %v", v, gotV, err)
		}
	}
}

// TestValueOfInto holds valueOfInto, the in-place ValueOf of path keys,
// to ValueOf for its fast cases and the rest.
func TestValueOfInto(t *testing.T) {
	for _, x := range []any{"w", "", 0, -7, int64(math.MinInt64), int8(3), uint64(math.MaxUint64), nil, 1.5, []string{"a"}, userID("u"), struct{}{}} {
		want, werr := ValueOf(x)
		var got Value
		err := valueOfInto(&got, x)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || !Equal(got, want) {
			t.Errorf("valueOfInto(%#v) = %s, %v; ValueOf gives %s, %v", x, got, err, want, werr)
		}
	}
}
