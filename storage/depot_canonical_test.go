package storage

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/squall-run/squall/abi"
)

// FuzzCanonicalFast checks the fast path of record validation against the
// abi package: whatever it accepts, abi.IsCanonical accepts.
func FuzzCanonicalFast(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		f.Add(mustEncode(randomValue(rng, 3)))
	}
	for _, seed := range [][]byte{
		{0xcc, 0x05}, {0xd0, 0x05}, {0xd9, 0x01, 'a'}, {0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02},
		{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0xa2, 0xff, 0xfe},
		{0xdc, 0x00, 0x01, 0x01}, {0x91}, {0x81, 0x01}, {0xc1},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if isCanonicalFast(b) && !abi.IsCanonical(b) {
			t.Fatalf("fast path accepts % x, which is not canonical", b)
		}
	})
}

// TestCanonicalFastAccepts checks that the fast path accepts the canonical
// encoding of values without sets, so that it is actually taken.
func TestCanonicalFastAccepts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		v := randomValue(rng, 4)
		b := mustEncode(v)
		if got, want := isCanonicalFast(b), !bytes.Contains([]byte(v.String()), []byte("#{")); got != want {
			t.Fatalf("isCanonicalFast(%v = % x) = %v, want %v", v, b, got, want)
		}
	}
}

// randomValue returns a random value of up to depth levels of nesting,
// with the integers, floats and lengths at the edges of MessagePack forms.
func randomValue(rng *rand.Rand, depth int) abi.Value {
	ints := []int64{0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	lens := []int{0, 1, 15, 16, 31, 32, 255, 256, 300}
	k := rng.IntN(9)
	if depth == 0 && k >= 6 {
		k = rng.IntN(6)
	}
	switch k {
	case 0:
		return abi.Nil()
	case 1:
		return abi.Bool(rng.IntN(2) == 0)
	case 2:
		return abi.Int(ints[rng.IntN(len(ints))] + int64(rng.IntN(3)) - 1)
	case 3:
		return abi.Float([]float64{0, math.Copysign(0, -1), 1.5, math.NaN(), math.Inf(1), 1e300}[rng.IntN(6)])
	case 4:
		return abi.String(string(bytes.Repeat([]byte("é"), lens[rng.IntN(len(lens))]/2)))
	case 5:
		return abi.Bytes(make([]byte, lens[rng.IntN(len(lens))]))
	}
	n := rng.IntN(20)
	items := make([]abi.Value, n)
	for i := range items {
		items[i] = randomValue(rng, depth-1)
	}
	switch k {
	case 6:
		return abi.List(items...)
	case 7:
		es := make([]abi.MapEntry, n)
		for i := range es {
			es[i] = abi.MapEntry{Key: items[i], Val: randomValue(rng, depth-1)}
		}
		return abi.Map(es...)
	}
	return abi.Set(items...)
}
