package abi

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func negZero() float64 { return math.Copysign(0, -1) }

// nest returns v wrapped in n one-item lists.
func nest(v Value, n int) Value {
	for range n {
		v = List(v)
	}
	return v
}

func TestEncode_Forms(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		hex  string
	}{
		{"nil", Nil(), "c0"},
		{"false", Bool(false), "c2"},
		{"true", Bool(true), "c3"},
		{"fixint 0", Int(0), "00"},
		{"fixint 127", Int(127), "7f"},
		{"uint8 128", Int(128), "cc 80"},
		{"uint8 255", Int(255), "cc ff"},
		{"uint16 256", Int(256), "cd 0100"},
		{"uint16 65535", Int(65535), "cd ffff"},
		{"uint32 65536", Int(65536), "ce 00010000"},
		{"uint32 max", Int(math.MaxUint32), "ce ffffffff"},
		{"uint64 2^32", Int(math.MaxUint32 + 1), "cf 0000000100000000"},
		{"uint64 max int64", Int(math.MaxInt64), "cf 7fffffffffffffff"},
		{"negfixint -1", Int(-1), "ff"},
		{"negfixint -32", Int(-32), "e0"},
		{"int8 -33", Int(-33), "d0 df"},
		{"int8 -128", Int(-128), "d0 80"},
		{"int16 -129", Int(-129), "d1 ff7f"},
		{"int16 -32768", Int(-32768), "d1 8000"},
		{"int32 -32769", Int(-32769), "d2 ffff7fff"},
		{"int32 min", Int(math.MinInt32), "d2 80000000"},
		{"int64 min int32-1", Int(math.MinInt32 - 1), "d3 ffffffff7fffffff"},
		{"int64 min", Int(math.MinInt64), "d3 8000000000000000"},
		{"float 0", Float(0), "cb 0000000000000000"},
		{"float -0", Float(negZero()), "cb 8000000000000000"},
		{"float 1.5", Float(1.5), "cb 3ff8000000000000"},
		{"float NaN", Float(math.NaN()), "cb 7ff8000000000000"},
		{"float NaN payload", Float(math.Float64frombits(0xfff0000000000001)), "cb 7ff8000000000000"},
		{"float +Inf", Float(math.Inf(1)), "cb 7ff0000000000000"},
		{"float -Inf", Float(math.Inf(-1)), "cb fff0000000000000"},
		{"fixstr empty", String(""), "a0"},
		{"fixstr", String("abc"), "a3 616263"},
		{"fixstr 31", String(strings.Repeat("x", 31)), "bf" + strings.Repeat("78", 31)},
		{"str8 32", String(strings.Repeat("x", 32)), "d9 20" + strings.Repeat("78", 32)},
		{"str8 255", String(strings.Repeat("x", 255)), "d9 ff" + strings.Repeat("78", 255)},
		{"str16 256", String(strings.Repeat("x", 256)), "da 0100" + strings.Repeat("78", 256)},
		{"str32 65536", String(strings.Repeat("x", 65536)), "db 00010000" + strings.Repeat("78", 65536)},
		{"str utf8", String("é"), "a2 c3a9"},
		{"bin8 empty", Bytes(nil), "c4 00"},
		{"bin8", Bytes([]byte{0, 0xff}), "c4 02 00ff"},
		{"bin16 256", Bytes(make([]byte, 256)), "c5 0100" + strings.Repeat("00", 256)},
		{"bin32 65536", Bytes(make([]byte, 65536)), "c6 00010000" + strings.Repeat("00", 65536)},
		{"fixarray empty", List(), "90"},
		{"fixarray", List(Int(1), Nil()), "92 01 c0"},
		{"array16", List(make([]Value, 16)...), "dc 0010" + strings.Repeat("c0", 16)},
		{"array32", List(make([]Value, 65536)...), "dd 00010000" + strings.Repeat("c0", 65536)},
		{"fixmap empty", Map(), "80"},
		{"fixmap sorted", Map(MapEntry{String("b"), Int(2)}, MapEntry{String("a"), Int(1)}), "82 a161 01 a162 02"},
		{"map last duplicate wins", Map(MapEntry{Int(1), Int(1)}, MapEntry{Int(1), Int(2)}), "81 01 02"},
		{"set empty", Set(), "d4 01 90"},
		{"set fixext2", Set(Int(1)), "d5 01 91 01"},
		{"set ext8 3", Set(Int(2), Int(1)), "c7 03 01 92 01 02"},
		{"set fixext4", Set(Int(3), Int(2), Int(1)), "d6 01 93 01 02 03"},
		{"set dedup", Set(Int(1), Int(1)), "d5 01 91 01"},
		{"set fixext16", Set(String("abcdefghijklmn")), "d8 01 91 ae 6162636465666768696a6b6c6d6e"},
		{"set ext16", Set(String(strings.Repeat("x", 300))), "c8 0130 01 91 da 012c" + strings.Repeat("78", 300)},
		{"nested set in set", Set(Set()), "d6 01 91 d4 01 90"},
		{"max depth", nest(Nil(), MaxDepth), strings.Repeat("91", MaxDepth) + "c0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := mustHex(t, tc.hex)
			got, err := Encode(tc.v)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Encode(%.80v)\n got %.200x\nwant %.200x", tc.v, got, want)
			}
			if got := appendCanonical([]byte{0xaa}, tc.v); !bytes.Equal(got[1:], want) || got[0] != 0xaa {
				t.Fatalf("appendCanonical differs from Encode")
			}
			if n := encodedLen(tc.v); n != len(want) {
				t.Fatalf("encodedLen = %d, want %d", n, len(want))
			}
			back, err := Decode(want)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !Equal(back, tc.v) {
				t.Fatalf("Decode = %.80v, want %.80v", back, tc.v)
			}
			if !IsCanonical(want) {
				t.Fatalf("IsCanonical = false")
			}
		})
	}
}

