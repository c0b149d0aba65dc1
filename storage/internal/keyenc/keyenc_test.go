package keyenc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

func mustAppend(t testing.TB, v abi.Value) []byte {
	t.Helper()
	b, err := Append(nil, v)
	if err != nil {
		t.Fatalf("Append(%v): %v", v, err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppend_Exact(t *testing.T) {
	kv := func(k, v abi.Value) abi.MapEntry { return abi.MapEntry{Key: k, Val: v} }
	tests := []struct {
		name string
		v    abi.Value
		want string // hex, spaces ignored
	}{
		{"nil", abi.Nil(), "01"},
		{"false", abi.Bool(false), "02"},
		{"true", abi.Bool(true), "03"},
		{"int 0", abi.Int(0), "14"},
		{"int 1", abi.Int(1), "15 01"},
		{"int 255", abi.Int(255), "15 ff"},
		{"int 256", abi.Int(256), "16 0100"},
		{"int 65535", abi.Int(65535), "16 ffff"},
		{"int 65536", abi.Int(65536), "17 010000"},
		{"int 2^24", abi.Int(1 << 24), "18 01000000"},
		{"int 2^32", abi.Int(1 << 32), "19 0100000000"},
		{"int 2^40", abi.Int(1 << 40), "1a 010000000000"},
		{"int 2^48", abi.Int(1 << 48), "1b 01000000000000"},
		{"int 2^56", abi.Int(1 << 56), "1c 0100000000000000"},
		{"int max", abi.Int(math.MaxInt64), "1c 7fffffffffffffff"},
		{"int -1", abi.Int(-1), "13 fe"},
		{"int -255", abi.Int(-255), "13 00"},
		{"int -256", abi.Int(-256), "12 feff"},
		{"int -65536", abi.Int(-65536), "11 feffff"},
		{"int -2^24", abi.Int(-1 << 24), "10 feffffff"},
		{"int -2^32", abi.Int(-1 << 32), "0f feffffffff"},
		{"int -2^40", abi.Int(-1 << 40), "0e feffffffffff"},
		{"int -2^48", abi.Int(-1 << 48), "0d feffffffffffff"},
		{"int -2^56", abi.Int(-1 << 56), "0c feffffffffffffff"},
		{"int min", abi.Int(math.MinInt64), "0c 7fffffffffffffff"},
		{"int min+1", abi.Int(math.MinInt64 + 1), "0c 8000000000000000"},
		{"float +0", abi.Float(0), "21 8000000000000000"},
		{"float -0", abi.Float(math.Copysign(0, -1)), "21 7fffffffffffffff"},
		{"float 1", abi.Float(1), "21 bff0000000000000"},
		{"float -1", abi.Float(-1), "21 400fffffffffffff"},
		{"float +Inf", abi.Float(math.Inf(1)), "21 fff0000000000000"},
		{"float -Inf", abi.Float(math.Inf(-1)), "21 000fffffffffffff"},
		{"float NaN", abi.Float(math.NaN()), "21 fff8000000000000"},
		{"float smallest subnormal", abi.Float(math.SmallestNonzeroFloat64), "21 8000000000000001"},
		{"string empty", abi.String(""), "30 00"},
		{"string abc", abi.String("abc"), "30 616263 00"},
		{"string NUL", abi.String("a\x00b"), "30 61 00ff 62 00"},
		{"string é", abi.String("é"), "30 c3a9 00"},
		{"bytes empty", abi.Bytes(nil), "31 00"},
		{"bytes 00 ff", abi.Bytes([]byte{0, 0xff, 0}), "31 00ff ff 00ff 00"},
		{"list empty", abi.List(), "40 00"},
		{"list", abi.List(abi.Int(1), abi.Nil(), abi.String("")), "40 1501 01 3000 00"},
		{"list nested", abi.List(abi.List(), abi.List(abi.Bool(true))), "40 4000 40 03 00 00"},
		{"map empty", abi.Map(), "41 00"},
		// Canonical MessagePack order puts 1 (0x01) before -1 (0xff); the key
		// encoding uses Compare order: -1 first.
		{"map int keys", abi.Map(kv(abi.Int(1), abi.String("a")), kv(abi.Int(-1), abi.Nil())), "41 13fe 01 1501 306100 00"},
		{"map mixed keys", abi.Map(kv(abi.String("k"), abi.Int(0)), kv(abi.Nil(), abi.Bool(false))), "41 01 02 306b00 14 00"},
		{"set empty", abi.Set(), "42 00"},
		{"set", abi.Set(abi.Int(2), abi.Int(-2), abi.String("x")), "42 13fd 1502 307800 00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			got := mustAppend(t, tc.v)
			if !bytes.Equal(got, want) {
				t.Fatalf("Append(%v) = % x, want % x", tc.v, got, want)
			}
			v, n, err := Decode(append(got, 0xAA)) // trailing garbage is not read
			if err != nil {
				t.Fatalf("Decode(% x): %v", got, err)
			}
			if n != len(got) || !abi.Equal(v, tc.v) {
				t.Fatalf("Decode(% x) = %v, %d; want %v, %d", got, v, n, tc.v, len(got))
			}
		})
	}
}

func TestAppend_KeepsDst(t *testing.T) {
	dst := []byte("prefix")
	got, err := Append(dst, abi.Int(7))
	if err != nil || string(got) != "prefix\x15\x07" {
		t.Fatalf("Append = %q, %v", got, err)
	}
	got, err = AppendTuple([]byte("p"), abi.String("a"), abi.Int(1))
	if err != nil || string(got) != "p\x30a\x00\x15\x01" {
		t.Fatalf("AppendTuple = %q, %v", got, err)
	}
	got, err = AppendTuple(dst[:3:3], abi.Int(1), abi.String("\xff"))
	if err == nil || string(got) != "pre" {
		t.Fatalf("AppendTuple with invalid UTF-8 = %q, %v; want dst back and an error", got, err)
	}
}

func TestAppend_Errors(t *testing.T) {
	deep := abi.Int(0)
	for range MaxDepth {
		deep = abi.List(deep)
	}
	if _, err := Append(nil, deep); err != nil {
		t.Fatalf("Append(depth %d): %v", MaxDepth, err)
	}
	tests := []struct {
		name string
		v    abi.Value
		want string
	}{
		{"invalid UTF-8", abi.String("a\xffb"), `keyenc: cannot encode: string "a\xffb" is not valid UTF-8`},
		{"invalid UTF-8 in map", abi.Map(abi.MapEntry{Key: abi.Int(1), Val: abi.String("\xc3")}), `keyenc: cannot encode: string "\xc3" is not valid UTF-8`},
		{"too deep", abi.List(deep), "keyenc: cannot encode: containers nested more than " + strconv.Itoa(MaxDepth) + " deep"},
		{"too deep set", abi.Set(deep), "keyenc: cannot encode: containers nested more than " + strconv.Itoa(MaxDepth) + " deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Append([]byte("x"), tc.v)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("Append(%v) error = %v, want *EncodeError", tc.v, err)
			}
			if err.Error() != tc.want {
				t.Fatalf("Append error = %q, want %q", err, tc.want)
			}
			if string(got) != "x" {
				t.Fatalf("Append returned %q on error, want dst", got)
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	tests := []struct {
		name string
		in   string // hex
		want string
	}{
		{"list ends early", "40", "keyenc: at byte 0: unterminated list (no 0x00 terminator)"},
		{"zero tag", "00", "keyenc: at byte 0: byte 0x00 cannot start an element"},
		{"unknown tag", "ff", "keyenc: at byte 0: unknown tag 0xFF"},
		{"unknown tag 04", "04", "keyenc: at byte 0: unknown tag 0x04"},
		{"short int", "16 01", "keyenc: at byte 0: int with tag 0x16 needs 2 bytes, only 1 left"},
		{"non-minimal int", "16 0001", "keyenc: at byte 0: int is not minimally encoded (leading zero magnitude byte)"},
		{"non-minimal neg int", "12 ff00", "keyenc: at byte 0: int is not minimally encoded (leading zero magnitude byte)"},
		{"int overflow", "1c 8000000000000000", "keyenc: at byte 0: int 9223372036854775808 overflows int64"},
		{"neg int overflow", "0c 7ffffffffffffffe", "keyenc: at byte 0: negative int magnitude 9223372036854775809 overflows int64"},
		{"short float", "21 00", "keyenc: at byte 0: float needs 8 bytes, only 1 left"},
		{"non-canonical NaN", "21 fff8000000000001", "keyenc: at byte 0: float is a non-canonical NaN (bits 0x7FF8000000000001)"},
		{"negative NaN", "21 0007ffffffffffff", "keyenc: at byte 0: float is a non-canonical NaN (bits 0xFFF8000000000000)"},
		{"unterminated string", "30 6162", "keyenc: at byte 0: unterminated string (no 0x00 terminator)"},
		{"unterminated escape", "30 61 00ff", "keyenc: at byte 0: unterminated string (no 0x00 terminator)"},
		{"invalid UTF-8", "15 01 30 ff 00", "keyenc: at byte 2: string is not valid UTF-8"},
		{"unterminated bytes", "31", "keyenc: at byte 0: unterminated bytes (no 0x00 terminator)"},
		{"unterminated list", "40 14", "keyenc: at byte 0: unterminated list (no 0x00 terminator)"},
		{"bad list item", "40 14 05 00", "keyenc: at byte 2: unknown tag 0x05"},
		{"map odd", "41 14 00", "keyenc: at byte 2: map ends after a key with no value"},
		{"map keys out of order", "41 1501 01 14 01 00", "keyenc: at byte 4: map keys are not in ascending order"},
		{"map duplicate key", "41 14 01 14 02 00", "keyenc: at byte 3: map holds key twice"},
		{"set out of order", "42 1502 1501 00", "keyenc: at byte 3: set elements are not in ascending order"},
		{"set duplicate", "42 01 01 00", "keyenc: at byte 2: set holds element twice"},
		{"unterminated set", "42 01", "keyenc: at byte 0: unterminated set (no 0x00 terminator)"},
		{"too deep", strings.Repeat("40", MaxDepth+1), "keyenc: at byte " + strconv.Itoa(MaxDepth) + ": containers nested more than " + strconv.Itoa(MaxDepth) + " deep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			_, err := DecodeTuple(in)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("DecodeTuple(% x) error = %v, want *Error", in, err)
			}
			if err.Error() != tc.want {
				t.Fatalf("DecodeTuple(% x) error = %q,\nwant %q", in, err, tc.want)
			}
		})
	}
}

func TestDecode_Empty(t *testing.T) {
	_, n, err := Decode(nil)
	if want := "keyenc: at byte 0: unexpected end of input, want an element tag"; err == nil || err.Error() != want || n != 0 {
		t.Fatalf("Decode(nil) = %d, %v; want error %q", n, err, want)
	}
}

func TestDecodeTuple(t *testing.T) {
	vs := []abi.Value{abi.String("users"), abi.Int(42), abi.List(abi.Bytes([]byte{0})), abi.Nil()}
	b, err := AppendTuple(nil, vs...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeTuple(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(vs) {
		t.Fatalf("DecodeTuple = %v, want %v", got, vs)
	}
	for i := range vs {
		if !abi.Equal(got[i], vs[i]) {
			t.Fatalf("DecodeTuple[%d] = %v, want %v", i, got[i], vs[i])
		}
	}
	if got, err := DecodeTuple(nil); err != nil || len(got) != 0 {
		t.Fatalf("DecodeTuple(nil) = %v, %v", got, err)
	}
	// A metadata key: a tuple followed by 0x00 is not a tuple.
	_, err = DecodeTuple(append(b, 0x00, 's'))
	want := "keyenc: at byte " + strconv.Itoa(len(b)) + ": byte 0x00 cannot start an element"
	if err == nil || err.Error() != want {
		t.Fatalf("DecodeTuple(tuple 0x00) error = %v, want %q", err, want)
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"ff", ""},
		{"01", "02"},
		{"30 61 ff", "30 62"},
		{"30 ff ff", "31"},
	}
	for _, tc := range tests {
		in := unhex(t, tc.in)
		got := PrefixEnd(in)
		if want := unhex(t, tc.want); !bytes.Equal(got, want) || (tc.want == "") != (got == nil) {
			t.Errorf("PrefixEnd(% x) = % x, want % x", in, got, want)
		}
	}
}

func TestCheckKeyLen(t *testing.T) {
	if err := CheckKeyLen(make([]byte, MaxKeyLen)); err != nil {
		t.Fatalf("CheckKeyLen(MaxKeyLen) = %v", err)
	}
	err := CheckKeyLen(make([]byte, MaxKeyLen+1))
	if !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("CheckKeyLen(MaxKeyLen+1) = %v, want ErrKeyTooLarge", err)
	}
	if want := "keyenc: key is 16385 bytes; the limit is 16384 bytes"; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestTupleEnd(t *testing.T) {
	p := mustAppend(t, abi.String(""))
	end := TupleEnd(p)
	if want := unhex(t, "30 00 ff"); !bytes.Equal(end, want) {
		t.Fatalf("TupleEnd(% x) = % x, want % x", p, end, want)
	}
	inside := [][]byte{
		p,
		append(bytes.Clone(p), 0x00, 'm'),
		mustTuple(t, abi.String(""), abi.Int(1)),
		mustTuple(t, abi.String(""), abi.String("\x00")),
	}
	outside := [][]byte{
		mustAppend(t, abi.String("\x00")), // has p as a byte prefix
		mustTuple(t, abi.String("\x00"), abi.Nil()),
		mustAppend(t, abi.String("a")),
	}
	for _, k := range inside {
		if bytes.Compare(k, p) < 0 || bytes.Compare(k, end) >= 0 {
			t.Errorf("% x is not in [% x, % x)", k, p, end)
		}
	}
	for _, k := range outside {
		if bytes.Compare(k, end) < 0 {
			t.Errorf("% x is in [% x, % x)", k, p, end)
		}
	}
}

func mustTuple(t testing.TB, vs ...abi.Value) []byte {
	t.Helper()
	b, err := AppendTuple(nil, vs...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
