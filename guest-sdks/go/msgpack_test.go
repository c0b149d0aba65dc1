package squall

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestGoldenValues(t *testing.T) {
	for _, l := range readGolden(t, "values.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			want := l.Hex("hex")
			v := fromGolden(l.Val("value"))
			got, err := Encode(v)
			if err != nil {
				t.Fatalf("encode %s: %v", v, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode %s:\n got %x\nwant %x", v, got, want)
			}
			back, err := Decode(want)
			if err != nil {
				t.Fatalf("decode %x: %v", want, err)
			}
			if !Equal(back, v) || Compare(back, v) != 0 {
				t.Fatalf("decode %x = %s, want %s", want, back, v)
			}
			if !IsCanonical(want) {
				t.Fatalf("IsCanonical(%x) = false", want)
			}
			if text := l.Str("text"); text != "" && v.String() != text {
				t.Errorf("String() = %s, want %s", v, text)
			}
		})
	}
}

func TestGoldenNonCanonical(t *testing.T) {
	for _, l := range readGolden(t, "noncanonical.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			in := l.Hex("input")
			v, err := Decode(in)
			if err != nil {
				t.Fatalf("decode %x: %v", in, err)
			}
			if want := fromGolden(l.Val("value")); !Equal(v, want) {
				t.Fatalf("decode %x = %s, want %s", in, v, want)
			}
			got, err := Canonicalize(in)
			if err != nil || !bytes.Equal(got, l.Hex("hex")) {
				t.Fatalf("canonicalize %x = %x, %v; want %s", in, got, err, l.Str("hex"))
			}
			if IsCanonical(in) {
				t.Fatalf("IsCanonical(%x) = true", in)
			}
		})
	}
}

func TestGoldenInvalid(t *testing.T) {
	for _, l := range readGolden(t, "invalid.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			in := l.Hex("hex")
			_, err := Decode(in)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("decode %x: got %v, want a *DecodeError", in, err)
			}
			if want := l.Str("reason"); de.reason != want {
				t.Errorf("reason %q, want %q (%v)", de.reason, want, err)
			}
			// The Go host's message gives the offset; the SDK reports the same.
			goErr := l.Str("go_error")
			rest, _ := strings.CutPrefix(goErr, "abi: decode: byte offset ")
			off, _, _ := strings.Cut(rest, ":")
			if strconv.Itoa(de.Offset) != off {
				t.Errorf("offset %d, want %s (%s)", de.Offset, off, goErr)
			}
			if got := strings.TrimPrefix(err.Error(), "squall: "); got != strings.TrimPrefix(goErr, "abi: ") {
				t.Errorf("message %q, want %q", got, goErr)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := Int(1)
	for range MaxDepth {
		deep = List(deep)
	}
	if _, err := Encode(deep); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	_, err := Encode(List(deep))
	var ee *EncodeError
	if !errors.As(err, &ee) || !strings.HasPrefix(ee.Path, "$[0][0]") || !strings.Contains(ee.Msg, "deeper") {
		t.Fatalf("too deep: %v", err)
	}
	_, err = Encode(Map(MapEntry{String("a"), List(Int(1), String("\xff"))}))
	if !errors.As(err, &ee) || ee.Path != `$["a"][1]` {
		t.Fatalf("bad utf-8: %v", err)
	}
	_, err = Encode(Set(String("ok"), String("b\xffad")))
	if !errors.As(err, &ee) || !strings.HasPrefix(ee.Path, "$#[") {
		t.Fatalf("bad utf-8 in set: %v", err)
	}
}

// TestRoundTripRandom encodes random values, decodes them back and checks
// canonical order properties.
func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randomValue(r, 3)
		b, err := Encode(v)
		if err != nil {
			t.Fatalf("%d: encode %s: %v", i, v, err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%d: decode %x (%s): %v", i, b, v, err)
		}
		if !Equal(back, v) {
			t.Fatalf("%d: round trip %s -> %s", i, v, back)
		}
		if !IsCanonical(b) {
			t.Fatalf("%d: not canonical: %x", i, b)
		}
	}
}

func randomValue(r *rand.Rand, depth int) Value {
	n := 7
	if depth > 0 {
		n = 10
	}
	switch r.IntN(n) {
	case 0:
		return Nil()
	case 1:
		return Bool(r.IntN(2) == 0)
	case 2:
		shifts := []int{0, 5, 7, 8, 15, 16, 31, 32, 62}
		x := r.Int64() >> shifts[r.IntN(len(shifts))]
		if r.IntN(2) == 0 {
			x = -x
		}
		return Int(x)
	case 3:
		fs := []float64{0, math.Copysign(0, -1), 1.5, math.NaN(), math.Inf(1), r.Float64()}
		return Float(fs[r.IntN(len(fs))])
	case 4:
		return String(strings.Repeat("é", r.IntN(40)))
	case 5:
		b := make([]byte, r.IntN(300))
		return Bytes(b)
	case 6:
		return Int(int64(r.IntN(20)))
	case 7:
		items := make([]Value, r.IntN(20))
		for i := range items {
			items[i] = randomValue(r, depth-1)
		}
		return List(items...)
	case 8:
		es := make([]MapEntry, r.IntN(20))
		for i := range es {
			es[i] = MapEntry{randomValue(r, depth-1), randomValue(r, depth-1)}
		}
		return Map(es...)
	}
	items := make([]Value, r.IntN(20))
	for i := range items {
		items[i] = randomValue(r, depth-1)
	}
	return Set(items...)
}

func TestSetHeaders(t *testing.T) {
	for _, c := range []struct {
		v    Value
		want string
	}{
		{Set(), "d40190"},
		{Set(Int(1)), "d5019101"},
		{Set(Int(1), Int(2), Int(3)), "d60193010203"},
		{Set(Int(1), Int(2)), "c70301920102"},
	} {
		got, err := Encode(c.v)
		if err != nil || hex.EncodeToString(got) != c.want {
			t.Errorf("%s: %x %v, want %s", c.v, got, err, c.want)
		}
	}
}

func TestAccessors(t *testing.T) {
	m := Map(MapEntry{String("b"), Int(2)}, MapEntry{String("a"), Int(1)}, MapEntry{String("b"), Int(3)})
	if m.Len() != 2 || m.Field("b").String() != "3" || !m.Has(String("a")) || m.Has(String("c")) {
		t.Fatalf("map %s", m)
	}
	if m.String() != `{"a": 1, "b": 3}` {
		t.Fatalf("String() = %s", m)
	}
	s := Set(Int(3), Int(1), Int(3))
	if s.Len() != 2 || !s.Has(Int(3)) || s.Index(0).String() != "1" {
		t.Fatalf("set %s", s)
	}
	if Compare(Int(1), Float(0.5)) >= 0 || Compare(Float(math.Copysign(0, -1)), Float(0)) >= 0 ||
		Compare(Float(math.Inf(1)), Float(math.NaN())) >= 0 || Compare(Int(-1), Int(2)) >= 0 {
		t.Fatal("Compare order")
	}
	if Compare(Map(MapEntry{Int(-1), Nil()}), Map(MapEntry{Int(2), Nil()})) >= 0 {
		t.Fatal("maps compare by Compare order of keys")
	}
}