func TestAppendEncode(t *testing.T) {
	dst := []byte("prefix")
	got, err := AppendEncode(dst, List(Int(1)))
	if err != nil || string(got) != "prefix\x91\x01" {
		t.Fatalf("AppendEncode = %q, %v", got, err)
	}
	got, err = AppendEncode(dst, String("\xff"))
	if err == nil || string(got) != "prefix" {
		t.Fatalf("AppendEncode(bad) = %q, %v; want dst unchanged and an error", got, err)
	}
}

func TestEncode_Errors(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		err  string
	}{
		{"bad utf8", String("ab\xffc"), `abi: encode: $: invalid UTF-8 in string at byte 2`},
		{"lone surrogate", String("\xed\xa0\x80"), `abi: encode: $: invalid UTF-8 in string at byte 0`},
		{"list item", List(Int(1), Int(2), String("\xc3")), `abi: encode: $[2]: invalid UTF-8 in string at byte 0`},
		{"map value", List(Nil(), Nil(), Map(MapEntry{String("name"), String("bad\xff")})),
			`abi: encode: $[2]["name"]: invalid UTF-8 in string at byte 3`},
		{"map key", Map(MapEntry{String("k\xff"), Int(1)}), `abi: encode: ${"k\xff"}: invalid UTF-8 in string at byte 1`},
		{"set element", Set(Int(1), String("\x80")), `abi: encode: $#[1]: invalid UTF-8 in string at byte 0`},
		{"int map key path", Map(MapEntry{Int(7), List(String("\xff"))}), `abi: encode: $[7][0]: invalid UTF-8 in string at byte 0`},
		{"too deep", nest(Nil(), MaxDepth+1), "abi: encode: " + "$" + strings.Repeat("[0]", MaxDepth) + ": nesting deeper than 128"},
		{"too deep map", Map(MapEntry{String("a"), nest(Map(), MaxDepth)}), `abi: encode: $["a"]` + strings.Repeat("[0]", MaxDepth-1) + ": nesting deeper than 128"},
		{"too deep set", nest(Set(), MaxDepth), "abi: encode: $" + strings.Repeat("[0]", MaxDepth) + ": nesting deeper than 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.v)
			if err == nil {
				t.Fatalf("Encode = %x, want error", b)
			}
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not *EncodeError", err)
			}
			if err.Error() != tc.err {
				t.Fatalf("error\n got %s\nwant %s", err, tc.err)
			}
			// appendCanonical never fails.
			if n := len(appendCanonical(nil, tc.v)); n == 0 || n != encodedLen(tc.v) {
				t.Fatalf("appendCanonical wrote %d bytes, encodedLen %d", n, encodedLen(tc.v))
			}
		})
	}
}

