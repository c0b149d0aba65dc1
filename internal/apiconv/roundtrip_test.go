package apiconv_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// gen draws random values, paths and schemas.
type gen struct{ r *rand.Rand }

var (
	someFloats  = []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	someInts    = []int64{0, 1, -1, 127, 128, -33, math.MaxInt64, math.MinInt64, 1 << 32}
	someStrings = []string{"", "a", "héllo", "日本", "\x00", "emoji 🌧", "a.b", "\u2028"}
)

func (g gen) value(depth int) abi.Value {
	k := g.r.IntN(9)
	if depth <= 0 && k >= 6 {
		k = g.r.IntN(6)
	}
	switch k {
	case 0:
		return abi.Nil()
	case 1:
		return abi.Bool(g.r.IntN(2) == 0)
	case 2:
		if g.r.IntN(2) == 0 {
			return abi.Int(someInts[g.r.IntN(len(someInts))])
		}
		return abi.Int(int64(g.r.Uint64()))
	case 3:
		if g.r.IntN(2) == 0 {
			return abi.Float(someFloats[g.r.IntN(len(someFloats))])
		}
		return abi.Float(math.Float64frombits(g.r.Uint64()))
	case 4:
		return abi.String(someStrings[g.r.IntN(len(someStrings))] + strconv.Itoa(g.r.IntN(3)))
	case 5:
		b := make([]byte, g.r.IntN(5))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return abi.Bytes(b)
	case 6:
		items := make([]abi.Value, g.r.IntN(4))
		for i := range items {
			items[i] = g.value(depth - 1)
		}
		return abi.List(items...)
	case 7:
		es := make([]abi.MapEntry, g.r.IntN(4))
		for i := range es {
			es[i] = abi.MapEntry{Key: g.value(depth - 1), Val: g.value(depth - 1)}
		}
		return abi.Map(es...)
	}
	elems := make([]abi.Value, g.r.IntN(4))
	for i := range elems {
		elems[i] = g.value(depth - 1)
	}
	return abi.Set(elems...)
}

func (g gen) path() abi.Path {
	p := abi.P()
	for range g.r.IntN(5) {
		switch g.r.IntN(12) {
		case 0:
			p = p.Key(g.value(1))
		case 1:
			p = p.MustKey(g.value(1))
		case 2:
			p = p.MapVals()
		case 3:
			p = p.MapKeys()
		case 4:
			p = p.All()
		case 5:
			p = p.First()
		case 6:
			p = p.Last()
		case 7:
			p = p.Nth(int64(g.r.IntN(10)) - 5)
		case 8:
			p = p.SortedRange(g.value(1), g.value(1), abi.RangeOpts{
				ExcludeFrom: g.r.IntN(2) == 0, IncludeTo: g.r.IntN(2) == 0, Limit: g.r.IntN(3) * 50, Reverse: g.r.IntN(2) == 0,
			})
		case 9:
			op := abi.FilterOp(1 + g.r.IntN(7))
			arg := g.value(1)
			if op == abi.FilterExists {
				arg = abi.Nil()
			}
			p = p.Filter(op, arg)
		case 10:
			p = p.NilToVal(g.value(2))
		default:
			p = p.View(abi.ViewFn(1 + g.r.IntN(2)))
		}
	}
	if g.r.IntN(2) == 0 {
		return p
	}
	switch g.r.IntN(7) {
	case 0:
		return p.Set(g.value(2))
	case 1:
		return p.Remove()
	case 2:
		return p.Incr(int64(g.r.Uint64()))
	case 3:
		return p.IncrFloat(someFloats[g.r.IntN(len(someFloats))])
	case 4:
		return p.Append(g.value(1), g.value(1))
	case 5:
		return p.Prepend(g.value(1))
	}
	return p.Merge(abi.Map(abi.MapEntry{Key: g.value(0), Val: g.value(1)}))
}

var leafSchemaTypes = []abi.SchemaType{abi.SchemaAny, abi.SchemaBool, abi.SchemaInt, abi.SchemaFloat, abi.SchemaString, abi.SchemaBytes}

