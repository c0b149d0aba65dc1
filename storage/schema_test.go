package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

func TestSchemaValidate(t *testing.T) {
	str, i := Leaf(TypeString), Leaf(TypeInt)
	tests := []struct {
		name string
		s    Schema
		want []string // one per problem, each "location: message prefix"; nil = valid
	}{
		{"leaf", i, nil},
		{"any leaf", Leaf(TypeAny), nil},
		{"map", MapOf(str, i), nil},
		{"record", RecordOf(Field{"a", i}), nil},
		{"subindexed under top map", MapOf(str, SetOf(i).Subindexed()), nil},
		{"subindexed in record under map", MapOf(str, RecordOf(Field{"f", MapOf(str, ListOf(i).Subindexed()).Subindexed()})), nil},
		{"subindexed in subindexed", MapOf(str, MapOf(str, SetOf(str).Subindexed()).Subindexed()), nil},
		{"subindexed list of subindexed", RecordOf(Field{"l", ListOf(MapOf(i, i).Subindexed()).Subindexed()}), nil},
		{"inline nesting", MapOf(str, MapOf(str, ListOf(RecordOf(Field{"x", SetOf(i)})))), nil},
		{"missing", Schema{}, []string{"$: the schema is missing"}},
		{"top set", SetOf(i), []string{"$: the top level must be a map, a record or a leaf, not a set; put the set under a key: MapOf(key, set(int))"}},
		{"top list", ListOf(i).Subindexed(), []string{"$: the top level must be a map, a record or a leaf, not a list"}},
		{"top map subindexed", MapOf(str, i).Subindexed(), []string{"$: the top-level map is always stored one key per entry; remove .Subindexed()"}},
		{"map key not leaf", MapOf(ListOf(i), i), []string{"$.mapKeys: map keys must be a leaf type"}},
		{"float key", MapOf(Leaf(TypeFloat), i), []string{"$.mapKeys: float keys are not allowed"}},
		{"set of maps", MapOf(str, SetOf(MapOf(i, i))), []string{"$.mapVals.all: set elements must be a leaf type (any, bool, int, string, bytes), not a map; use a map to a map instead"}},
		{"float set", MapOf(str, SetOf(Leaf(TypeFloat))), []string{"$.mapVals.all: float set elements are not allowed"}},
		{"subindexed leaf", MapOf(str, i.Subindexed()), []string{"$.mapVals: only maps, sets and lists can be subindexed, not a int"}},
		{"subindexed in inline map", MapOf(str, MapOf(str, SetOf(i).Subindexed())),
			[]string{`$.mapVals.mapVals: a subindexed set cannot be inside the inline (not subindexed) map at $.mapVals; mark that one .Subindexed() too`}},
		{"subindexed in inline list", MapOf(str, ListOf(SetOf(i).Subindexed())),
			[]string{`$.mapVals.all: a subindexed set cannot be inside the inline (not subindexed) list at $.mapVals`}},
		{"subindexed in record in inline map", MapOf(str, MapOf(str, RecordOf(Field{"s", SetOf(i).Subindexed()}))),
			[]string{`$.mapVals.mapVals["s"]: a subindexed set cannot be inside the inline (not subindexed) record at $.mapVals.mapVals`}},
		{"record problems", RecordOf(Field{"", i}, Field{"a", i}, Field{"a", str}, Field{"b", Schema{}}),
			[]string{`$[""]: a record field needs a name`, `$["a"]: field "a" is declared twice`, `$["b"]: the schema is missing`}},
		{"empty record", MapOf(str, RecordOf()), []string{"$.mapVals: a record needs at least one field"}},
		{"bad leaf", MapOf(str, Leaf(TypeMap)), []string{"$.mapVals: Leaf(map): map is not a leaf type; use MapOf"}},
		{"unknown leaf", Leaf(Type(99)), []string{"$: unknown type 99"}},
		{"many at once", MapOf(MapOf(str, i), MapOf(Leaf(TypeFloat), SetOf(ListOf(i)).Subindexed())),
			[]string{"$.mapKeys: map keys must be a leaf type", "$.mapVals.mapKeys: float keys", "$.mapVals.mapVals: a subindexed set cannot be inside the inline", "$.mapVals.mapVals.all: set elements must be a leaf type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("%s: unexpected error %v", tc.s, err)
				}
				return
			}
			var errs SchemaErrors
			if !errors.As(err, &errs) {
				t.Fatalf("%s: got %v (%T), want SchemaErrors", tc.s, err, err)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("%s: got %d problems, want %d:\n%v", tc.s, len(errs), len(tc.want), err)
			}
			for j, w := range tc.want {
				got := errs[j].Location + ": " + errs[j].Msg
				if !strings.HasPrefix(got, w) {
					t.Errorf("problem %d = %q, want prefix %q", j, got, w)
				}
			}
		})
	}
}

