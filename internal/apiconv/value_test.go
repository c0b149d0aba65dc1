package apiconv_test

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// Builders for API values, to keep the tables readable.
func pNull() *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}
func pBool(b bool) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_BoolValue{BoolValue: b}}
}
func pInt(i int64) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_IntValue{IntValue: i}}
}
func pFloat(f float64) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_FloatValue{FloatValue: f}}
}
func pStr(s string) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_StringValue{StringValue: s}}
}
func pBytes(b []byte) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_BytesValue{BytesValue: b}}
}
func pList(items ...*squallv1.Value) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_ListValue{ListValue: &squallv1.ListValue{Items: items}}}
}
func pSet(elems ...*squallv1.Value) *squallv1.Value {
	return &squallv1.Value{Kind: &squallv1.Value_SetValue{SetValue: &squallv1.SetValue{Elements: elems}}}
}

// pMap takes alternating keys and values.
func pMap(kv ...*squallv1.Value) *squallv1.Value {
	m := &squallv1.MapValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Entries = append(m.Entries, &squallv1.MapEntry{Key: kv[i], Value: kv[i+1]})
	}
	return &squallv1.Value{Kind: &squallv1.Value_MapValue{MapValue: m}}
}

func mustEqual(t *testing.T, what string, got, want abi.Value) {
	t.Helper()
	if !abi.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestValueFromProto(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *squallv1.Value
		want abi.Value
	}{
		{"null", pNull(), abi.Nil()},
		{"bool", pBool(true), abi.Bool(true)},
		{"int min", pInt(math.MinInt64), abi.Int(math.MinInt64)},
		{"float", pFloat(1.5), abi.Float(1.5)},
		{"negative zero stays", pFloat(math.Copysign(0, -1)), abi.Float(math.Copysign(0, -1))},
		{"NaN is canonical", pFloat(math.Float64frombits(0x7ff0000000000001)), abi.Float(math.NaN())},
		{"string", pStr("héllo"), abi.String("héllo")},
		{"bytes differ from strings", pBytes([]byte("hi")), abi.Bytes([]byte("hi"))},
		{"empty bytes", pBytes(nil), abi.Bytes(nil)},
		{"list", pList(pInt(1), pStr("a"), pNull()), abi.List(abi.Int(1), abi.String("a"), abi.Nil())},
		{"empty list", pList(), abi.List()},
		{"list without ListValue", &squallv1.Value{Kind: &squallv1.Value_ListValue{}}, abi.List()},
		{
			"map with keys of any kind, in any order",
			pMap(pStr("b"), pInt(2), pList(pInt(1)), pBool(true), pInt(7), pNull()),
			abi.Map(
				abi.MapEntry{Key: abi.Int(7), Val: abi.Nil()},
				abi.MapEntry{Key: abi.String("b"), Val: abi.Int(2)},
				abi.MapEntry{Key: abi.List(abi.Int(1)), Val: abi.Bool(true)},
			),
		},
		{"set", pSet(pInt(3), pInt(1), pStr("x")), abi.Set(abi.Int(1), abi.Int(3), abi.String("x"))},
		{"int and float keys differ", pSet(pInt(1), pFloat(1)), abi.Set(abi.Int(1), abi.Float(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apiconv.ValueFromProto("record", tc.in)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "ValueFromProto", got, tc.want)
			back := apiconv.ValueToProto(got)
			again, err := apiconv.ValueFromProto("record", back)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "round trip", again, tc.want)
		})
	}
}

// nested returns n lists nested in each other around an int.
func nested(n int) *squallv1.Value {
	v := pInt(1)
	for range n {
		v = pList(v)
	}
	return v
}

func TestValueFromProto_Errors(t *testing.T) {
	deep := nested(abi.MaxDepth + 1)
	for _, tc := range []struct {
		name string
		in   *squallv1.Value
		want string
	}{
		{"nil", nil, "record: missing; set a value (null_value for nil)"},
		{"no kind", &squallv1.Value{}, "record: no kind set; set one of null_value, bool_value, int_value, float_value, string_value, bytes_value, list_value, map_value or set_value (null_value for nil)"},
		{"no kind in a list", pList(pInt(1), &squallv1.Value{}), "record.list_value.items[1]: no kind set; set one of"},
		{"nil item", pList(nil), "record.list_value.items[0]: missing; set a value (null_value for nil)"},
		{"bad UTF-8 deep inside", pMap(pStr("k"), pList(pStr("ok"), pStr("\xff"))), `record.map_value.entries[0].value.list_value.items[1].string_value: not valid UTF-8; send binary data as bytes_value`},
		{"map key missing", &squallv1.Value{Kind: &squallv1.Value_MapValue{MapValue: &squallv1.MapValue{Entries: []*squallv1.MapEntry{{Value: pInt(1)}}}}}, "record.map_value.entries[0].key: missing"},
		{"map entry missing", &squallv1.Value{Kind: &squallv1.Value_MapValue{MapValue: &squallv1.MapValue{Entries: []*squallv1.MapEntry{nil}}}}, "record.map_value.entries[0]: missing entry"},
		{"duplicate map key", pMap(pStr("a"), pInt(1), pStr("b"), pInt(2), pStr("a"), pInt(3)), `record.map_value.entries[2].key: duplicate key "a" (also entries[0]); a map holds each key once`},
		{"duplicate set element", pSet(pInt(1), pList(), pInt(1)), "record.set_value.elements[2]: duplicate element 1 (also elements[0]); a set holds each element once"},
		{"NaNs are one element", pSet(pFloat(math.NaN()), pFloat(-math.NaN())), "record.set_value.elements[1]: duplicate element NaN (also elements[0])"},
		{"too deep", deep, "record" + strings.Repeat(".list_value.items[0]", abi.MaxDepth) + ".list_value: nests more than 128 lists, maps and sets deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiconv.ValueFromProto("record", tc.in)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if _, ok := err.(*apiconv.FieldError); !ok {
				t.Errorf("error is a %T, want *apiconv.FieldError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n %s\nwant prefix\n %s", err, tc.want)
			}
		})
	}
	if _, err := apiconv.ValueFromProto("record", nested(abi.MaxDepth)); err != nil {
		t.Errorf("%d nested lists: %v", abi.MaxDepth, err)
	}
	if _, err := apiconv.ValueFromProto("", &squallv1.Value{}); err == nil || !strings.HasPrefix(err.Error(), "no kind set") {
		t.Errorf("with no field name: %v", err)
	}
}