func (g gen) schema(depth int) abi.Schema {
	k := g.r.IntN(5)
	if depth <= 0 {
		k = 0
	}
	sub := g.r.IntN(2) == 0
	child := func() *abi.Schema { c := g.schema(depth - 1); return &c }
	switch k {
	case 1:
		return abi.Schema{Type: abi.SchemaMap, Key: child(), Val: child(), Subindexed: sub}
	case 2:
		return abi.Schema{Type: abi.SchemaSet, Elem: child(), Subindexed: sub}
	case 3:
		return abi.Schema{Type: abi.SchemaList, Elem: child(), Subindexed: sub}
	case 4:
		fs := make([]abi.FieldDef, 1+g.r.IntN(3))
		for i := range fs {
			fs[i] = abi.FieldDef{Name: someStrings[g.r.IntN(len(someStrings))] + strconv.Itoa(i), Schema: g.schema(depth - 1)}
		}
		return abi.Schema{Type: abi.SchemaRecord, Fields: fs}
	}
	return abi.Schema{Type: leafSchemaTypes[g.r.IntN(len(leafSchemaTypes))]}
}

// TestValueRoundTripProperty: every value survives the API form, through
// the binary and JSON encodings, unchanged.
func TestValueRoundTripProperty(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := range 3000 {
		v := g.value(4)
		checkWireRoundTrip(t, "value "+strconv.Itoa(i)+" "+v.String(), v)
	}
}

// TestValueFromProtoCanonicalizes: converting an API value the client sent
// in any order, then back and again, gives the same value (the server's
// answer is canonical and stable).
func TestValueFromProtoCanonicalizes(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for range 2000 {
		v := g.value(4)
		pv := shuffle(g.r, apiconv.ValueToProto(v))
		got, err := apiconv.ValueFromProto("v", pv)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		mustEqual(t, "shuffled", got, v)
		if again := apiconv.ValueToProto(got); !proto.Equal(again, apiconv.ValueToProto(v)) {
			t.Fatalf("not canonical: %v vs %v", again, apiconv.ValueToProto(v))
		}
	}
}

// shuffle permutes the map entries and set elements of pv, in place.
func shuffle(r *rand.Rand, pv *squallv1.Value) *squallv1.Value {
	switch k := pv.GetKind().(type) {
	case *squallv1.Value_ListValue:
		for _, it := range k.ListValue.GetItems() {
			shuffle(r, it)
		}
	case *squallv1.Value_SetValue:
		es := k.SetValue.GetElements()
		r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		for _, e := range es {
			shuffle(r, e)
		}
	case *squallv1.Value_MapValue:
		es := k.MapValue.GetEntries()
		r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		for _, e := range es {
			shuffle(r, e.GetKey())
			shuffle(r, e.GetValue())
		}
	}
	return pv
}

// TestPathRoundTripProperty: every valid path survives the API form.
func TestPathRoundTripProperty(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for range 3000 {
		p := g.path()
		pp, err := apiconv.PathToProto(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		bin, err := proto.Marshal(pp)
		if err != nil {
			t.Fatal(err)
		}
		var back squallv1.Path
		if err := proto.Unmarshal(bin, &back); err != nil {
			t.Fatal(err)
		}
		got, err := apiconv.PathFromProto("path", &back, 0)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !abi.Equal(got.Value(), p.Value()) {
			t.Fatalf("round trip of %s gives %s", p, got)
		}
		// The same path checks the same way in both forms.
		for _, mode := range []abi.Mode{abi.ModeSelect, abi.ModeTransform} {
			_, err := apiconv.PathFromProto("path", pp, mode)
			if (err == nil) != (p.Validate(mode) == nil) {
				t.Fatalf("%s in mode %d: API says %v, abi says %v", p, mode, err, p.Validate(mode))
			}
		}
	}
}

// TestSchemaRoundTripProperty: every well-formed schema survives the API
// form.
func TestSchemaRoundTripProperty(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(7, 8))}
	for range 2000 {
		s := g.schema(4)
		if s.Subindexed && (s.Type.IsLeaf() || s.Type == abi.SchemaRecord) {
			continue
		}
		ps, err := apiconv.SchemaToProto(s)
		if err != nil {
			t.Fatalf("%v: %v", s.Value(), err)
		}
		got, err := apiconv.SchemaFromProto("schema", ps)
		if err != nil {
			t.Fatalf("%v: %v", s.Value(), err)
		}
		if !abi.Equal(got.Value(), s.Value()) {
			t.Fatalf("round trip of %v gives %v", s.Value(), got.Value())
		}
	}
}
