package apiconv

import (
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

const valueKinds = "null_value, bool_value, int_value, float_value, string_value, bytes_value, list_value, map_value or set_value"

// ValueFromProto converts an API value. field names v in its request
// ("record"); errors are [*FieldError]s located below it. It refuses a nil
// or kind-less value (nil is null_value), a string that is not UTF-8,
// nesting deeper than [abi.MaxDepth] containers, and a map or set holding
// two equal keys (elements) — the API never drops data silently.
func ValueFromProto(field string, v *squallv1.Value) (abi.Value, error) {
	out, err := valueFrom(v, 0)
	if err != nil {
		return abi.Value{}, err.field(field)
	}
	return out, nil
}

// ValuesFromProto converts a repeated value field; the error names the
// item: "records[3].list_value.items[0]".
func ValuesFromProto(field string, vs []*squallv1.Value) ([]abi.Value, error) {
	out := make([]abi.Value, len(vs))
	for i, v := range vs {
		x, err := valueFrom(v, 0)
		if err != nil {
			return nil, err.in("[" + strconv.Itoa(i) + "]").field(field)
		}
		out[i] = x
	}
	return out, nil
}

// valueFrom converts v, which sits inside depth containers.
func valueFrom(v *squallv1.Value, depth int) (abi.Value, *convError) {
	if v == nil {
		return abi.Value{}, fail("missing; set a value (null_value for nil)")
	}
	switch k := v.GetKind().(type) {
	case *squallv1.Value_NullValue:
		return abi.Nil(), nil
	case *squallv1.Value_BoolValue:
		return abi.Bool(k.BoolValue), nil
	case *squallv1.Value_IntValue:
		return abi.Int(k.IntValue), nil
	case *squallv1.Value_FloatValue:
		return abi.Float(k.FloatValue), nil
	case *squallv1.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return abi.Value{}, fail("not valid UTF-8; send binary data as bytes_value").in(".string_value")
		}
		return abi.String(k.StringValue), nil
	case *squallv1.Value_BytesValue:
		return abi.Bytes(k.BytesValue), nil
	case *squallv1.Value_ListValue:
		if depth >= abi.MaxDepth {
			return abi.Value{}, tooDeep().in(".list_value")
		}
		items := k.ListValue.GetItems()
		out := make([]abi.Value, len(items))
		for i, it := range items {
			x, err := valueFrom(it, depth+1)
			if err != nil {
				return abi.Value{}, err.in(index("items", i)).in(".list_value")
			}
			out[i] = x
		}
		return abi.List(out...), nil
	case *squallv1.Value_MapValue:
		if depth >= abi.MaxDepth {
			return abi.Value{}, tooDeep().in(".map_value")
		}
		entries := k.MapValue.GetEntries()
		out := make([]abi.MapEntry, len(entries))
		for i, e := range entries {
			if e == nil {
				return abi.Value{}, fail("missing entry").in(index("entries", i)).in(".map_value")
			}
			key, err := valueFrom(e.GetKey(), depth+1)
			if err != nil {
				return abi.Value{}, err.in(".key").in(index("entries", i)).in(".map_value")
			}
			val, err := valueFrom(e.GetValue(), depth+1)
			if err != nil {
				return abi.Value{}, err.in(".value").in(index("entries", i)).in(".map_value")
			}
			out[i] = abi.MapEntry{Key: key, Val: val}
		}
		m := abi.Map(out...)
		if m.Len() != len(out) {
			keys := make([]abi.Value, len(out))
			for i, e := range out {
				keys[i] = e.Key
			}
			i, j := firstDuplicate(keys)
			return abi.Value{}, fail("duplicate key " + short(keys[i]) + " (also entries[" + strconv.Itoa(j) + "]); a map holds each key once").
				in(".key").in(index("entries", i)).in(".map_value")
		}
		return m, nil
	case *squallv1.Value_SetValue:
		if depth >= abi.MaxDepth {
			return abi.Value{}, tooDeep().in(".set_value")
		}
		elems := k.SetValue.GetElements()
		out := make([]abi.Value, len(elems))
		for i, e := range elems {
			x, err := valueFrom(e, depth+1)
			if err != nil {
				return abi.Value{}, err.in(index("elements", i)).in(".set_value")
			}
			out[i] = x
		}
		s := abi.Set(out...)
		if s.Len() != len(out) {
			i, j := firstDuplicate(out)
			return abi.Value{}, fail("duplicate element " + short(out[i]) + " (also elements[" + strconv.Itoa(j) + "]); a set holds each element once").
				in(index("elements", i)).in(".set_value")
		}
		return s, nil
	}
	return abi.Value{}, fail("no kind set; set one of " + valueKinds + " (null_value for nil)")
}

