package apiconv_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

func leaf(t squallv1.LeafType) *squallv1.Schema {
	return &squallv1.Schema{Type: &squallv1.Schema_Leaf{Leaf: t}}
}

func TestSchema(t *testing.T) {
	str := abi.Schema{Type: abi.SchemaString}
	i64 := abi.Schema{Type: abi.SchemaInt}
	for _, tc := range []struct {
		name  string
		abi   abi.Schema
		proto *squallv1.Schema
	}{
		{"leaf", abi.Schema{Type: abi.SchemaFloat}, leaf(squallv1.LeafType_LEAF_TYPE_FLOAT)},
		{"every leaf", abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{
			{Name: "a", Schema: abi.Schema{Type: abi.SchemaAny}},
			{Name: "b", Schema: abi.Schema{Type: abi.SchemaBool}},
			{Name: "i", Schema: i64},
			{Name: "s", Schema: str},
			{Name: "y", Schema: abi.Schema{Type: abi.SchemaBytes}},
		}}, &squallv1.Schema{Type: &squallv1.Schema_Record{Record: &squallv1.RecordSchema{Fields: []*squallv1.RecordField{
			{Name: "a", Schema: leaf(squallv1.LeafType_LEAF_TYPE_ANY)},
			{Name: "b", Schema: leaf(squallv1.LeafType_LEAF_TYPE_BOOL)},
			{Name: "i", Schema: leaf(squallv1.LeafType_LEAF_TYPE_INT)},
			{Name: "s", Schema: leaf(squallv1.LeafType_LEAF_TYPE_STRING)},
			{Name: "y", Schema: leaf(squallv1.LeafType_LEAF_TYPE_BYTES)},
		}}}}},
		{"map of subindexed set and list", abi.Schema{Type: abi.SchemaMap, Key: &str, Val: &abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{
			{Name: "followers", Schema: abi.Schema{Type: abi.SchemaSet, Elem: &str, Subindexed: true}},
			{Name: "posts", Schema: abi.Schema{Type: abi.SchemaList, Elem: &i64, Subindexed: true}},
			{Name: "visits", Schema: abi.Schema{Type: abi.SchemaMap, Key: &i64, Val: &i64, Subindexed: true}},
		}}}, &squallv1.Schema{Type: &squallv1.Schema_Map{Map: &squallv1.MapSchema{
			Key: leaf(squallv1.LeafType_LEAF_TYPE_STRING),
			Value: &squallv1.Schema{Type: &squallv1.Schema_Record{Record: &squallv1.RecordSchema{Fields: []*squallv1.RecordField{
				{Name: "followers", Schema: &squallv1.Schema{Type: &squallv1.Schema_Set{Set: &squallv1.SetSchema{Element: leaf(squallv1.LeafType_LEAF_TYPE_STRING), Subindexed: true}}}},
				{Name: "posts", Schema: &squallv1.Schema{Type: &squallv1.Schema_List{List: &squallv1.ListSchema{Element: leaf(squallv1.LeafType_LEAF_TYPE_INT), Subindexed: true}}}},
				{Name: "visits", Schema: &squallv1.Schema{Type: &squallv1.Schema_Map{Map: &squallv1.MapSchema{
					Key: leaf(squallv1.LeafType_LEAF_TYPE_INT), Value: leaf(squallv1.LeafType_LEAF_TYPE_INT), Subindexed: true,
				}}}},
			}}}},
		}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apiconv.SchemaToProto(tc.abi)
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tc.proto) {
				t.Errorf("SchemaToProto =\n %v\nwant\n %v", got, tc.proto)
			}
			back, err := apiconv.SchemaFromProto("schema", tc.proto)
			if err != nil {
				t.Fatal(err)
			}
			if !abi.Equal(back.Value(), tc.abi.Value()) {
				t.Errorf("SchemaFromProto = %v, want %v", back.Value(), tc.abi.Value())
			}
		})
	}
}

func TestSchemaFromProto_Errors(t *testing.T) {
	deep := leaf(squallv1.LeafType_LEAF_TYPE_INT)
	for range abi.MaxSchemaDepth {
		deep = &squallv1.Schema{Type: &squallv1.Schema_List{List: &squallv1.ListSchema{Element: deep}}}
	}
	for _, tc := range []struct {
		name string
		in   *squallv1.Schema
		want string
	}{
		{"nil", nil, "schema: missing schema"},
		{"no type", &squallv1.Schema{}, "schema: no type set; set leaf, map, set, list or record"},
		{"unspecified leaf", leaf(0), "schema.leaf: unknown leaf type LEAF_TYPE_UNSPECIFIED; use LEAF_TYPE_ANY, _BOOL, _INT, _FLOAT, _STRING or _BYTES"},
		{"map without key", &squallv1.Schema{Type: &squallv1.Schema_Map{Map: &squallv1.MapSchema{Value: leaf(1)}}}, "schema.map.key: missing schema"},
		{"map without value", &squallv1.Schema{Type: &squallv1.Schema_Map{Map: &squallv1.MapSchema{Key: leaf(1)}}}, "schema.map.value: missing schema"},
		{"set without element", &squallv1.Schema{Type: &squallv1.Schema_Set{}}, "schema.set.element: missing schema"},
		{"list without element", &squallv1.Schema{Type: &squallv1.Schema_List{List: &squallv1.ListSchema{}}}, "schema.list.element: missing schema"},
		{"record without fields", &squallv1.Schema{Type: &squallv1.Schema_Record{Record: &squallv1.RecordSchema{}}}, "schema.record.fields: a record needs at least one field"},
		{"unnamed field", &squallv1.Schema{Type: &squallv1.Schema_Record{Record: &squallv1.RecordSchema{Fields: []*squallv1.RecordField{
			{Name: "a", Schema: leaf(1)}, {Schema: leaf(1)},
		}}}}, "schema.record.fields[1].name: a record field needs a name"},
		{"bad field schema", &squallv1.Schema{Type: &squallv1.Schema_Record{Record: &squallv1.RecordSchema{Fields: []*squallv1.RecordField{
			{Name: "a", Schema: &squallv1.Schema{Type: &squallv1.Schema_Map{Map: &squallv1.MapSchema{Key: leaf(1), Value: leaf(42)}}}},
		}}}}, "schema.record.fields[0].schema.map.value.leaf: unknown leaf type 42"},
		{"too deep", deep, "schema" + strings.Repeat(".list.element", abi.MaxSchemaDepth) + ": schema nests deeper than 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiconv.SchemaFromProto("schema", tc.in)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n %v\nwant prefix\n %s", err, tc.want)
			}
		})
	}
}

func TestSchemaToProto_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   abi.Schema
		want string
	}{
		{"unknown type", abi.Schema{Type: "tree"}, `apiconv: schema $: unknown schema type "tree"`},
		{"subindexed leaf", abi.Schema{Type: abi.SchemaInt, Subindexed: true}, `apiconv: schema $: only map, set and list schemas can be subindexed, not "int"`},
		{"map without key", abi.Schema{Type: abi.SchemaMap}, "apiconv: schema $.key: missing schema"},
		{"bad field", abi.Schema{Type: abi.SchemaRecord, Fields: []abi.FieldDef{{Name: "n", Schema: abi.Schema{Type: abi.SchemaList}}}},
			`apiconv: schema $.fields["n"].elem: missing schema`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apiconv.SchemaToProto(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error\n %v\nwant\n %s", err, tc.want)
			}
		})
	}
}
