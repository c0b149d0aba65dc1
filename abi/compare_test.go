package abi_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/squall-run/squall/abi"
)

func cmpKV(k, v abi.Value) abi.MapEntry { return abi.MapEntry{Key: k, Val: v} }

// cmpOrdered lists values in strictly increasing Compare order.
var cmpOrdered = []abi.Value{
	abi.Nil(),

	abi.Bool(false),
	abi.Bool(true),

	abi.Int(math.MinInt64),
	abi.Int(math.MinInt64 + 1),
	abi.Int(-1 << 32),
	abi.Int(-256),
	abi.Int(-255),
	abi.Int(-1),
	abi.Int(0),
	abi.Int(1),
	abi.Int(255),
	abi.Int(256),
	abi.Int(math.MaxInt64),

	abi.Float(math.Inf(-1)),
	abi.Float(-math.MaxFloat64),
	abi.Float(-1),
	abi.Float(-math.SmallestNonzeroFloat64),
	abi.Float(math.Copysign(0, -1)),
	abi.Float(0),
	abi.Float(math.SmallestNonzeroFloat64),
	abi.Float(0x1p-1022),
	abi.Float(1),
	abi.Float(math.MaxFloat64),
	abi.Float(math.Inf(1)),
	abi.Float(math.NaN()),

	abi.String(""),
	abi.String("\x00"),
	abi.String("A"),
	abi.String("a"),
	abi.String("a\x00"),
	abi.String("ab"),
	abi.String("b"),
	abi.String("é"),      // c3 a9
	abi.String("\uffff"), // ef bf bf
	abi.String("😀"),      // f0 9f 98 80: UTF-8 byte order is code point order

	abi.Bytes(nil),
	abi.Bytes([]byte{0}),
	abi.Bytes([]byte{0, 0}),
	abi.Bytes([]byte{1}),
	abi.Bytes([]byte{0xff}),

	abi.List(),
	abi.List(abi.Nil()),
	abi.List(abi.Nil(), abi.Nil()),
	abi.List(abi.Bool(false)),
	abi.List(abi.Int(-1)),
	abi.List(abi.Int(0)),
	abi.List(abi.Int(0), abi.Nil()),
	abi.List(abi.Int(1)),
	abi.List(abi.Float(1)), // int sorts before float
	abi.List(abi.String("a")),
	abi.List(abi.List()),
	abi.List(abi.List(abi.Nil())),
	abi.List(abi.Map()),

	abi.Map(),
	abi.Map(cmpKV(abi.Nil(), abi.Nil())),
	abi.Map(cmpKV(abi.Nil(), abi.Bool(true))),
	abi.Map(cmpKV(abi.Bool(false), abi.Int(0))),
	abi.Map(cmpKV(abi.Int(-1), abi.Int(5))),
	// Canonical order holds 1 before -1; Compare order -1 before 1.
	abi.Map(cmpKV(abi.Int(1), abi.Int(0)), cmpKV(abi.Int(-1), abi.Int(5))),
	abi.Map(cmpKV(abi.Int(-1), abi.Int(6))),
	abi.Map(cmpKV(abi.Int(1), abi.Int(0))),
	abi.Map(cmpKV(abi.Int(1), abi.Int(0)), cmpKV(abi.Int(2), abi.Int(0))),
	abi.Map(cmpKV(abi.Int(2), abi.Nil())),
	abi.Map(cmpKV(abi.String("a"), abi.Nil())),
	abi.Map(cmpKV(abi.String("a"), abi.Nil()), cmpKV(abi.String("bb"), abi.Nil())),
	abi.Map(cmpKV(abi.String("b"), abi.Nil())),

	abi.Set(),
	abi.Set(abi.Nil()),
	abi.Set(abi.Int(-1)),
	abi.Set(abi.Int(1), abi.Int(-1)),
	abi.Set(abi.Int(0)),
	abi.Set(abi.Int(1)),
	abi.Set(abi.Int(1), abi.Int(2)),
	abi.Set(abi.String("a")),
	abi.Set(abi.String("a"), abi.String("bb")), // canonical order puts "a" first anyway
	abi.Set(abi.String("bb"), abi.String("c")), // canonical order: "c" (shorter) first
	abi.Set(abi.String("c")),
}