func TestDecode_Errors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		err  string // exact message after "abi: decode: "
	}{
		{"empty", "", "byte offset 0: unexpected end of input"},
		{"c1", "c1", "byte offset 0: invalid byte 0xc1 (never used)"},
		{"c1 nested", "92 01 c1", "byte offset 2: invalid byte 0xc1 (never used)"},
		{"truncated uint16", "cd 01", "byte offset 0: truncated uint16 (need 2 bytes, have 1)"},
		{"truncated int64", "d3 00", "byte offset 0: truncated int64 (need 8 bytes, have 1)"},
		{"truncated float32", "ca 00 00", "byte offset 0: truncated float32 (need 4 bytes, have 2)"},
		{"truncated float64", "cb", "byte offset 0: truncated float64 (need 8 bytes, have 0)"},
		{"truncated fixstr", "a3 61", "byte offset 0: truncated fixstr (need 3 bytes, have 1)"},
		{"truncated str8 header", "d9", "byte offset 0: truncated str8 header (need 1 bytes, have 0)"},
		{"truncated str32", "dc 0011" + strings.Repeat("c0", 14) + "db 0000012c" + strings.Repeat("61", 12),
			"byte offset 17: truncated str32 (need 300 bytes, have 12)"},
		{"huge str32", "db ffffffff", "byte offset 0: truncated str32 (need 4294967295 bytes, have 0)"},
		{"huge bin32", "c6 ffffffff 00", "byte offset 0: truncated bin32 (need 4294967295 bytes, have 1)"},
		{"huge array32", "dd ffffffff", "byte offset 0: array32 of 4294967295 items exceeds remaining input (0 bytes)"},
		{"huge map32", "df ffffffff 0000", "byte offset 0: map32 of 4294967295 entries exceeds remaining input (2 bytes)"},
		{"map odd bytes", "81 01", "byte offset 0: fixmap of 1 entries exceeds remaining input (1 bytes)"},
		{"huge ext32", "c9 ffffffff 01", "byte offset 0: truncated ext32 (need 4294967296 bytes, have 1)"},
		{"missing item", "92 a1 61", "byte offset 3: unexpected end of input"},
		{"too many items", "93 01 02", "byte offset 0: fixarray of 3 items exceeds remaining input (2 bytes)"},
		{"missing item 2", "92 01 cd", "byte offset 2: truncated uint16 (need 2 bytes, have 0)"},
		{"missing value", "82 01 02 03", "byte offset 0: fixmap of 2 entries exceeds remaining input (3 bytes)"},
		{"missing value 2", "82 01 92 c0 c0 03", "byte offset 6: unexpected end of input"},
		{"bad utf8", "a3 61 ff 62", "byte offset 0: invalid UTF-8 in fixstr at byte 1"},
		{"overlong utf8", "a2 c0 80", "byte offset 0: invalid UTF-8 in fixstr at byte 0"},
		{"surrogate", "d9 03 eda080", "byte offset 0: invalid UTF-8 in str8 at byte 0"},
		{"uint64 overflow", "cf 8000000000000000", "byte offset 0: integer out of int64 range (9223372036854775808)"},
		{"uint64 max", "91 cf ffffffffffffffff", "byte offset 1: integer out of int64 range (18446744073709551615)"},
		{"duplicate key", "82 a161 01 a161 02", "byte offset 4: duplicate map key"},
		{"duplicate key noncanonical", "82 01 c0 cc01 c0", "byte offset 3: duplicate map key"},
		{"duplicate key unsorted", "83 02 c0 01 c0 02 c0", "byte offset 5: duplicate map key"},
		{"duplicate key float32", "82 ca3fc00000 c0 cb3ff8000000000000 c0", "byte offset 7: duplicate map key"},
		{"duplicate nan key", "82 cb7ff8000000000001 c0 cbfff8000000000000 c0", "byte offset 11: duplicate map key"},
		{"duplicate set element", "d6 01 93 01 02 01", "byte offset 5: duplicate set element"},
		{"duplicate set element noncanonical", "c7 04 01 92 cc05 05", "byte offset 6: duplicate set element"},
		{"ext type 2", "d4 02 00", "byte offset 0: unsupported ext type 2"},
		{"timestamp", "d6 ff 00000000", "byte offset 0: unsupported ext type -1"},
		{"set not array", "d4 01 01", "byte offset 2: set payload is not an array"},
		{"set empty payload", "c7 00 01", "byte offset 3: set payload is empty, want an array"},
		{"set trailing", "d5 01 90 00", "byte offset 3: set payload has 1 trailing bytes"},
		{"set item past payload", "d5 01 91 cd 00 01", "byte offset 3: truncated uint16 (need 2 bytes, have 0)"},
		{"set truncated array", "d5 01 92 01", "byte offset 0: fixarray of 2 items exceeds remaining input (1 bytes)"},
		{"set truncated", "d6 01 90", "byte offset 0: truncated fixext4 (need 5 bytes, have 2)"},
		{"set nested end", "d5 01 91 91 c0", "byte offset 3: fixarray of 1 items exceeds remaining input (0 bytes)"},
		{"trailing", "c0 c0", "byte offset 1: trailing bytes after value (1 bytes)"},
		{"trailing 3", "01 000000", "byte offset 1: trailing bytes after value (3 bytes)"},
		{"too deep", strings.Repeat("91", MaxDepth+1) + "c0", "byte offset 128: nesting deeper than 128"},
		{"too deep set", strings.Repeat("91", MaxDepth) + "d40190", "byte offset 128: nesting deeper than 128"},
		{"too deep map", strings.Repeat("81c0", MaxDepth) + "90", "byte offset 256: nesting deeper than 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, tc.hex)
			v, err := Decode(b)
			if err == nil {
				t.Fatalf("Decode = %.100v, want error", v)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *DecodeError", err)
			}
			if want := "abi: decode: " + tc.err; err.Error() != want {
				t.Fatalf("error\n got %s\nwant %s", err, want)
			}
			if IsCanonical(b) {
				t.Fatal("IsCanonical = true")
			}
			if _, err := Canonicalize(b); err == nil {
				t.Fatal("Canonicalize succeeded")
			}
		})
	}
}

