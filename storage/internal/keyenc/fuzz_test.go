package keyenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// fuzzSeeds are encodings of interesting values plus malformed inputs.
func fuzzSeeds(t testing.TB) [][]byte {
	kv := func(k, v abi.Value) abi.MapEntry { return abi.MapEntry{Key: k, Val: v} }
	vals := []abi.Value{
		abi.Nil(), abi.Bool(true), abi.Int(0), abi.Int(-1), abi.Int(math.MinInt64), abi.Int(math.MaxInt64),
		abi.Int(1 << 40), abi.Float(math.NaN()), abi.Float(math.Copysign(0, -1)), abi.Float(math.SmallestNonzeroFloat64),
		abi.String(""), abi.String("a\x00\x00b"), abi.String("😀é"), abi.Bytes([]byte{0, 0xff, 0}),
		abi.List(abi.Nil(), abi.List(abi.String("\x00"))),
		abi.Map(kv(abi.Int(1), abi.Set(abi.Int(-1), abi.Int(1))), kv(abi.Int(-1), abi.Map())),
		abi.Set(abi.String("b"), abi.String("a\x00"), abi.Bytes(nil)),
	}
	var out [][]byte
	for _, v := range vals {
		b, err := Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	tuple, err := AppendTuple(nil, vals...)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, tuple)
	for _, s := range []string{
		"", "\x00", "\xff", "\x16\x00\x01", "\x12\xff\x00", "\x1c\x80\x00\x00\x00\x00\x00\x00\x00",
		"\x21\xff\xf8\x00\x00\x00\x00\x00\x01", "\x30\xff\x00", "\x30a\x00\xff", "\x41\x14\x00",
		"\x41\x15\x01\x01\x14\x01\x00", "\x42\x01\x01\x00", "\x30a\x00\x00", strings.Repeat("\x40", 200),
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzDecode checks that decoding never panics, fails only with *Error, and
// that whatever decodes re-encodes to the same bytes: the encoding is
// canonical and decoding rejects every non-canonical input.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		// Random bytes rarely form deep, valid structure. So also decode the
		// encoding of a value built from data, with one byte changed as the
		// last two bytes of data say.
		v := (&fuzzBuilder{b: data}).value(4)
		enc, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%v): %v", v, err)
		}
		if len(data) >= 2 {
			enc[int(data[len(data)-1])%len(enc)] ^= data[len(data)-2]
		}
		checkDecode(t, enc)
	})
}

// checkDecode checks that Decode and DecodeTuple either fail with an *Error
// or return values that encode back to exactly the bytes they consumed.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	v, n, err := Decode(data)
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("Decode error %v is not an *Error", err)
		}
		if de.Offset < 0 || de.Offset > len(data) {
			t.Fatalf("Decode error offset %d outside the input of %d bytes", de.Offset, len(data))
		}
	} else {
		if n <= 0 || n > len(data) {
			t.Fatalf("Decode consumed %d of %d bytes", n, len(data))
		}
		re, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(Decode(% x) = %v): %v", data, v, err)
		}
		if !bytes.Equal(re, data[:n]) {
			t.Fatalf("Decode(% x) = %v, which encodes as % x", data[:n], v, re)
		}
	}
	vs, err := DecodeTuple(data)
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("DecodeTuple error %v is not an *Error", err)
		}
		return
	}
	re, err := AppendTuple(nil, vs...)
	if err != nil {
		t.Fatalf("AppendTuple(DecodeTuple(% x)): %v", data, err)
	}
	if !bytes.Equal(re, data) {
		t.Fatalf("DecodeTuple(% x) = %v, which encodes as % x", data, vs, re)
	}
}

// fuzzBuilder builds a value from fuzzer bytes; running out of bytes reads
// zeros.
type fuzzBuilder struct{ b []byte }

func (r *fuzzBuilder) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzBuilder) take(n int) []byte {
	out := make([]byte, n)
	copy(out, r.b)
	r.b = r.b[min(n, len(r.b)):]
	return out
}

