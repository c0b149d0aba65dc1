package squall

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Schema is the storage schema of a PState: a leaf type ([AnyT], [BoolT],
// [IntT], [FloatT], [StringT], [BytesT]) or a collection of schemas
// ([MapOf], [SetOf], [ListOf], [RecordOf]), optionally
// [Schema.Subindexed].
//
// The top level of a PState is a map (one stored entry per top-level key,
// the key that partitions the PState), a record, or a leaf (one value per
// partition). Map keys and set elements are leaves other than FloatT. nil
// is allowed everywhere and means absent. The host checks every write
// against the schema.
//
// A Schema is an immutable value.
type Schema struct{ n *schemaNode }

type schemaNode struct {
	typ        string // any, bool, int, float, string, bytes, map, set, list, record
	key, val   Schema
	elem       Schema
	fields     []SchemaField
	subindexed bool
}

// SchemaField is one field of a [RecordOf] schema.
type SchemaField struct {
	Name   string
	Schema Schema
}

// Leaf schemas.
var (
	AnyT    = Schema{&schemaNode{typ: "any"}}    // any value
	BoolT   = Schema{&schemaNode{typ: "bool"}}   // bools
	IntT    = Schema{&schemaNode{typ: "int"}}    // 64-bit ints
	FloatT  = Schema{&schemaNode{typ: "float"}}  // 64-bit floats
	StringT = Schema{&schemaNode{typ: "string"}} // UTF-8 strings
	BytesT  = Schema{&schemaNode{typ: "bytes"}}  // byte strings
)

// MapOf returns the schema of a map from key (a leaf other than FloatT) to
// val.
func MapOf(key, val Schema) Schema { return Schema{&schemaNode{typ: "map", key: key, val: val}} }

// SetOf returns the schema of a set of elem (a leaf other than FloatT).
func SetOf(elem Schema) Schema { return Schema{&schemaNode{typ: "set", elem: elem}} }

// ListOf returns the schema of a list of elem.
func ListOf(elem Schema) Schema { return Schema{&schemaNode{typ: "list", elem: elem}} }

// RecordOf returns the schema of a record: a map with these string keys,
// each optional, in declaration order.
func RecordOf(fields ...SchemaField) Schema {
	return Schema{&schemaNode{typ: "record", fields: append([]SchemaField(nil), fields...)}}
}

// Field returns a record field for [RecordOf].
func Field(name string, s Schema) SchemaField { return SchemaField{Name: name, Schema: s} }

// Subindexed returns a copy of s (a map, set or list) stored subindexed:
// each element under its own storage key, sorted, with an O(1) size, so it
// can hold millions of elements and be read in ranges. A subindexed
// collection sits under the top-level map, in a record field, or inside
// another subindexed collection.
func (s Schema) Subindexed() Schema {
	if s.n == nil {
		return s
	}
	c := *s.n
	c.subindexed = true
	return Schema{&c}
}

// Type returns the schema's type name: any, bool, int, float, string,
// bytes, map, set, list or record ("" for the zero Schema).
func (s Schema) Type() string {
	if s.n == nil {
		return ""
	}
	return s.n.typ
}

func (s Schema) leaf() bool {
	switch s.Type() {
	case "any", "bool", "int", "float", "string", "bytes":
		return true
	}
	return false
}

// Value returns the ABI form of the schema: a leaf is its type name; a
// collection is a map with "type", "key" and "val" (map), "elem" (set,
// list), "fields" (record: [name, schema] pairs) and "subindexed": true
// when set.
func (s Schema) Value() Value {
	if s.n == nil {
		return Value{}
	}
	if s.leaf() && !s.n.subindexed {
		return String(s.n.typ)
	}
	es := []MapEntry{{String("type"), String(s.n.typ)}}
	child := func(name string, c Schema) {
		if c.n != nil {
			es = append(es, MapEntry{String(name), c.Value()})
		}
	}
	switch s.n.typ {
	case "map":
		child("key", s.n.key)
		child("val", s.n.val)
	case "set", "list":
		child("elem", s.n.elem)
	case "record":
		fs := make([]Value, len(s.n.fields))
		for i, f := range s.n.fields {
			fs[i] = List(String(f.Name), f.Schema.Value())
		}
		es = append(es, MapEntry{String("fields"), List(fs...)})
	}
	if s.n.subindexed {
		es = append(es, MapEntry{String("subindexed"), Bool(true)})
	}
	return Map(es...)
}

// String renders the schema: map(string, set(int).subindexed),
// record{name: string, age: int}.
func (s Schema) String() string {
	var b strings.Builder
	s.writeText(&b)
	return b.String()
}

func (s Schema) writeText(b *strings.Builder) {
	if s.n == nil {
		b.WriteString("<missing>")
		return
	}
	switch s.n.typ {
	case "map":
		b.WriteString("map(")
		s.n.key.writeText(b)
		b.WriteString(", ")
		s.n.val.writeText(b)
		b.WriteByte(')')
	case "set", "list":
		b.WriteString(s.n.typ + "(")
		s.n.elem.writeText(b)
		b.WriteByte(')')
	case "record":
		b.WriteString("record{")
		for i, f := range s.n.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + ": ")
			f.Schema.writeText(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString(s.n.typ)
	}
	if s.n.subindexed {
		b.WriteString(".subindexed")
	}
}

// maxSchemaDepth bounds the nesting of a schema (a leaf has depth 1).
const maxSchemaDepth = 32

// check adds the problems of s, at location w and depth (the root is 1),
// to p. separate says whether the node is stored under its own storage
// keys, where a subindexed collection may appear. The messages are the
// host's (abi.ModuleDef.Validate).
func (s Schema) check(p *problems, w string, depth int, separate bool) {
	if depth > maxSchemaDepth {
		p.add(w, "schema nests deeper than "+strconv.Itoa(maxSchemaDepth))
		return
	}
	if s.n == nil {
		p.add(w, "the schema is missing")
		return
	}
	n := s.n
	root := depth == 1
	coll := n.typ == "map" || n.typ == "set" || n.typ == "list"
	switch {
	case root && (n.typ == "set" || n.typ == "list"):
		p.add(w, "the top level of a PState must be a map, a record or a leaf, not a "+n.typ+
			"; put the "+n.typ+" under a map key or a record field")
	case root && n.typ == "map" && n.subindexed:
		p.add(w+".subindexed", "the top-level map is always stored one key per entry; remove \"subindexed\"")
	case n.subindexed && !coll:
		p.add(w+".subindexed", "only map, set and list schemas can be subindexed, not "+strconv.Quote(n.typ))
	case n.subindexed && !separate:
		p.add(w+".subindexed", "a subindexed "+n.typ+" cannot sit inside a map, set or list that is not subindexed; "+
			"mark that one subindexed too, or move this "+n.typ+" to a record field or directly under the top-level map")
	}
	childSeparate := root && (n.typ == "map" || n.typ == "record") || n.typ == "record" && separate || coll && n.subindexed
	keyLike := func(name string, c Schema) {
		what := "map keys"
		if name == "elem" {
			what = "set elements"
		}
		switch {
		case c.Type() == "float":
			p.add(w+"."+name, what+" cannot be floats (NaN and -0.0 make them ambiguous); use int or string")
		case c.n != nil && !c.leaf():
			p.add(w+"."+name, what+" must be of a leaf type (any, bool, int, string or bytes), not "+strconv.Quote(c.Type()))
		}
	}
	switch n.typ {
	case "any", "bool", "int", "float", "string", "bytes":
	case "map":
		n.key.check(p, w+".key", depth+1, false)
		keyLike("key", n.key)
		n.val.check(p, w+".val", depth+1, childSeparate)
	case "set":
		n.elem.check(p, w+".elem", depth+1, false)
		keyLike("elem", n.elem)
	case "list":
		n.elem.check(p, w+".elem", depth+1, childSeparate)
	case "record":
		if len(n.fields) == 0 {
			p.add(w+".fields", "a record needs at least one field")
		}
		seen := map[string]bool{}
		for i, f := range n.fields {
			fw := w + ".fields[" + strconv.Quote(f.Name) + "]"
			switch {
			case f.Name == "":
				p.add(w+".fields["+strconv.Itoa(i)+"]", "a record field needs a name")
				continue
			case !utf8.ValidString(f.Name):
				p.add(fw, "field name is not valid UTF-8")
			case len(f.Name) > maxNameLen:
				p.add(fw, "field name is "+strconv.Itoa(len(f.Name))+" bytes; the limit is "+strconv.Itoa(maxNameLen))
			case seen[f.Name]:
				p.add(w+".fields["+strconv.Itoa(i)+"]", "field "+strconv.Quote(f.Name)+" is declared twice")
				continue
			}
			seen[f.Name] = true
			f.Schema.check(p, fw, depth+1, childSeparate)
		}
	case "":
		p.add(w+".type", "required field is missing; use one of "+quoteList(schemaTypes))
	default:
		p.add(w+".type", "unknown schema type "+strconv.Quote(n.typ)+"; use one of "+quoteList(schemaTypes))
	}
}