func TestDecode_NonCanonical(t *testing.T) {
	tests := []struct {
		name      string
		in, canon string
	}{
		{"uint8 small", "cc 01", "01"},
		{"uint64 small", "cf 0000000000000001", "01"},
		{"int8 positive", "d0 05", "05"},
		{"int16 -1", "d1 ffff", "ff"},
		{"int64 zero", "d3 0000000000000000", "00"},
		{"int32 large positive", "d2 7fffffff", "ce 7fffffff"},
		{"uint16 200", "cd 00c8", "cc c8"},
		{"float32", "ca 3fc00000", "cb 3ff8000000000000"},
		{"float32 -0", "ca 80000000", "cb 8000000000000000"},
		{"float32 NaN", "ca ffc00001", "cb 7ff8000000000000"},
		{"float32 inf", "ca ff800000", "cb fff0000000000000"},
		{"float64 NaN payload", "cb 7ff0000000000001", "cb 7ff8000000000000"},
		{"float64 negative NaN", "cb fff8000000000000", "cb 7ff8000000000000"},
		{"str8 short", "d9 01 61", "a1 61"},
		{"str32 empty", "db 00000000", "a0"},
		{"bin32 empty", "c6 00000000", "c4 00"},
		{"array16 one", "dc 0001 c0", "91 c0"},
		{"array32 empty", "dd 00000000", "90"},
		{"map16 one", "de 0001 c0 c0", "81 c0 c0"},
		{"map unsorted", "82 a162 02 a161 01", "82 a161 01 a162 02"},
		{"map key reorders", "82 cc05 c2 04 c3", "82 04 c3 05 c2"},
		{"map key noncanonical sorted", "82 01 c2 cc02 c3", "82 01 c2 02 c3"},
		{"set unsorted", "c7 03 01 92 02 01", "c7 03 01 92 01 02"},
		{"set ext32 header", "c9 00000001 01 90", "d4 01 90"},
		{"set array16", "c7 04 01 dc0001 07", "d5 01 91 07"},
		{"set of maps unsorted", "c7 07 01 92 81 02 c0 81 01 c0", "c7 07 01 92 81 01 c0 81 02 c0"},
		{"nested", "91 de 0001 d9 01 61 cd 0001", "91 81 a1 61 01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, canon := mustHex(t, tc.in), mustHex(t, tc.canon)
			got, err := Canonicalize(in)
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if !bytes.Equal(got, canon) {
				t.Fatalf("Canonicalize = %x, want %x", got, canon)
			}
			if IsCanonical(in) {
				t.Fatal("IsCanonical(input) = true")
			}
			if !IsCanonical(canon) {
				t.Fatal("IsCanonical(canonical) = false")
			}
		})
	}
}