func (r *fuzzBuilder) value(depth int) abi.Value {
	op := r.byte()
	switch op % 13 {
	case 0:
		return abi.Nil()
	case 1:
		return abi.Bool(op&0x80 != 0)
	case 2:
		return abi.Int(int64(int8(r.byte())))
	case 3:
		return abi.Int(int64(binary.BigEndian.Uint64(r.take(8))) >> (r.byte() % 64))
	case 4:
		return abi.Int(edgeInts[int(r.byte())%len(edgeInts)])
	case 5:
		return abi.Float(math.Float64frombits(binary.BigEndian.Uint64(r.take(8))))
	case 6:
		return abi.Float(edgeFloats[int(r.byte())%len(edgeFloats)])
	case 7:
		return abi.String(strings.ToValidUTF8(string(r.take(int(r.byte()%16))), "\uFFFD"))
	case 8:
		return abi.Bytes(r.take(int(r.byte() % 16)))
	}
	if depth <= 0 {
		return abi.Nil()
	}
	items := make([]abi.Value, r.byte()%5)
	for i := range items {
		items[i] = r.value(depth - 1)
	}
	switch op % 13 {
	case 9, 10:
		return abi.List(items...)
	case 11:
		es := make([]abi.MapEntry, len(items))
		for i, k := range items {
			es[i] = abi.MapEntry{Key: k, Val: r.value(depth - 1)}
		}
		return abi.Map(es...)
	}
	return abi.Set(items...)
}

// FuzzOrder checks that the byte order of the encodings of two values built
// from fuzzer bytes is their Compare order, and that they round-trip.
func FuzzOrder(f *testing.F) {
	f.Add([]byte{2, 5}, []byte{2, 6})
	f.Add([]byte{3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{4, 9})
	f.Add([]byte{7, 2, 'a', 0}, []byte{7, 1, 'a'})
	f.Add([]byte{8, 2, 0, 0xff}, []byte{8, 1, 0})
	f.Add([]byte{9, 2, 2, 1, 0}, []byte{9, 1, 2, 1})
	f.Add([]byte{11, 2, 2, 0xff, 2, 1, 0, 0}, []byte{11, 1, 2, 0xff, 0})
	f.Add([]byte{12, 3, 2, 1, 2, 0xff, 7, 0}, []byte{12, 2, 2, 1, 2, 0xfe})
	f.Add([]byte{6, 3}, []byte{6, 4})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a := (&fuzzBuilder{b: x}).value(4)
		b := (&fuzzBuilder{b: y}).value(4)
		ea, err := Append(nil, a)
		if err != nil {
			t.Fatalf("Append(%v): %v", a, err)
		}
		eb, err := Append(nil, b)
		if err != nil {
			t.Fatalf("Append(%v): %v", b, err)
		}
		checkPair(t, a, b, ea, eb)
		for _, p := range []struct {
			v abi.Value
			e []byte
		}{{a, ea}, {b, eb}} {
			got, n, err := Decode(p.e)
			if err != nil || n != len(p.e) || !abi.Equal(got, p.v) {
				t.Fatalf("Decode(Append(%v) = % x) = %v, %d, %v", p.v, p.e, got, n, err)
			}
		}
		// As tuples with a common first element and a shared last one.
		ta, err := AppendTuple(nil, abi.String("k"), a, abi.Int(1))
		if err != nil {
			t.Fatal(err)
		}
		tb, err := AppendTuple(nil, abi.String("k"), b, abi.Int(0))
		if err != nil {
			t.Fatal(err)
		}
		want := sign(abi.Compare(a, b))
		if want == 0 {
			want = 1 // decided by the last element
		}
		if got := bytes.Compare(ta, tb); got != want {
			t.Fatalf("tuples (k, %v, 1) and (k, %v, 0): bytes.Compare = %d, want %d", a, b, got, want)
		}
	})
}