func TestValuesFromProto(t *testing.T) {
	got, err := apiconv.ValuesFromProto("records", []*squallv1.Value{pInt(1), pStr("a")})
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "ValuesFromProto", abi.List(got...), abi.List(abi.Int(1), abi.String("a")))
	_, err = apiconv.ValuesFromProto("records", []*squallv1.Value{pInt(1), pInt(2), pList(pInt(1), &squallv1.Value{})})
	if want := "records[2].list_value.items[1]: no kind set"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want prefix %q", err, want)
	}
}

func TestValueMapFromProto(t *testing.T) {
	in := map[string]*squallv1.Value{"counts": pInt(3), "words": pList(pStr("a"))}
	got, err := apiconv.ValueMapFromProto("ack_returns", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !abi.Equal(got["counts"], abi.Int(3)) {
		t.Errorf("got %v", got)
	}
	back := apiconv.ValueMapToProto(got)
	if !proto.Equal(back["words"], in["words"]) || len(back) != 2 {
		t.Errorf("ValueMapToProto = %v", back)
	}
	in["b"] = pList(&squallv1.Value{})
	in["a"] = pList(nil)
	_, err = apiconv.ValueMapFromProto("ack_returns", in)
	if want := `ack_returns["a"].list_value.items[0]: missing`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want prefix %q (the first bad key in order)", err, want)
	}
	if m, err := apiconv.ValueMapFromProto("x", nil); m != nil || err != nil {
		t.Errorf("nil map: %v, %v", m, err)
	}
	if apiconv.ValueMapToProto(nil) != nil {
		t.Error("ValueMapToProto(nil) is not nil")
	}
}

func TestValueToProtoIsCanonical(t *testing.T) {
	v := abi.Map(
		abi.MapEntry{Key: abi.String("b"), Val: abi.Set(abi.Int(2), abi.Int(1))},
		abi.MapEntry{Key: abi.Int(1), Val: abi.Nil()},
	)
	got := apiconv.ValueToProto(v)
	want := pMap(pInt(1), pNull(), pStr("b"), pSet(pInt(1), pInt(2)))
	if !proto.Equal(got, want) {
		t.Errorf("ValueToProto = %v\nwant %v", got, want)
	}
}

// TestGoldenValues sends every ABI golden value through the API forms
// (binary protobuf and protobuf JSON) and checks its canonical encoding is
// unchanged.
func TestGoldenValues(t *testing.T) {
	data, err := os.ReadFile("../../abi/testdata/values.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var vec struct {
			Name string `json:"name"`
			Hex  string `json:"hex"`
		}
		if err := json.Unmarshal([]byte(line), &vec); err != nil {
			t.Fatal(err)
		}
		enc, err := hex.DecodeString(vec.Hex)
		if err != nil {
			t.Fatal(err)
		}
		v, err := abi.Decode(enc)
		if err != nil {
			t.Fatalf("%s: %v", vec.Name, err)
		}
		checkWireRoundTrip(t, vec.Name, v)
		n++
	}
	if n < 50 {
		t.Fatalf("only %d golden values", n)
	}
}

// checkWireRoundTrip converts v to the API form, through binary protobuf
// and protobuf JSON, and back, and checks nothing changed.
func checkWireRoundTrip(t *testing.T, name string, v abi.Value) {
	t.Helper()
	want, err := abi.Encode(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	pv := apiconv.ValueToProto(v)
	bin, err := proto.Marshal(pv)
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	js, err := protojson.Marshal(pv)
	if err != nil {
		t.Fatalf("%s: JSON marshal: %v", name, err)
	}
	for form, unmarshal := range map[string]func(*squallv1.Value) error{
		"binary": func(m *squallv1.Value) error { return proto.Unmarshal(bin, m) },
		"JSON":   func(m *squallv1.Value) error { return protojson.Unmarshal(js, m) },
	} {
		var back squallv1.Value
		if err := unmarshal(&back); err != nil {
			t.Fatalf("%s: %s unmarshal: %v", name, form, err)
		}
		got, err := apiconv.ValueFromProto("value", &back)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, form, err)
		}
		enc, err := abi.Encode(got)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, form, err)
		}
		if string(enc) != string(want) {
			t.Errorf("%s: %s round trip gives %x, want %x", name, form, enc, want)
		}
	}
}
