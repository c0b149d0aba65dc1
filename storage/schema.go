package storage

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/squall-run/squall/abi"
)

// Type is the type of a [Schema] node: a leaf type or a collection.
type Type uint8

// Schema node types. The first six are leaves.
const (
	TypeAny Type = iota + 1
	TypeBool
	TypeInt
	TypeFloat
	TypeString
	TypeBytes
	TypeMap
	TypeSet
	TypeList
	TypeRecord
)

var typeNames = [...]string{"", "any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"}

// String returns the type's name as in schema text: "any", "int", "map", ...
func (t Type) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// IsLeaf reports whether t is a leaf type (any, bool, int, float, string,
// bytes).
func (t Type) IsLeaf() bool { return t >= TypeAny && t <= TypeBytes }

// Schema describes the shape of a PState: leaves, maps, sets, lists and
// records (maps with fixed, string-named, optional fields), any of the
// collections optionally subindexed (each element its own storage key,
// sorted, with O(1) size). Build one with [Leaf], [MapOf], [SetOf],
// [ListOf] and [RecordOf], mark collections with [Schema.Subindexed], and
// check it with [Schema.Validate] (which [NewPState] calls).
//
// The top level of a PState is a map (one storage key per top-level key: the
// key that partitions the PState), a record, or a leaf (one value per
// partition, e.g. a counter). nil is allowed everywhere and means "absent".
//
// A Schema is an immutable value; it may be shared between goroutines. The
// zero Schema is invalid.
type Schema struct{ n *schemaNode }

type schemaNode struct {
	typ        Type
	key, val   Schema  // map
	elem       Schema  // set, list
	fields     []Field // record, in declaration order
	subindexed bool
	leafCtor   bool // built by Leaf (so a non-leaf type is a mistake)
	exploded   bool // stored as several keys: a subindexed collection, or a record with an exploded field
}

// Field is one field of a [RecordOf] schema.
type Field struct {
	Name   string
	Schema Schema
}

// Leaf returns the schema of a leaf value of type t (TypeAny for any value).
func Leaf(t Type) Schema { return Schema{&schemaNode{typ: t, leafCtor: true}} }

// MapOf returns the schema of a map from key to val. Keys are leaves.
func MapOf(key, val Schema) Schema { return Schema{&schemaNode{typ: TypeMap, key: key, val: val}} }

// SetOf returns the schema of a set of elem, a leaf.
func SetOf(elem Schema) Schema { return Schema{&schemaNode{typ: TypeSet, elem: elem}} }

// ListOf returns the schema of a list of elem.
func ListOf(elem Schema) Schema { return Schema{&schemaNode{typ: TypeList, elem: elem}} }

// RecordOf returns the schema of a record: a map with the given string keys,
// each optional, each with its own schema. The fields slice is copied.
func RecordOf(fields ...Field) Schema {
	n := &schemaNode{typ: TypeRecord, fields: append([]Field(nil), fields...)}
	for _, f := range fields {
		if f.Schema.n != nil && f.Schema.n.exploded {
			n.exploded = true
		}
	}
	return Schema{n}
}

// Subindexed returns a copy of s (a map, set or list) stored subindexed:
// each element at its own storage key in sorted order, the size in a
// metadata key. Use it for collections that grow large or are read in
// ranges; nested under the top-level map, a record field, or another
// subindexed collection.
func (s Schema) Subindexed() Schema {
	if s.n == nil {
		return s
	}
	c := *s.n
	c.subindexed = true
	c.exploded = c.typ == TypeMap || c.typ == TypeSet || c.typ == TypeList
	return Schema{&c}
}

// Type returns the node's type (0 for the zero Schema).
func (s Schema) Type() Type {
	if s.n == nil {
		return 0
	}
	return s.n.typ
}

// IsSubindexed reports whether the node was marked [Schema.Subindexed].
func (s Schema) IsSubindexed() bool { return s.n != nil && s.n.subindexed }

// Key returns the key schema of a map.
func (s Schema) Key() Schema {
	if s.n == nil {
		return Schema{}
	}
	return s.n.key
}

// Val returns the value schema of a map.
func (s Schema) Val() Schema {
	if s.n == nil {
		return Schema{}
	}
	return s.n.val
}

