package pathtext

import (
	"testing"

	"github.com/squall-run/squall/abi"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want abi.Path
	}{
		{``, nil},
		{`key("the")`, abi.P().Key(abi.String("the"))},
		{` key( "u" ) . mapVals() `, abi.P().Key(abi.String("u")).MapVals()},
		{`key("u").sortedRange(2, open, limit=10)`, abi.P().Key(abi.String("u")).SortedRange(abi.Int(2), abi.Nil(), abi.RangeOpts{Limit: 10})},
		{`sortedRange(open, "m", excludeFrom, includeTo, reverse)`, abi.P().SortedRange(abi.Nil(), abi.String("m"), abi.RangeOpts{ExcludeFrom: true, IncludeTo: true, Reverse: true})},
		{`all()`, abi.P().All()},
		{`view(size)`, abi.P().View(abi.ViewSize)},
		{`mapKeys().first().last().nth(-1)`, abi.P().MapKeys().First().Last().Nth(-1)},
		{`filter(gt, 3)`, abi.P().Filter(abi.FilterGt, abi.Int(3))},
		{`filter(exists)`, abi.P().Filter(abi.FilterExists, abi.Nil())},
		{`mustKey(0x"cafe").nilToVal(1.5)`, abi.P().MustKey(abi.Bytes([]byte{0xca, 0xfe})).NilToVal(abi.Float(1.5))},
		{`key({"a": [1, #{true, nil}]})`, abi.P().Key(abi.Map(abi.MapEntry{Key: abi.String("a"), Val: abi.List(abi.Int(1), abi.Set(abi.Bool(true), abi.Nil()))}))},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want.String() {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`key("the"`, `path: column 10: expected ')', found the end`},
		{`key("the"]`, `path: column 10: expected ')', found ']'`},
		{`key(the)`, `path: column 5: expected a value, found "the" (strings are quoted: "the")`},
		{`kee("a")`, `path: column 1: unknown navigator "kee"; navigators: ` + navigators},
		{`all() all()`, `path: column 7: expected '.', found 'a'`},
		{`view(len)`, `path: column 6: unknown view "len"; views: size, count`},
		{`key("a).all()`, `path: column 5: the string is not terminated`},
		{`sortedRange(1, 2, limit=x)`, `path: column 25: expected a value, found "x" (strings are quoted: "x")`},
		{`sortedRange(1, 2, top)`, `path: column 19: unknown sortedRange option "top"; options: excludeFrom, includeTo, limit=N, reverse`},
		{`nth("a")`, `path: column 5: nth takes an integer index`},
		{`.all()`, `path: column 1: expected a navigator (` + navigators + `)`},
		{`key(0x"abc")`, `path: column 5: bytes must be an even number of hex digits, as in 0x"cafe"`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) error:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]string{
		`{"user": "ada", "text": "hi"}`: `{"text": "hi", "user": "ada"}`,
		`-7`:                            `-7`,
		`[1, 2.5, "x", nil, false]`:     `[1, 2.5, "x", nil, false]`,
	} {
		v, err := ParseValue(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseValue(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	if _, err := ParseValue(`1 2`); err == nil || err.Error() != "value: column 3: unexpected text after the value" {
		t.Errorf("trailing text: %v", err)
	}
}

// FuzzParse checks that Parse never panics and that what it reads prints
// back to text it reads the same way.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`key("the")`, `key("u").sortedRange(2, open, limit=10)`, `all().filter(gt, 3)`, `view(size)`, `key({"a": #{0x"00"}})`, `nth(-1)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		text := p.String()
		q, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", s, text, err)
		}
		if q.String() != text {
			t.Fatalf("round trip of %q: %s then %s", s, text, q)
		}
	})
}
