package apiconv

import (
	"errors"
	"strconv"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
)

var leafTypes = map[squallv1.LeafType]abi.SchemaType{
	squallv1.LeafType_LEAF_TYPE_ANY:    abi.SchemaAny,
	squallv1.LeafType_LEAF_TYPE_BOOL:   abi.SchemaBool,
	squallv1.LeafType_LEAF_TYPE_INT:    abi.SchemaInt,
	squallv1.LeafType_LEAF_TYPE_FLOAT:  abi.SchemaFloat,
	squallv1.LeafType_LEAF_TYPE_STRING: abi.SchemaString,
	squallv1.LeafType_LEAF_TYPE_BYTES:  abi.SchemaBytes,
}

// SchemaFromProto converts an API schema. field names s in its message
// ("schema"); errors are [*FieldError]s: "schema.map.value.record.fields[1].name".
// It checks the form (every node has a type, collections have their
// children, nesting is at most [abi.MaxSchemaDepth]); the rules of a PState
// schema (what may be a key, where subindexed collections may sit) are
// [abi.ModuleDef.Validate]'s.
func SchemaFromProto(field string, s *squallv1.Schema) (abi.Schema, error) {
	out, err := schemaFrom(s, 1)
	if err != nil {
		return abi.Schema{}, err.field(field)
	}
	return out, nil
}

func schemaFrom(s *squallv1.Schema, depth int) (abi.Schema, *convError) {
	if s == nil {
		return abi.Schema{}, fail("missing schema")
	}
	if depth > abi.MaxSchemaDepth {
		return abi.Schema{}, fail("schema nests deeper than " + strconv.Itoa(abi.MaxSchemaDepth))
	}
	child := func(seg string, c *squallv1.Schema) (*abi.Schema, *convError) {
		x, err := schemaFrom(c, depth+1)
		if err != nil {
			return nil, err.in("." + seg)
		}
		return &x, nil
	}
	var err *convError
	switch t := s.GetType().(type) {
	case *squallv1.Schema_Leaf:
		lt, ok := leafTypes[t.Leaf]
		if !ok {
			return abi.Schema{}, fail("unknown leaf type " + t.Leaf.String() + "; use LEAF_TYPE_ANY, _BOOL, _INT, _FLOAT, _STRING or _BYTES").in(".leaf")
		}
		return abi.Schema{Type: lt}, nil
	case *squallv1.Schema_Map:
		out := abi.Schema{Type: abi.SchemaMap, Subindexed: t.Map.GetSubindexed()}
		if out.Key, err = child("key", t.Map.GetKey()); err != nil {
			return abi.Schema{}, err.in(".map")
		}
		if out.Val, err = child("value", t.Map.GetValue()); err != nil {
			return abi.Schema{}, err.in(".map")
		}
		return out, nil
	case *squallv1.Schema_Set:
		out := abi.Schema{Type: abi.SchemaSet, Subindexed: t.Set.GetSubindexed()}
		if out.Elem, err = child("element", t.Set.GetElement()); err != nil {
			return abi.Schema{}, err.in(".set")
		}
		return out, nil
	case *squallv1.Schema_List:
		out := abi.Schema{Type: abi.SchemaList, Subindexed: t.List.GetSubindexed()}
		if out.Elem, err = child("element", t.List.GetElement()); err != nil {
			return abi.Schema{}, err.in(".list")
		}
		return out, nil
	case *squallv1.Schema_Record:
		fields := t.Record.GetFields()
		if len(fields) == 0 {
			return abi.Schema{}, fail("a record needs at least one field").in(".fields").in(".record")
		}
		out := abi.Schema{Type: abi.SchemaRecord, Fields: make([]abi.FieldDef, len(fields))}
		for i, f := range fields {
			if f.GetName() == "" {
				return abi.Schema{}, fail("a record field needs a name").in(".name").in(index("fields", i)).in(".record")
			}
			fs, err := child("schema", f.GetSchema())
			if err != nil {
				return abi.Schema{}, err.in(index("fields", i)).in(".record")
			}
			out.Fields[i] = abi.FieldDef{Name: f.GetName(), Schema: *fs}
		}
		return out, nil
	}
	return abi.Schema{}, fail("no type set; set leaf, map, set, list or record")
}

// SchemaToProto converts a schema to its API form. It fails for a node the
// API cannot express: an unknown type, a missing child, or a subindexed
// leaf or record (which [abi.ModuleDef.Validate] refuses too).
func SchemaToProto(s abi.Schema) (*squallv1.Schema, error) {
	out, err := schemaTo(&s, 1)
	if err != nil {
		f := err.field("$")
		return nil, errors.New("apiconv: schema " + f.Field + ": " + f.Msg)
	}
	return out, nil
}

func schemaTo(s *abi.Schema, depth int) (*squallv1.Schema, *convError) {
	if s == nil {
		return nil, fail("missing schema")
	}
	if depth > abi.MaxSchemaDepth {
		return nil, fail("schema nests deeper than " + strconv.Itoa(abi.MaxSchemaDepth))
	}
	if s.Subindexed && (s.Type.IsLeaf() || s.Type == abi.SchemaRecord) {
		return nil, fail("only map, set and list schemas can be subindexed, not " + strconv.Quote(string(s.Type)))
	}
	child := func(seg string, c *abi.Schema) (*squallv1.Schema, *convError) {
		x, err := schemaTo(c, depth+1)
		if err != nil {
			return nil, err.in("." + seg)
		}
		return x, nil
	}
	var err *convError
	switch s.Type {
	case abi.SchemaMap:
		m := &squallv1.MapSchema{Subindexed: s.Subindexed}
		if m.Key, err = child("key", s.Key); err != nil {
			return nil, err
		}
		if m.Value, err = child("val", s.Val); err != nil {
			return nil, err
		}
		return &squallv1.Schema{Type: &squallv1.Schema_Map{Map: m}}, nil
	case abi.SchemaSet:
		m := &squallv1.SetSchema{Subindexed: s.Subindexed}
		if m.Element, err = child("elem", s.Elem); err != nil {
			return nil, err
		}
		return &squallv1.Schema{Type: &squallv1.Schema_Set{Set: m}}, nil
	case abi.SchemaList:
		m := &squallv1.ListSchema{Subindexed: s.Subindexed}
		if m.Element, err = child("elem", s.Elem); err != nil {
			return nil, err
		}
		return &squallv1.Schema{Type: &squallv1.Schema_List{List: m}}, nil
	case abi.SchemaRecord:
		m := &squallv1.RecordSchema{Fields: make([]*squallv1.RecordField, len(s.Fields))}
		for i := range s.Fields {
			f := &s.Fields[i]
			fs, err := child("fields["+strconv.Quote(f.Name)+"]", &f.Schema)
			if err != nil {
				return nil, err
			}
			m.Fields[i] = &squallv1.RecordField{Name: f.Name, Schema: fs}
		}
		return &squallv1.Schema{Type: &squallv1.Schema_Record{Record: m}}, nil
	}
	for lt, t := range leafTypes {
		if t == s.Type {
			return &squallv1.Schema{Type: &squallv1.Schema_Leaf{Leaf: lt}}, nil
		}
	}
	return nil, fail("unknown schema type " + strconv.Quote(string(s.Type)))
}