func TestDecodePrefix(t *testing.T) {
	b := mustHex(t, "92 01 a1 61 c3 ff")
	v, n, err := DecodePrefix(b)
	if err != nil || n != 4 || !Equal(v, List(Int(1), String("a"))) {
		t.Fatalf("DecodePrefix = %v, %d, %v", v, n, err)
	}
	v, n, err = DecodePrefix(b[n:])
	if err != nil || n != 1 || !Equal(v, Bool(true)) {
		t.Fatalf("DecodePrefix = %v, %d, %v", v, n, err)
	}
	if _, n, err := DecodePrefix(b[:3]); err == nil || n != 0 {
		t.Fatalf("DecodePrefix(truncated) = %d, %v", n, err)
	}
}

// TestDecode_HugeLengthsDoNotAllocate checks that declared lengths are
// checked against the input before anything is allocated.
func TestDecode_HugeLengthsDoNotAllocate(t *testing.T) {
	for _, h := range []string{"dd ffffffff", "df ffffffff", "db ffffffff", "c6 ffffffff", "c9 ffffffff 01", "dc ffff", "de ffff"} {
		b := mustHex(t, h)
		allocs := testing.AllocsPerRun(10, func() { _, _ = Decode(b) })
		if allocs > 3 { // the error and its message
			t.Errorf("Decode(%s): %v allocations", h, allocs)
		}
	}
}

func TestEncode_NoAllocations(t *testing.T) {
	v := benchRecord()
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendEncode(buf[:0], v); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendEncode into a large enough buffer: %v allocations, want 0", allocs)
	}
}

func TestEqual(t *testing.T) {
	vals := []Value{
		Nil(), Bool(false), Bool(true), Int(0), Int(1), Int(-1), Float(0), Float(negZero()), Float(1),
		Float(math.NaN()), String(""), String("a"), Bytes(nil), Bytes([]byte("a")),
		List(), List(Int(1)), List(Int(1), Int(2)), List(Float(1)),
		Map(), Map(MapEntry{Int(1), Int(2)}), Map(MapEntry{Int(1), Int(3)}), Map(MapEntry{Int(2), Int(2)}),
		Set(), Set(Int(1)), Set(Int(1), Int(2)), Set(List()),
	}
	for i, a := range vals {
		for j, b := range vals {
			if got := Equal(a, b); got != (i == j) {
				t.Errorf("Equal(%v, %v) = %v", a, b, got)
			}
		}
	}
	if !Equal(Float(math.NaN()), Float(math.Float64frombits(0xfff8000000000001))) {
		t.Error("NaNs differ")
	}
	if !Equal(Map(MapEntry{String("a"), Int(1)}, MapEntry{String("b"), Int(2)}),
		Map(MapEntry{String("b"), Int(2)}, MapEntry{String("a"), Int(1)})) {
		t.Error("map equality depends on insertion order")
	}
	if !Equal(Set(Int(1), Int(2)), Set(Int(2), Int(1), Int(2))) {
		t.Error("set equality depends on insertion order")
	}
}