func TestCompare(t *testing.T) {
	for i, a := range cmpOrdered {
		for j, b := range cmpOrdered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := abi.Compare(a, b); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestCompare_Equal(t *testing.T) {
	tests := []struct{ a, b abi.Value }{
		{abi.Float(math.NaN()), abi.Float(-math.NaN())},
		{abi.Map(cmpKV(abi.Int(1), abi.Nil()), cmpKV(abi.Int(-1), abi.Nil())), abi.Map(cmpKV(abi.Int(-1), abi.Nil()), cmpKV(abi.Int(1), abi.Nil()))},
		{abi.Set(abi.Int(3), abi.Int(-3)), abi.Set(abi.Int(-3), abi.Int(3), abi.Int(3))},
		{abi.Bytes([]byte("x")), abi.Bytes([]byte("x"))},
		{abi.List(abi.String("x"), abi.Set()), abi.List(abi.String("x"), abi.Set())},
	}
	for _, tc := range tests {
		if got := abi.Compare(tc.a, tc.b); got != 0 {
			t.Errorf("Compare(%v, %v) = %d, want 0", tc.a, tc.b, got)
		}
	}
	unequal := []struct{ a, b abi.Value }{
		{abi.Int(1), abi.Float(1)},
		{abi.String("a"), abi.Bytes([]byte("a"))},
		{abi.List(abi.Int(1)), abi.Set(abi.Int(1))},
		{abi.Float(0), abi.Float(math.Copysign(0, -1))},
	}
	for _, tc := range unequal {
		if got := abi.Compare(tc.a, tc.b); got == 0 {
			t.Errorf("Compare(%v, %v) = 0, want non-zero", tc.a, tc.b)
		}
	}
}

// cmpRandValue returns a random value drawn from small alphabets so that
// equal values and shared prefixes are common.
func cmpRandValue(r *rand.Rand, depth int) abi.Value {
	k := r.IntN(11)
	if depth <= 0 && k >= 8 {
		k = r.IntN(8)
	}
	switch k {
	case 0:
		return abi.Nil()
	case 1:
		return abi.Bool(r.IntN(2) == 1)
	case 2:
		ints := []int64{math.MinInt64, -256, -1, 0, 1, 2, 255, math.MaxInt64}
		return abi.Int(ints[r.IntN(len(ints))])
	case 3:
		floats := []float64{math.Inf(-1), -1, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 1, math.Inf(1), math.NaN()}
		return abi.Float(floats[r.IntN(len(floats))])
	case 4, 5:
		pieces := []string{"", "a", "\x00", "é", "😀"}
		s := ""
		for range r.IntN(3) {
			s += pieces[r.IntN(len(pieces))]
		}
		return abi.String(s)
	case 6, 7:
		b := make([]byte, r.IntN(3))
		for i := range b {
			b[i] = []byte{0, 1, 0xff}[r.IntN(3)]
		}
		return abi.Bytes(b)
	case 8:
		return abi.List(cmpRandValues(r, depth-1)...)
	case 9:
		ks := cmpRandValues(r, depth-1)
		es := make([]abi.MapEntry, len(ks))
		for i, k := range ks {
			es[i] = cmpKV(k, cmpRandValue(r, depth-1))
		}
		return abi.Map(es...)
	default:
		return abi.Set(cmpRandValues(r, depth-1)...)
	}
}

func cmpRandValues(r *rand.Rand, depth int) []abi.Value {
	vs := make([]abi.Value, r.IntN(4))
	for i := range vs {
		vs[i] = cmpRandValue(r, depth)
	}
	return vs
}

func TestCompare_Properties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	vals := append([]abi.Value(nil), cmpOrdered...)
	for range 400 {
		vals = append(vals, cmpRandValue(r, 3))
	}
	for _, a := range vals {
		if c := abi.Compare(a, a); c != 0 {
			t.Fatalf("Compare(%v, itself) = %d", a, c)
		}
		for _, b := range vals {
			ab, ba := abi.Compare(a, b), abi.Compare(b, a)
			if ab < -1 || ab > 1 {
				t.Fatalf("Compare(%v, %v) = %d, want -1, 0 or 1", a, b, ab)
			}
			if ab != -ba {
				t.Fatalf("not antisymmetric: Compare(%v, %v) = %d, Compare(b, a) = %d", a, b, ab, ba)
			}
			if (ab == 0) != abi.Equal(a, b) {
				t.Fatalf("Compare(%v, %v) = %d but Equal = %v", a, b, ab, abi.Equal(a, b))
			}
		}
	}
	for range 200000 {
		a, b, c := vals[r.IntN(len(vals))], vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]
		if abi.Compare(a, b) <= 0 && abi.Compare(b, c) <= 0 && abi.Compare(a, c) > 0 {
			t.Fatalf("not transitive: %v <= %v <= %v but Compare(a, c) > 0", a, b, c)
		}
		if abi.Compare(a, b) == 0 && abi.Compare(a, c) != abi.Compare(b, c) {
			t.Fatalf("equal values %v and %v compare differently with %v", a, b, c)
		}
	}
}

func TestCompare_DoesNotReorderInput(t *testing.T) {
	m := abi.Map(cmpKV(abi.Int(1), abi.Nil()), cmpKV(abi.Int(-1), abi.Nil()), cmpKV(abi.Int(-300), abi.Nil()))
	before := m.Entries()
	abi.Compare(m, abi.Map(cmpKV(abi.Int(-1), abi.Nil())))
	after := m.Entries()
	for i := range before {
		if !abi.Equal(before[i].Key, after[i].Key) {
			t.Fatalf("Compare reordered map entries: %v became %v", before, after)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	x := abi.List(abi.String("user"), abi.Int(12345), abi.Map(cmpKV(abi.Int(1), abi.Nil()), cmpKV(abi.Int(-1), abi.Nil())))
	y := abi.List(abi.String("user"), abi.Int(12345), abi.Map(cmpKV(abi.Int(1), abi.Nil()), cmpKV(abi.Int(-2), abi.Nil())))
	for b.Loop() {
		abi.Compare(x, y)
	}
}

func TestCompare_LargeContainers(t *testing.T) {
	// More than 16 elements: the sorting path that allocates.
	var xs, ys []abi.Value
	var xm, ym []abi.MapEntry
	for i := range 40 {
		v := int64(20 - i) // mixes negative and positive: canonical order differs
		xs = append(xs, abi.Int(v))
		xm = append(xm, cmpKV(abi.Int(v), abi.Nil()))
		if i == 39 {
			v = 30 // replaces the smallest element (-19) by a large one
		}
		ys = append(ys, abi.Int(v))
		ym = append(ym, cmpKV(abi.Int(v), abi.Nil()))
	}
	if c := abi.Compare(abi.Set(xs...), abi.Set(ys...)); c != -1 {
		t.Errorf("Compare(set with -19, set without) = %d, want -1", c)
	}
	if c := abi.Compare(abi.Map(ym...), abi.Map(xm...)); c != 1 {
		t.Errorf("Compare(map without -19, map with) = %d, want 1", c)
	}
	if c := abi.Compare(abi.Set(xs...), abi.Set(xs[:39]...)); c != -1 {
		t.Errorf("Compare(set with -19, set without) = %d, want -1", c)
	}
}