func TestSchemaStringAndValue(t *testing.T) {
	s := MapOf(Leaf(TypeString), RecordOf(
		Field{"name", Leaf(TypeString)},
		Field{"follows", SetOf(Leaf(TypeString)).Subindexed()},
		Field{"odd name", ListOf(Leaf(TypeBytes))},
		Field{"m", MapOf(Leaf(TypeInt), Leaf(TypeAny)).Subindexed()},
		Field{"b", Leaf(TypeBool)},
		Field{"f", Leaf(TypeFloat)},
	))
	want := `map(string, record{name: string, follows: set(string).subindexed, "odd name": list(bytes), m: map(int, any).subindexed, b: bool, f: float})`
	if got := s.String(); got != want {
		t.Errorf("String() = %s\nwant        %s", got, want)
	}
	v := s.Value()
	b, err := abi.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	dv, err := abi.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSchema(dv)
	if err != nil {
		t.Fatalf("ParseSchema(%s): %v", v, err)
	}
	if back.String() != want {
		t.Errorf("round trip gave %s", back)
	}
	if !abi.Equal(back.Value(), v) {
		t.Errorf("round trip Value differs: %s vs %s", back.Value(), v)
	}
	if got := Leaf(TypeInt).Value().String(); got != `"int"` {
		t.Errorf("leaf Value = %s", got)
	}
	if got := SetOf(Leaf(TypeInt)).Subindexed().Value().String(); got != `{"elem": "int", "type": "set", "subindexed": true}` {
		t.Errorf("set Value = %s", got)
	}
	// The text form the datadriven tests use reads back too.
	if p, err := parseSchemaText(want); err != nil || p.String() != want {
		t.Errorf("parseSchemaText: %v %s", err, p)
	}
	// Accessors.
	if s.Type() != TypeMap || s.Key().Type() != TypeString || s.Val().Type() != TypeRecord || len(s.Val().Fields()) != 6 {
		t.Errorf("accessors: %v %v %v", s.Type(), s.Key().Type(), s.Val().Type())
	}
	if f, ok := s.Val().Field("follows"); !ok || !f.IsSubindexed() || f.Elem().Type() != TypeString {
		t.Errorf("Field(follows) = %s %v", f, ok)
	}
	if _, ok := s.Val().Field("nope"); ok {
		t.Error("Field(nope) found")
	}
}

func TestParseSchemaErrors(t *testing.T) {
	m := func(kv ...any) abi.Value {
		var es []abi.MapEntry
		for j := 0; j < len(kv); j += 2 {
			var v abi.Value
			switch x := kv[j+1].(type) {
			case string:
				v = abi.String(x)
			case abi.Value:
				v = x
			case bool:
				v = abi.Bool(x)
			}
			es = append(es, abi.MapEntry{Key: abi.String(kv[j].(string)), Val: v})
		}
		return abi.Map(es...)
	}
	tests := []struct {
		v    abi.Value
		want string
	}{
		{abi.String("integer"), `storage: schema $: unknown leaf type "integer"`},
		{abi.Int(1), "storage: schema $: a schema is a leaf type name or a map with \"type\", not int"},
		{m("type", "tree"), `storage: schema $: unknown type "tree"`},
		{m("type", "map", "key", "string"), `storage: schema $: a map schema needs "key" and "val"`},
		{m("type", "map", "key", "string", "val", "nope"), `storage: schema $.mapVals: unknown leaf type "nope"`},
		{m("type", "set"), `storage: schema $: a set schema needs "elem"`},
		{m("type", "list", "elem", m("type", "set", "elem", "x")), `storage: schema $.all.all: unknown leaf type "x"`},
		{m("type", "record", "fields", "a"), `a record schema needs "fields"`},
		{m("type", "record", "fields", abi.List(abi.List(abi.Int(1), abi.String("int")))), "record field 0 must be a [name, schema] pair"},
		{m("type", "record", "fields", abi.List(abi.List(abi.String("a"), abi.String("q")))), `storage: schema $["a"]: unknown leaf type "q"`},
		{m("type", "set", "elem", "int", "size", "1"), `unknown schema attribute "size" for a set`},
		{m("type", "set", "elem", "int", "subindexed", "yes"), `"subindexed" must be a bool, not string`},
	}
	for _, tc := range tests {
		_, err := ParseSchema(tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSchema(%s) = %v, want %q", tc.v, err, tc.want)
		}
	}
	// A subindexed leaf parses (Validate reports it with its fix).
	s, err := ParseSchema(m("type", "int", "subindexed", true))
	if err != nil {
		t.Fatal(err)
	}
	if err := MapOf(Leaf(TypeString), s).Validate(); err == nil || !strings.Contains(err.Error(), "only maps, sets and lists can be subindexed") {
		t.Errorf("Validate = %v", err)
	}
}

func TestNewPStateNames(t *testing.T) {
	if _, err := NewPState("m", "$$follows", MapOf(Leaf(TypeString), Leaf(TypeInt))); err != nil {
		t.Fatal(err)
	}
	if _, err := NewPState("m", "bad name", Leaf(TypeInt)); err == nil || !strings.Contains(err.Error(), "PState name") {
		t.Errorf("bad name: %v", err)
	}
	if _, err := NewPState("", "p", Leaf(TypeInt)); err == nil || !strings.Contains(err.Error(), "module name") {
		t.Errorf("empty module: %v", err)
	}
	_, err := NewPState("m", "p", SetOf(Leaf(TypeInt)))
	var de *DeclareError
	var se SchemaErrors
	if !errors.As(err, &de) || !errors.As(err, &se) || de.PState != "m/p" {
		t.Errorf("bad schema: %v", err)
	}
}