// randValue returns a random value nested at most depth deep, biased
// towards encoding boundaries and awkward cases.
func randValue(r *rand.Rand, depth int) Value {
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
		return Int(randInt(r))
	case 3:
		return Float(randFloat(r))
	case 4, 5:
		return String(randString(r))
	case 6:
		b := make([]byte, randLen(r))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return Bytes(b)
	case 7:
		items := make([]Value, randSmallLen(r))
		for i := range items {
			items[i] = randValue(r, depth-1)
		}
		return List(items...)
	case 8:
		entries := make([]MapEntry, randSmallLen(r))
		for i := range entries {
			entries[i] = MapEntry{Key: randValue(r, min(depth-1, 1)), Val: randValue(r, depth-1)}
		}
		return Map(entries...)
	}
	elems := make([]Value, randSmallLen(r))
	for i := range elems {
		elems[i] = randValue(r, min(depth-1, 1))
	}
	return Set(elems...)
}

var intEdges = []int64{
	0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
	-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64,
}

func randInt(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return intEdges[r.IntN(len(intEdges))]
	case 1:
		return int64(r.IntN(200)) - 100
	case 2:
		return int64(r.Uint64()) >> r.IntN(64)
	}
	return int64(r.Uint64())
}

func randFloat(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return []float64{0, negZero(), math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, math.MaxFloat64, 1.5}[r.IntN(8)]
	case 1:
		return math.Float64frombits(r.Uint64()) // any bits, NaN payloads included
	case 2:
		return float64(r.IntN(1000))
	}
	return r.NormFloat64() * 1e6
}

var runePool = []rune{'a', 'z', 'é', '日', '本', '😀', 0, '"', '\\', '\n', 0x7f, 0xfffd, 0x10ffff}

func randString(r *rand.Rand) string {
	n := randLen(r)
	var sb strings.Builder
	for sb.Len() < n {
		if r.IntN(2) == 0 {
			sb.WriteByte(byte('a' + r.IntN(26)))
		} else {
			sb.WriteRune(runePool[r.IntN(len(runePool))])
		}
	}
	return sb.String()
}

// randLen returns a string or bytes length, often at a header boundary.
func randLen(r *rand.Rand) int {
	if r.IntN(8) == 0 {
		return []int{31, 32, 255, 256, 300}[r.IntN(5)]
	}
	return r.IntN(20)
}

func randSmallLen(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return 14 + r.IntN(4) // around the fixarray/fixmap limit
	}
	return r.IntN(5)
}

