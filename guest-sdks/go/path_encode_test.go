package squall

import (
	"bytes"
	"strings"
	"testing"
)

// TestAppendPath checks that the direct encoding of paths the runtime
// flushes is the canonical encoding of their ABI form, and fails where
// encoding the form fails.
func TestAppendPath(t *testing.T) {
	deep := Value{}
	for range MaxDepth {
		deep = List(deep)
	}
	prefix := Key("shared")
	for _, p := range []Path{
		P(),
		Key("alice"),
		Key("alice").NilToVal(0).Incr(1),
		prefix.Key("a").Set(map[string]any{"x": 1, "b": []int{1, 2}}),
		prefix.Key("b").Remove(),
		P().MustKey(-5).MapVals().All().First().Last().Nth(-2).MapKeys(),
		P().SortedRange(1, 10).View(ViewCount),
		P().SortedRangeWith("a", nil, RangeOpts{ExcludeFrom: true, IncludeTo: true, Limit: 3, Reverse: true}),
		P().Filter(Ge, 2.5).FilterExists().Append(1, "x", nil),
		P().Key(Bytes([]byte{0, 1})).Prepend(true, false).Merge(map[string]int{"k": 1}),
		P().IncrFloat(0.5),
		Key(strings.Repeat("k", 70000)).Set(deep),
	} {
		want, wantErr := AppendEncode([]byte{9}, p.value())
		got, err := appendPath([]byte{9}, p)
		if !bytes.Equal(got, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("%s: appendPath = %x, %v; want %x, %v", p, got, err, want, wantErr)
		}
	}
	for _, p := range []Path{Key(string([]byte{0xff})), P().Set(List(deep)), P().Append("ok", string([]byte{0xff})), P().Prepend(List(List(deep)))} {
		got, err := appendPath([]byte{9}, p)
		if err == nil || !bytes.Equal(got, []byte{9}) {
			t.Errorf("%s: appendPath = %x, %v; want an error and nothing appended", p, got, err)
		}
	}
}

func TestShortASCII(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for bad := -1; bad < n; bad++ {
			b := []byte(strings.Repeat("a", n))
			if bad >= 0 {
				b[bad] = 0xc3
			}
			want := bad < 0 && n <= 16
			if got := shortASCII(b); got != want {
				t.Errorf("shortASCII(%q) = %v", b, got)
			}
			if got := shortASCII(string(b)); got != want {
				t.Errorf("shortASCII(string %q) = %v", b, got)
			}
		}
	}
}
