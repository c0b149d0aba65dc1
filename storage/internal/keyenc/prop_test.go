package keyenc

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/squall-run/squall/abi"
)

// Small alphabets make equal values, shared prefixes and near misses common.
var (
	edgeInts = func() []int64 {
		out := []int64{0, 1, -1, 2, -2, 127, 128, -128, -129, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
		for k := 7; k < 63; k += 8 {
			p := int64(1) << k
			out = append(out, p-1, p, p+1, -p+1, -p, -p-1)
			p = int64(1) << (k + 1)
			out = append(out, p-1, p, p+1, -p+1, -p, -p-1)
		}
		return out
	}()
	edgeFloats = []float64{
		0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1.5, math.Inf(1), math.Inf(-1), math.NaN(),
		math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, 2 * math.SmallestNonzeroFloat64,
		0x1p-1022, -0x1p-1022, math.Nextafter(0x1p-1022, 0), math.MaxFloat64, -math.MaxFloat64,
		9007199254740993, -9007199254740993, 1e300, -1e-300,
	}
	strPieces  = []string{"", "a", "b", "\x00", "\x01", "é", "\u00ff", "\uffff", "😀", "\U0010FFFF", "\x7f", "ab"}
	bytePieces = []string{"", "a", "\x00", "\xff", "\x01", "\xfe", "\x00\xff", "\xff\x00"}
)

func randPieces(r *rand.Rand, pieces []string) string {
	var b []byte
	for range r.IntN(4) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

// randValue returns a random value of any kind, containers at most depth
// deep.
func randValue(r *rand.Rand, depth int) abi.Value {
	k := r.IntN(12)
	if depth <= 0 && k >= 9 {
		k = r.IntN(9)
	}
	switch k {
	case 0:
		return abi.Nil()
	case 1:
		return abi.Bool(r.IntN(2) == 1)
	case 2, 3:
		if r.IntN(2) == 0 {
			return abi.Int(edgeInts[r.IntN(len(edgeInts))])
		}
		return abi.Int(r.Int64() >> r.IntN(64))
	case 4:
		if r.IntN(3) > 0 {
			return abi.Float(edgeFloats[r.IntN(len(edgeFloats))])
		}
		return abi.Float(math.Float64frombits(r.Uint64()))
	case 5, 6:
		return abi.String(randPieces(r, strPieces))
	case 7, 8:
		return abi.Bytes([]byte(randPieces(r, bytePieces)))
	case 9:
		return abi.List(randValues(r, depth-1)...)
	case 10:
		vs := randValues(r, depth-1)
		es := make([]abi.MapEntry, len(vs))
		for i, v := range vs {
			es[i] = abi.MapEntry{Key: v, Val: randValue(r, depth-1)}
		}
		return abi.Map(es...)
	default:
		return abi.Set(randValues(r, depth-1)...)
	}
}

func randValues(r *rand.Rand, depth int) []abi.Value {
	vs := make([]abi.Value, r.IntN(4))
	for i := range vs {
		vs[i] = randValue(r, depth)
	}
	return vs
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// checkPair checks every pairwise property of the encodings of a and b.
func checkPair(t *testing.T, a, b abi.Value, ea, eb []byte) {
	t.Helper()
	want := sign(abi.Compare(a, b))
	if got := bytes.Compare(ea, eb); got != want {
		t.Fatalf("order mismatch: Compare(%v, %v) = %d but bytes.Compare(% x, % x) = %d", a, b, want, ea, eb, got)
	}
	// An encoding can be a proper prefix of another only as "" is of "\x00"
	// (30 00 and 30 00 FF 00): the longer one continues with 0xFF, which
	// never follows an element, so the order of keys that extend them holds.
	if want != 0 {
		for _, p := range [][2][]byte{{ea, eb}, {eb, ea}} {
			if bytes.HasPrefix(p[1], p[0]) && p[1][len(p[0])] != escByte {
				t.Fatalf("encoding % x is a prefix of % x", p[0], p[1])
			}
		}
	}
	// Whatever may follow an element (more elements: 0x01..0xFE; the end of
	// a container or a 0x00 metadata suffix) does not change the order of
	// different elements.
	if want != 0 {
		for _, sa := range [][]byte{{0x00}, {0x00, 0xff}, {0x01, 0x02}, {0xfe}} {
			for _, sb := range [][]byte{{0x00}, {0xfe}, {}} {
				x := append(append([]byte(nil), ea...), sa...)
				y := append(append([]byte(nil), eb...), sb...)
				if bytes.Compare(x, y) != want {
					t.Fatalf("suffixes % x, % x change the order of %v and %v", sa, sb, a, b)
				}
			}
		}
	}
}

func TestProperty_OrderAndRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 600
	vals := make([]abi.Value, 0, n+len(edgeInts)+len(edgeFloats))
	for _, i := range edgeInts {
		vals = append(vals, abi.Int(i))
	}
	for _, f := range edgeFloats {
		vals = append(vals, abi.Float(f))
	}
	for range n {
		vals = append(vals, randValue(r, 3))
	}
	encs := make([][]byte, len(vals))
	for i, v := range vals {
		e, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%v): %v", v, err)
		}
		encs[i] = e
		got, m, err := Decode(e)
		if err != nil {
			t.Fatalf("Decode(Append(%v) = % x): %v", v, e, err)
		}
		if m != len(e) || !abi.Equal(got, v) {
			t.Fatalf("Decode(Append(%v)) = %v, %d bytes of %d", v, got, m, len(e))
		}
	}
	for i := range vals {
		for j := range vals {
			checkPair(t, vals[i], vals[j], encs[i], encs[j])
		}
	}
}

func compareTuples(a, b []abi.Value) int {
	for i := range min(len(a), len(b)) {
		if c := abi.Compare(a[i], b[i]); c != 0 {
			return sign(c)
		}
	}
	return sign(len(a) - len(b))
}

func TestProperty_Tuples(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// A small pool so tuples share prefixes often.
	pool := make([]abi.Value, 24)
	for i := range pool {
		pool[i] = randValue(r, 2)
	}
	randTuple := func() []abi.Value {
		vs := make([]abi.Value, r.IntN(4))
		for i := range vs {
			vs[i] = pool[r.IntN(len(pool))]
		}
		return vs
	}
	for range 20000 {
		a, b := randTuple(), randTuple()
		ea, err := AppendTuple(nil, a...)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := AppendTuple(nil, b...)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bytes.Compare(ea, eb), compareTuples(a, b); got != want {
			t.Fatalf("tuples %v and %v: bytes.Compare = %d, element-wise Compare = %d", a, b, got, want)
		}
		da, err := DecodeTuple(ea)
		if err != nil {
			t.Fatalf("DecodeTuple(% x): %v", ea, err)
		}
		if compareTuples(da, a) != 0 || len(da) != len(a) {
			t.Fatalf("DecodeTuple(AppendTuple(%v)) = %v", a, da)
		}
	}
}