// encodeLoose appends a valid but usually non-canonical MessagePack encoding
// of v: longer headers, float32 where exact, shuffled entries and elements.
func encodeLoose(r *rand.Rand, dst []byte, v Value) []byte {
	be := binary.BigEndian
	pick := func(n int) int { return r.IntN(n) }
	switch v.kind {
	case KindInt:
		i := int64(v.n)
		opts := []func() []byte{func() []byte { return appendInt(dst, i) }}
		if i >= 0 {
			opts = append(opts, func() []byte { return be.AppendUint64(append(dst, 0xcf), uint64(i)) })
			if i <= math.MaxUint32 {
				opts = append(opts, func() []byte { return be.AppendUint32(append(dst, 0xce), uint32(i)) })
			}
			if i <= math.MaxUint16 {
				opts = append(opts, func() []byte { return be.AppendUint16(append(dst, 0xcd), uint16(i)) })
			}
		}
		opts = append(opts, func() []byte { return be.AppendUint64(append(dst, 0xd3), uint64(i)) })
		if i >= math.MinInt32 && i <= math.MaxInt32 {
			opts = append(opts, func() []byte { return be.AppendUint32(append(dst, 0xd2), uint32(i)) })
		}
		if i >= math.MinInt8 && i <= math.MaxInt8 {
			opts = append(opts, func() []byte { return append(dst, 0xd0, byte(i)) })
		}
		return opts[pick(len(opts))]()
	case KindFloat:
		f := math.Float64frombits(v.n)
		if f32 := float32(f); float64(f32) == f && pick(2) == 0 && !(f == 0 && math.Signbit(f) != math.Signbit(float64(f32))) {
			return be.AppendUint32(append(dst, 0xca), math.Float32bits(f32))
		}
		if math.IsNaN(f) && pick(2) == 0 {
			return be.AppendUint32(append(dst, 0xca), 0x7fc00000|uint32(pick(100)))
		}
		if math.IsNaN(f) && pick(2) == 0 {
			return be.AppendUint64(append(dst, 0xcb), 0xfff0000000000001|uint64(pick(1000)))
		}
	case KindString:
		switch pick(3) {
		case 0:
			return append(be.AppendUint32(append(dst, 0xdb), uint32(len(v.s))), v.s...)
		case 1:
			if len(v.s) <= math.MaxUint8 {
				return append(append(dst, 0xd9, byte(len(v.s))), v.s...)
			}
		}
	case KindBytes:
		if pick(2) == 0 {
			return append(be.AppendUint32(append(dst, 0xc6), uint32(len(v.s))), v.s...)
		}
	case KindList:
		dst = looseHeader(r, dst, len(v.c), 0x90, 0xdc)
		for _, it := range v.c {
			dst = encodeLoose(r, dst, it)
		}
		return dst
	case KindMap:
		n := len(v.c) / 2
		dst = looseHeader(r, dst, n, 0x80, 0xde)
		for _, i := range r.Perm(n) {
			dst = encodeLoose(r, dst, v.c[2*i])
			dst = encodeLoose(r, dst, v.c[2*i+1])
		}
		return dst
	case KindSet:
		var payload []byte
		payload = looseHeader(r, payload, len(v.c), 0x90, 0xdc)
		for _, i := range r.Perm(len(v.c)) {
			payload = encodeLoose(r, payload, v.c[i])
		}
		switch pick(3) {
		case 0:
			dst = append(be.AppendUint32(append(dst, 0xc9), uint32(len(payload))), SetExtType)
		case 1:
			if len(payload) <= math.MaxUint16 {
				dst = append(be.AppendUint16(append(dst, 0xc8), uint16(len(payload))), SetExtType)
				break
			}
			fallthrough
		default:
			var hdr [extHeaderMax]byte
			dst = append(dst, hdr[:extHeader(&hdr, len(payload), SetExtType)]...)
		}
		return append(dst, payload...)
	}
	return appendCanonical(dst, v)
}

// looseHeader appends an array (fix 0x90, a16 0xdc) or map (0x80, 0xde)
// header for n entries in a random valid form.
func looseHeader(r *rand.Rand, dst []byte, n int, fix, a16 byte) []byte {
	switch r.IntN(3) {
	case 0:
		if n < 16 {
			return append(dst, fix|byte(n))
		}
	case 1:
		if n <= math.MaxUint16 {
			return binary.BigEndian.AppendUint16(append(dst, a16), uint16(n))
		}
	}
	return binary.BigEndian.AppendUint32(append(dst, a16+1), uint32(n))
}

func TestRoundTrip_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randValue(r, 1+i%5)
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode(%v): %v", v, err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%v)) = %v (%x)", v, err, enc)
		}
		if !Equal(back, v) {
			t.Fatalf("Decode(Encode(v)) = %v, want %v", back, v)
		}
		if !IsCanonical(enc) {
			t.Fatalf("Encode(%v) = %x is not canonical", v, enc)
		}
		if !bytes.Equal(appendCanonical(nil, v), enc) {
			t.Fatalf("appendCanonical differs from Encode for %v", v)
		}
		if n := encodedLen(v); n != len(enc) {
			t.Fatalf("encodedLen(%v) = %d, want %d", v, n, len(enc))
		}
		_ = v.String()

		// Any valid encoding decodes to the same value.
		loose := encodeLoose(r, nil, v)
		back, err = Decode(loose)
		if err != nil {
			t.Fatalf("Decode(loose %x) of %v: %v", loose, v, err)
		}
		if !Equal(back, v) {
			t.Fatalf("Decode(loose %x) = %v, want %v", loose, back, v)
		}
		canon, err := Canonicalize(loose)
		if err != nil || !bytes.Equal(canon, enc) {
			t.Fatalf("Canonicalize(%x) = %x, %v; want %x", loose, canon, err, enc)
		}
		if IsCanonical(loose) != bytes.Equal(loose, enc) {
			t.Fatalf("IsCanonical(%x) wrong", loose)
		}
	}
}