// Elem returns the element schema of a set or list.
func (s Schema) Elem() Schema {
	if s.n == nil {
		return Schema{}
	}
	return s.n.elem
}

// Fields returns a copy of the fields of a record.
func (s Schema) Fields() []Field {
	if s.n == nil {
		return nil
	}
	return append([]Field(nil), s.n.fields...)
}

// Field returns the schema of a record's field.
func (s Schema) Field(name string) (Schema, bool) {
	if s.n == nil {
		return Schema{}, false
	}
	for _, f := range s.n.fields {
		if f.Name == name {
			return f.Schema, true
		}
	}
	return Schema{}, false
}

// exploded reports whether the node is stored as several storage keys.
func (s Schema) exploded() bool { return s.n != nil && s.n.exploded }

// String renders s: leaves by name, map(K, V), set(E), list(E),
// record{name: S, ...}, with ".subindexed" after subindexed collections:
//
//	map(string, record{name: string, followers: set(string).subindexed})
func (s Schema) String() string {
	var b strings.Builder
	s.appendText(&b)
	return b.String()
}

func (s Schema) appendText(b *strings.Builder) {
	if s.n == nil {
		b.WriteString("<missing>")
		return
	}
	switch s.n.typ {
	case TypeMap:
		b.WriteString("map(")
		s.n.key.appendText(b)
		b.WriteString(", ")
		s.n.val.appendText(b)
		b.WriteByte(')')
	case TypeSet, TypeList:
		b.WriteString(s.n.typ.String())
		b.WriteByte('(')
		s.n.elem.appendText(b)
		b.WriteByte(')')
	case TypeRecord:
		b.WriteString("record{")
		for i, f := range s.n.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(fieldLabel(f.Name))
			b.WriteString(": ")
			f.Schema.appendText(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString(s.n.typ.String())
	}
	if s.n.subindexed {
		b.WriteString(".subindexed")
	}
}

// fieldLabel writes a field name bare when it is an identifier, quoted
// otherwise.
func fieldLabel(name string) string {
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// Value returns the schema as an [abi.Value], the form modules declare it in:
// a leaf is its type name ("int"); a collection is a map with "type" ("map",
// "set", "list", "record"), "key" and "val" (map), "elem" (set, list),
// "fields" (record: a list of [name, schema] pairs in declaration order) and
// "subindexed": true when set. [ParseSchema] reads it back.
func (s Schema) Value() abi.Value {
	if s.n == nil {
		return abi.Nil()
	}
	if s.n.typ.IsLeaf() && !s.n.subindexed {
		return abi.String(s.n.typ.String())
	}
	e := []abi.MapEntry{{Key: abi.String("type"), Val: abi.String(s.n.typ.String())}}
	switch s.n.typ {
	case TypeMap:
		e = append(e, abi.MapEntry{Key: abi.String("key"), Val: s.n.key.Value()},
			abi.MapEntry{Key: abi.String("val"), Val: s.n.val.Value()})
	case TypeSet, TypeList:
		e = append(e, abi.MapEntry{Key: abi.String("elem"), Val: s.n.elem.Value()})
	case TypeRecord:
		fs := make([]abi.Value, len(s.n.fields))
		for i, f := range s.n.fields {
			fs[i] = abi.List(abi.String(f.Name), f.Schema.Value())
		}
		e = append(e, abi.MapEntry{Key: abi.String("fields"), Val: abi.List(fs...)})
	}
	if s.n.subindexed {
		e = append(e, abi.MapEntry{Key: abi.String("subindexed"), Val: abi.Bool(true)})
	}
	return abi.Map(e...)
}

// ParseSchema reads the Value form of a schema (see [Schema.Value]). It
// checks the form, not the rules of [Schema.Validate]. Errors are
// [*SchemaError]s naming the location.
func ParseSchema(v abi.Value) (Schema, error) {
	return parseSchema(v, "$", 0)
}

func parseSchema(v abi.Value, loc string, depth int) (Schema, error) {
	if depth > abi.MaxDepth {
		return Schema{}, &SchemaError{Location: loc, Msg: "schema nests deeper than " + strconv.Itoa(abi.MaxDepth)}
	}
	if name, ok := v.AsString(); ok {
		t := typeByName(name)
		if !t.IsLeaf() {
			return Schema{}, &SchemaError{Location: loc, Msg: fmt.Sprintf("unknown leaf type %q; use any, bool, int, float, string or bytes, or a map {\"type\": ...} for collections", name)}
		}
		return Leaf(t), nil
	}
	if v.Kind() != abi.KindMap {
		return Schema{}, &SchemaError{Location: loc, Msg: "a schema is a leaf type name or a map with \"type\", not " + v.Kind().String()}
	}
	get := func(k string) (abi.Value, bool) { return v.Get(abi.String(k)) }
	tv, _ := get("type")
	tname, _ := tv.AsString()
	t := typeByName(tname)
	if t == 0 {
		return Schema{}, &SchemaError{Location: loc, Msg: fmt.Sprintf("unknown type %s; use map, set, list, record or a leaf type", tv)}
	}
	allowed := map[string]bool{"type": true, "subindexed": true}
	var s Schema
	var err error
	switch t {
	case TypeMap:
		allowed["key"], allowed["val"] = true, true
		kv, ok1 := get("key")
		vv, ok2 := get("val")
		if !ok1 || !ok2 {
			return Schema{}, &SchemaError{Location: loc, Msg: "a map schema needs \"key\" and \"val\""}
		}
		var ks, vs Schema
		if ks, err = parseSchema(kv, loc+".mapKeys", depth+1); err != nil {
			return Schema{}, err
		}
		if vs, err = parseSchema(vv, loc+".mapVals", depth+1); err != nil {
			return Schema{}, err
		}
		s = MapOf(ks, vs)
	case TypeSet, TypeList:
		allowed["elem"] = true
		ev, ok := get("elem")
		if !ok {
			return Schema{}, &SchemaError{Location: loc, Msg: "a " + t.String() + " schema needs \"elem\""}
		}
		es, err := parseSchema(ev, loc+".all", depth+1)
		if err != nil {
			return Schema{}, err
		}
		if t == TypeSet {
			s = SetOf(es)
		} else {
			s = ListOf(es)
		}
	case TypeRecord:
		allowed["fields"] = true
		fv, _ := get("fields")
		if fv.Kind() != abi.KindList {
			return Schema{}, &SchemaError{Location: loc, Msg: "a record schema needs \"fields\": a list of [name, schema] pairs"}
		}
		var fields []Field
		for i, f := range fv.Items() {
			name, ok := f.Index(0).AsString()
			if f.Kind() != abi.KindList || f.Len() != 2 || !ok {
				return Schema{}, &SchemaError{Location: loc, Msg: fmt.Sprintf("record field %d must be a [name, schema] pair with a string name, not %s", i, f)}
			}
			fs, err := parseSchema(f.Index(1), loc+"["+strconv.Quote(name)+"]", depth+1)
			if err != nil {
				return Schema{}, err
			}
			fields = append(fields, Field{Name: name, Schema: fs})
		}
		s = RecordOf(fields...)
	default:
		s = Leaf(t)
	}
	for _, e := range v.Entries() {
		k, _ := e.Key.AsString()
		if !allowed[k] {
			return Schema{}, &SchemaError{Location: loc, Msg: fmt.Sprintf("unknown schema attribute %s for a %s", e.Key, t)}
		}
	}
	if sv, ok := get("subindexed"); ok {
		b, isBool := sv.AsBool()
		if !isBool {
			return Schema{}, &SchemaError{Location: loc, Msg: "\"subindexed\" must be a bool, not " + sv.Kind().String()}
		}
		if b {
			if t.IsLeaf() || t == TypeRecord {
				// Keep the flag so Validate reports it with its fix.
				c := *s.n
				c.subindexed = true
				s = Schema{&c}
			} else {
				s = s.Subindexed()
			}
		}
	}
	return s, nil
}

func typeByName(name string) Type {
	for i, n := range typeNames {
		if n == name && i != 0 {
			return Type(i)
		}
	}
	return 0
}

// SchemaError reports a problem with a schema, or a value that does not
// match one. Location names the schema node: "$" is the top level,
// "$.mapKeys" and "$.mapVals" a map's keys and values, "$.all" a set's or
// list's elements, `$["name"]` a record field; for a mismatched value
// written by a transform, Location is the concrete place of the value
// (`$["alice"]["age"]`) and Schema the node it had to match.
type SchemaError struct {
	Location string
	Msg      string
	Schema   string // the expected schema node, for value mismatches
}

// Error renders the location and the problem.
func (e *SchemaError) Error() string {
	return "storage: schema " + e.Location + ": " + e.Msg
}

// SchemaErrors is every problem [Schema.Validate] found, in schema order.
type SchemaErrors []*SchemaError

// Error renders every problem, one per line.
func (es SchemaErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "storage: schema has %d problems:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Location)
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Validate checks s as the schema of a PState and returns every problem at
// once (a [SchemaErrors]), each with its location and a fix, or nil.
func (s Schema) Validate() error {
	var errs SchemaErrors
	add := func(loc, format string, args ...any) {
		errs = append(errs, &SchemaError{Location: loc, Msg: fmt.Sprintf(format, args...)})
	}
	if s.n == nil {
		add("$", "the schema is missing")
		return errs
	}
	switch s.n.typ {
	case TypeSet, TypeList:
		add("$", "the top level must be a map, a record or a leaf, not a %s; put the %s under a key: MapOf(key, %s) or a record field", s.n.typ, s.n.typ, s)
	case TypeMap:
		if s.n.subindexed {
			add("$", "the top-level map is always stored one key per entry; remove .Subindexed()")
		}
	}
	// place says where a node sits: whether a subindexed collection may be
	// there (its parent is the top level, a record at such a place, or a
	// subindexed collection).
	var walk func(s Schema, loc string, canExplode bool, inlineParent string, depth int)
	walk = func(s Schema, loc string, canExplode bool, inlineParent string, depth int) {
		if s.n == nil {
			add(loc, "the schema is missing")
			return
		}
		if depth > abi.MaxDepth {
			add(loc, "schema nests deeper than %d", abi.MaxDepth)
			return
		}
		n := s.n
		if n.leafCtor && !n.typ.IsLeaf() {
			switch n.typ {
			case TypeMap, TypeSet, TypeList, TypeRecord:
				add(loc, "Leaf(%s): %s is not a leaf type; use MapOf, SetOf, ListOf or RecordOf", n.typ, n.typ)
			default:
				add(loc, "unknown type %d", n.typ)
			}
			return
		}
		if n.subindexed && (n.typ.IsLeaf() || n.typ == TypeRecord) {
			add(loc, "only maps, sets and lists can be subindexed, not a %s; remove .Subindexed()", n.typ)
		}
		isColl := n.typ == TypeMap || n.typ == TypeSet || n.typ == TypeList
		if isColl && n.subindexed && depth > 0 && !canExplode {
			add(loc, "a subindexed %s cannot be inside the inline (not subindexed) %s; mark that one .Subindexed() too, or move this %s to a record field or directly under the top-level map",
				n.typ, inlineParent, n.typ)
		}
		// Children of this node can be exploded when this node is itself
		// stored as separate keys: the top-level map, a record that can be
		// exploded, or a subindexed collection.
		childCan := depth == 0 && (n.typ == TypeMap || n.typ == TypeRecord) ||
			n.typ == TypeRecord && canExplode ||
			isColl && n.subindexed
		parentDesc := n.typ.String() + " at " + loc
		switch n.typ {
		case TypeMap:
			if k := n.key; k.n != nil && !k.n.typ.IsLeaf() {
				add(loc+".mapKeys", "map keys must be a leaf type (any, bool, int, string, bytes), not a %s", k.n.typ)
			} else if k.n != nil && k.n.typ == TypeFloat {
				add(loc+".mapKeys", "float keys are not allowed (NaN and -0.0 make them ambiguous); use int or string")
			}
			walk(n.key, loc+".mapKeys", false, parentDesc, depth+1)
			walk(n.val, loc+".mapVals", childCan, parentDesc, depth+1)
		case TypeSet:
			if e := n.elem; e.n != nil && !e.n.typ.IsLeaf() {
				add(loc+".all", "set elements must be a leaf type (any, bool, int, string, bytes), not a %s; use a map to a %s instead", e.n.typ, e.n.typ)
			} else if e.n != nil && e.n.typ == TypeFloat {
				add(loc+".all", "float set elements are not allowed (NaN and -0.0 make them ambiguous); use int or string")
			}
			walk(n.elem, loc+".all", false, parentDesc, depth+1)
		case TypeList:
			walk(n.elem, loc+".all", childCan, parentDesc, depth+1)
		case TypeRecord:
			if len(n.fields) == 0 {
				add(loc, "a record needs at least one field")
			}
			seen := map[string]bool{}
			for _, f := range n.fields {
				floc := loc + "[" + strconv.Quote(f.Name) + "]"
				switch {
				case f.Name == "":
					add(floc, "a record field needs a name")
				case seen[f.Name]:
					add(floc, "field %q is declared twice", f.Name)
				case !utf8.ValidString(f.Name):
					add(floc, "field name is not valid UTF-8")
				}
				seen[f.Name] = true
				walk(f.Schema, floc, childCan, parentDesc, depth+1)
			}
		default:
			if !n.typ.IsLeaf() {
				add(loc, "unknown type %d", n.typ)
			}
		}
	}
	walk(s, "$", true, "", 0)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkValue checks that v matches s. loc is the concrete location of v for
// messages. nil always matches.
func checkValue(s Schema, v abi.Value, loc string) *SchemaError {
	if v.IsNil() || s.n == nil {
		return nil
	}
	n := s.n
	mismatch := func() *SchemaError {
		return &SchemaError{Location: loc, Schema: s.String(), Msg: fmt.Sprintf("the schema says %s, got %s %s", s, v.Kind(), shortValue(v))}
	}
	switch n.typ {
	case TypeAny:
		return nil
	case TypeBool:
		if v.Kind() != abi.KindBool {
			return mismatch()
		}
	case TypeInt:
		if v.Kind() != abi.KindInt {
			return mismatch()
		}
	case TypeFloat:
		if v.Kind() != abi.KindFloat {
			return mismatch()
		}
	case TypeString:
		if v.Kind() != abi.KindString {
			return mismatch()
		}
	case TypeBytes:
		if v.Kind() != abi.KindBytes {
			return mismatch()
		}
	case TypeMap:
		if v.Kind() != abi.KindMap {
			return mismatch()
		}
		for _, e := range v.Entries() {
			if err := checkKey(n.key, e.Key, loc); err != nil {
				return err
			}
			if err := checkValue(n.val, e.Val, loc+"["+e.Key.String()+"]"); err != nil {
				return err
			}
		}
	case TypeSet:
		if v.Kind() != abi.KindSet {
			return mismatch()
		}
		for _, e := range v.Items() {
			if err := checkKey(n.elem, e, loc); err != nil {
				return err
			}
		}
	case TypeList:
		if v.Kind() != abi.KindList {
			return mismatch()
		}
		for i, e := range v.Items() {
			if err := checkValue(n.elem, e, loc+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case TypeRecord:
		if v.Kind() != abi.KindMap {
			return mismatch()
		}
		for _, e := range v.Entries() {
			fs, err := recordField(s, e.Key, loc)
			if err != nil {
				return err
			}
			if err := checkValue(fs, e.Val, loc+"["+e.Key.String()+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkKey checks a map key or set element against its schema: like
// checkValue, but nil and floats are not keys.
func checkKey(s Schema, k abi.Value, loc string) *SchemaError {
	if k.Kind() == abi.KindFloat {
		return &SchemaError{Location: loc, Schema: s.String(), Msg: fmt.Sprintf("float key %s is not allowed; use int or string keys", k)}
	}
	if k.IsNil() && s.n != nil && s.n.typ != TypeAny {
		return &SchemaError{Location: loc, Schema: s.String(), Msg: "nil is not a " + s.String() + " key"}
	}
	return checkValue(s, k, loc+"{"+shortValue(k)+"}")
}

// recordField returns the schema of field k of record s.
func recordField(s Schema, k abi.Value, loc string) (Schema, *SchemaError) {
	name, ok := k.AsString()
	if ok {
		if fs, found := s.Field(name); found {
			return fs, nil
		}
	}
	names := make([]string, len(s.n.fields))
	for i, f := range s.n.fields {
		names[i] = strconv.Quote(f.Name)
	}
	return Schema{}, &SchemaError{Location: loc, Schema: s.String(),
		Msg: fmt.Sprintf("the record has no field %s; its fields are %s", shortValue(k), strings.Join(names, ", "))}
}

// shortValue renders v for messages, cut to a readable length.
func shortValue(v abi.Value) string {
	s := v.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