func tooDeep() *convError {
	return fail("nests more than " + strconv.Itoa(abi.MaxDepth) + " lists, maps and sets deep")
}

// firstDuplicate returns the indexes i > j of the first value equal to an
// earlier one (two values are equal exactly when their canonical encodings
// are). It is called only when there is one.
func firstDuplicate(vs []abi.Value) (i, j int) {
	seen := make(map[string]int, len(vs))
	for i, v := range vs {
		enc, err := abi.Encode(v)
		if err != nil {
			continue // not reached: converted values encode
		}
		if j, dup := seen[string(enc)]; dup {
			return i, j
		}
		seen[string(enc)] = i
	}
	return 0, 0
}

// short renders v for messages, cut to a readable length.
func short(v abi.Value) string {
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// ValueToProto converts a value to its API form, with map entries and set
// elements in canonical order.
func ValueToProto(v abi.Value) *squallv1.Value {
	switch v.Kind() {
	case abi.KindBool:
		b, _ := v.AsBool()
		return &squallv1.Value{Kind: &squallv1.Value_BoolValue{BoolValue: b}}
	case abi.KindInt:
		i, _ := v.AsInt()
		return &squallv1.Value{Kind: &squallv1.Value_IntValue{IntValue: i}}
	case abi.KindFloat:
		f, _ := v.AsFloat()
		return &squallv1.Value{Kind: &squallv1.Value_FloatValue{FloatValue: f}}
	case abi.KindString:
		s, _ := v.AsString()
		return &squallv1.Value{Kind: &squallv1.Value_StringValue{StringValue: s}}
	case abi.KindBytes:
		b, _ := v.AsBytes()
		return &squallv1.Value{Kind: &squallv1.Value_BytesValue{BytesValue: b}}
	case abi.KindList:
		return &squallv1.Value{Kind: &squallv1.Value_ListValue{ListValue: &squallv1.ListValue{Items: ValuesToProto(v.Items())}}}
	case abi.KindSet:
		return &squallv1.Value{Kind: &squallv1.Value_SetValue{SetValue: &squallv1.SetValue{Elements: ValuesToProto(v.Items())}}}
	case abi.KindMap:
		entries := make([]*squallv1.MapEntry, v.Len())
		for i := range entries {
			e := v.Entry(i)
			entries[i] = &squallv1.MapEntry{Key: ValueToProto(e.Key), Value: ValueToProto(e.Val)}
		}
		return &squallv1.Value{Kind: &squallv1.Value_MapValue{MapValue: &squallv1.MapValue{Entries: entries}}}
	}
	return &squallv1.Value{Kind: &squallv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
}

// ValuesToProto converts values to their API form.
func ValuesToProto(vs []abi.Value) []*squallv1.Value {
	out := make([]*squallv1.Value, len(vs))
	for i, v := range vs {
		out[i] = ValueToProto(v)
	}
	return out
}

// ValueMapToProto converts values by name, such as the ack returns of an
// append by topology. A nil map stays nil.
func ValueMapToProto(m map[string]abi.Value) map[string]*squallv1.Value {
	if m == nil {
		return nil
	}
	out := make(map[string]*squallv1.Value, len(m))
	for k, v := range m {
		out[k] = ValueToProto(v)
	}
	return out
}

// ValueMapFromProto converts values by name; the error names the entry:
// `ack_returns["counts"].list_value.items[0]`.
func ValueMapFromProto(field string, m map[string]*squallv1.Value) (map[string]abi.Value, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]abi.Value, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) { // report the first bad entry deterministically
		x, err := valueFrom(m[k], 0)
		if err != nil {
			return nil, err.in("[" + strconv.Quote(k) + "]").field(field)
		}
		out[k] = x
	}
	return out, nil
}