// TestMapOrder_Random checks that map and set order does not depend on
// insertion order and that encoded keys ascend strictly.
func TestMapOrder_Random(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		entries := make([]MapEntry, r.IntN(20))
		for i := range entries {
			entries[i] = MapEntry{Key: randValue(r, 1), Val: Int(int64(i))}
		}
		m := Map(entries...)
		shuffled := append([]MapEntry(nil), entries...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		// Keep "last wins" semantics comparable: dedupe by key first.
		uniq := Map(shuffled...)
		if m.Len() != uniq.Len() {
			t.Fatalf("len %d vs %d", m.Len(), uniq.Len())
		}
		var prev []byte
		for i := range m.Len() {
			k := appendCanonical(nil, m.Entry(i).Key)
			if i > 0 && bytes.Compare(prev, k) >= 0 {
				t.Fatalf("keys not ascending: %x then %x", prev, k)
			}
			if !Equal(m.Entry(i).Key, uniq.Entry(i).Key) {
				t.Fatalf("order depends on insertion order")
			}
			prev = k
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes canonically and stably.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"values.jsonl", "invalid.jsonl", "noncanonical.jsonl"} {
		for _, b := range goldenInputs(f, name) {
			// Large seeds make the fuzzer spend its time minimising them.
			if len(b) <= 1024 {
				f.Add(b)
			}
		}
	}
	f.Add(mustHex(f, "dd ffffffff"))
	f.Add(mustHex(f, "c7 07 01 92 81 02 c0 81 01 c0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b)
		_, n, perr := DecodePrefix(b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(b) {
				t.Fatalf("bad error %#v", err)
			}
			if perr == nil && n == len(b) {
				t.Fatalf("DecodePrefix consumed everything but Decode failed: %v", err)
			}
			if IsCanonical(b) {
				t.Fatal("IsCanonical accepts undecodable input")
			}
			return
		}
		if perr != nil || n != len(b) {
			t.Fatalf("DecodePrefix = %d, %v; Decode succeeded on %d bytes", n, perr, len(b))
		}
		enc, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)): %v", b, err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(v)) %x: %v", enc, err)
		}
		if !Equal(back, v) {
			t.Fatalf("Decode(Encode(v)) = %v, want %v", back, v)
		}
		enc2, err := Encode(back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("Encode not idempotent: %x then %x (%v)", enc, enc2, err)
		}
		if IsCanonical(b) != bytes.Equal(b, enc) {
			t.Fatalf("IsCanonical(%x) = %v, Encode = %x", b, IsCanonical(b), enc)
		}
		_ = v.String()
	})
}

// benchRecord is a typical event: a user profile update.
func benchRecord() Value {
	follows := make([]Value, 20)
	for i := range follows {
		follows[i] = Int(int64(100000 + i*7919))
	}
	return Map(
		MapEntry{String("id"), Int(1234567)},
		MapEntry{String("user"), String("alice")},
		MapEntry{String("email"), String("alice@example.com")},
		MapEntry{String("display_name"), String("Alice Liddell 🐇")},
		MapEntry{String("score"), Float(3.14159)},
		MapEntry{String("created_at"), Int(1700000000123)},
		MapEntry{String("verified"), Bool(true)},
		MapEntry{String("avatar_sha256"), Bytes(bytes.Repeat([]byte{0xab}, 32))},
		MapEntry{String("tags"), Set(String("go"), String("rust"), String("wasm"))},
		MapEntry{String("follows"), List(follows...)},
		MapEntry{String("address"), Map(
			MapEntry{String("street"), String("1 Rabbit Hole")},
			MapEntry{String("city"), String("Oxford")},
			MapEntry{String("zip"), String("OX1 1AA")},
			MapEntry{String("geo"), List(Float(51.752), Float(-1.2577))},
		)},
		MapEntry{String("bio"), String(strings.Repeat("Curiouser and curiouser! ", 6))},
		MapEntry{String("parent"), Nil()},
	)
}

func BenchmarkEncode(b *testing.B) {
	v := benchRecord()
	enc, _ := Encode(v)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.Run("Encode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendEncode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			var err error
			if buf, err = AppendEncode(buf[:0], v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	enc, err := Encode(benchRecord())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
