package squall_test

import (
	"fmt"
	"strings"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/squalltest"
)

// A whole module, run in the test harness: sentences are split into words
// on their own partition, and each word is counted on the partition that
// owns it.
func Example() {
	define := func(m *squall.ModuleBuilder) {
		sentences := m.Depot("sentences", squall.HashBy(squall.Key("user")))
		counts := m.PState("$$counts", squall.MapOf(squall.StringT, squall.IntT))

		t := m.Stream("wordcount")
		count := t.Stage("count", func(ctx *squall.Ctx, word squall.Value) error {
			return ctx.Transform(counts, squall.Key(word).Incr(1))
		})
		split := t.Stage("split", func(ctx *squall.Ctx, rec squall.Value) error {
			text, _ := rec.Field("text").AsString()
			words := strings.Fields(text)
			for _, w := range words {
				if err := ctx.Hop(count, w, w); err != nil {
					return err
				}
			}
			return ctx.Emit(len(words)) // the ack return
		})
		t.Source(sentences, split)
	}

	h := squalltest.New(nil, 4, squalltest.Module(define))
	a := h.Append("sentences", map[string]any{"user": "ann", "text": "to be or not to be"})
	n, _ := a.AckReturn("wordcount")
	be := h.SelectOne("$$counts", squall.Key("be"))
	fmt.Println(n, be)
	// Output: 6 2
}

func ExampleValueOf() {
	v, err := squall.ValueOf(map[string]any{
		"name": "ann",
		"tags": []string{"a", "b"},
		"age":  42,
		"raw":  []byte{0xff},
	})
	fmt.Println(v, err)
	// Maps keep their keys in canonical order (by encoded bytes: shorter
	// strings first).
	// Output: {"age": 42, "raw": 0x"ff", "name": "ann", "tags": ["a", "b"]} <nil>
}

type Follow struct{ From, To string }

func (f Follow) MarshalSquall() (squall.Value, error) {
	return squall.ValueOf(map[string]any{"from": f.From, "to": f.To})
}

func (f *Follow) UnmarshalSquall(v squall.Value) error {
	return squall.Unpack(v, map[string]any{"from": &f.From, "to": &f.To})
}

// Structs convert through Marshaler and Unmarshaler.
func ExampleUnpack() {
	v := squall.MustValueOf(Follow{From: "ann", To: "bob"})
	f, err := squall.As[Follow](v)
	fmt.Println(v, f.To, err)
	// Output: {"to": "bob", "from": "ann"} bob <nil>
}

func ExampleAs() {
	v := squall.List(squall.Int(1), squall.Int(2))
	xs, err := squall.As[[]int](v)
	fmt.Println(xs, err)
	n, err := squall.As[int64](squall.Nil()) // nil is absent: the zero value
	fmt.Println(n, err)
	_, err = squall.As[string](squall.Int(1))
	fmt.Println(err)
	// Output: [1 2] <nil>
	// 0 <nil>
	// squall: cannot store int 1 in a string
}

func ExampleP() {
	recent := squall.Key("ann").Key("visits").SortedRangeWith(nil, 100, squall.RangeOpts{Limit: 10, Reverse: true}).MapVals()
	fmt.Println(recent)
	count := squall.Key("ann").Key("visits").View(squall.ViewCount)
	fmt.Println(count)
	incr := squall.Key("ann").Key("age").NilToVal(0).Incr(1)
	fmt.Println(incr, incr.Validate(squall.TransformMode))
	// Output: key("ann").key("visits").sortedRange(open, 100, limit=10, reverse).mapVals()
	// key("ann").key("visits").view(count)
	// key("ann").key("age").nilToVal(0).incr(1) <nil>
}

func ExamplePoison() {
	err := squall.Poison(fmt.Errorf("no user in %s", "{}"))
	fmt.Println(err, squall.IsPoison(err), squall.IsPoison(fmt.Errorf("timeout")))
	// Output: no user in {} true false
}

func ExampleEncode() {
	b, _ := squall.Encode(squall.Set(squall.Int(2), squall.Int(1)))
	fmt.Printf("%x\n", b)
	v, _ := squall.Decode([]byte{0x82, 0xa1, 0x62, 0x02, 0xa1, 0x61, 0x01}) // {"b": 2, "a": 1}, unsorted
	fmt.Println(v)
	// Output: c70301920102
	// {"a": 1, "b": 2}
}
