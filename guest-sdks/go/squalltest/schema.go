package squalltest

import (
	"fmt"
	"strconv"
	"strings"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// schema is a PState schema node as the fake host reads it from the
// module definition. A nil *schema checks nothing (it stands for values
// not covered by a schema).
type schema struct {
	typ        string // any, bool, int, float, string, bytes, map, set, list, record
	key, val   *schema
	elem       *schema
	fields     []field
	subindexed bool
	exploded   bool // stored as several storage keys: a subindexed collection, or a record holding one
}

type field struct {
	name string
	s    *schema
}

// parseSchema reads the ABI form of a schema that the SDK has checked.
func parseSchema(v squall.Value) *schema {
	if name, ok := v.AsString(); ok {
		return &schema{typ: name}
	}
	str := func(k string) string { s, _ := v.Field(k).AsString(); return s }
	s := &schema{typ: str("type")}
	s.subindexed, _ = v.Field("subindexed").AsBool()
	switch s.typ {
	case "map":
		s.key, s.val = parseSchema(v.Field("key")), parseSchema(v.Field("val"))
	case "set", "list":
		s.elem = parseSchema(v.Field("elem"))
	case "record":
		for _, f := range v.Field("fields").Items() {
			name, _ := f.Index(0).AsString()
			fs := parseSchema(f.Index(1))
			s.fields = append(s.fields, field{name, fs})
			s.exploded = s.exploded || fs.exploded
		}
	}
	if s.subindexed && (s.typ == "map" || s.typ == "set" || s.typ == "list") {
		s.exploded = true
	}
	return s
}

func (s *schema) t() string {
	if s == nil {
		return ""
	}
	return s.typ
}

func (s *schema) isExploded() bool { return s != nil && s.exploded }

func (s *schema) elemS() *schema {
	if s == nil {
		return nil
	}
	return s.elem
}

func (s *schema) field(name string) (*schema, bool) {
	if s == nil {
		return nil, false
	}
	for _, f := range s.fields {
		if f.name == name {
			return f.s, true
		}
	}
	return nil, false
}

// String renders the schema as the host's storage layer does.
func (s *schema) String() string {
	var b strings.Builder
	s.write(&b)
	return b.String()
}

func (s *schema) write(b *strings.Builder) {
	if s == nil {
		b.WriteString("<missing>")
		return
	}
	switch s.typ {
	case "map":
		b.WriteString("map(")
		s.key.write(b)
		b.WriteString(", ")
		s.val.write(b)
		b.WriteByte(')')
	case "set", "list":
		b.WriteString(s.typ + "(")
		s.elem.write(b)
		b.WriteByte(')')
	case "record":
		b.WriteString("record{")
		for i, f := range s.fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(fieldLabel(f.name) + ": ")
			f.s.write(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString(s.typ)
	}
	if s.subindexed {
		b.WriteString(".subindexed")
	}
}

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

// schemaError is a value that does not fit a schema.
type schemaError struct {
	loc, msg string
}

// checkValue checks v against s; loc is v's place, for messages. nil
// always fits.
func checkValue(s *schema, v squall.Value, loc string) *schemaError {
	if v.IsNil() || s == nil {
		return nil
	}
	mismatch := func() *schemaError {
		return &schemaError{loc, fmt.Sprintf("the schema says %s, got %s %s", s, v.Kind(), shortValue(v))}
	}
	want := map[string]squall.Kind{"bool": squall.KindBool, "int": squall.KindInt, "float": squall.KindFloat,
		"string": squall.KindString, "bytes": squall.KindBytes, "map": squall.KindMap, "set": squall.KindSet,
		"list": squall.KindList, "record": squall.KindMap}
	if s.typ == "any" {
		return nil
	}
	if k, ok := want[s.typ]; ok && v.Kind() != k {
		return mismatch()
	}
	switch s.typ {
	case "map":
		for _, e := range v.Entries() {
			if err := checkKey(s.key, e.Key, loc); err != nil {
				return err
			}
			if err := checkValue(s.val, e.Val, loc+"["+e.Key.String()+"]"); err != nil {
				return err
			}
		}
	case "set":
		for _, e := range v.Items() {
			if err := checkKey(s.elem, e, loc); err != nil {
				return err
			}
		}
	case "list":
		for i, e := range v.Items() {
			if err := checkValue(s.elem, e, loc+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case "record":
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

// checkKey checks a map key or set element: as checkValue, but floats
// and (under a schema) nil are not keys.
func checkKey(s *schema, k squall.Value, loc string) *schemaError {
	if k.Kind() == squall.KindFloat {
		return &schemaError{loc, fmt.Sprintf("float key %s is not allowed; use int or string keys", k)}
	}
	if k.IsNil() && s != nil && s.typ != "any" {
		return &schemaError{loc, "nil is not a " + s.String() + " key"}
	}
	return checkValue(s, k, loc+"{"+shortValue(k)+"}")
}

func recordField(s *schema, k squall.Value, loc string) (*schema, *schemaError) {
	if name, ok := k.AsString(); ok {
		if fs, found := s.field(name); found {
			return fs, nil
		}
	}
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = strconv.Quote(f.name)
	}
	return nil, &schemaError{loc, fmt.Sprintf("the record has no field %s; its fields are %s", shortValue(k), strings.Join(names, ", "))}
}

// childSchema returns the schema under key k of s.
func childSchema(s *schema, k squall.Value, loc string) (*schema, *schemaError) {
	switch s.t() {
	case "map":
		if err := checkKey(s.key, k, loc); err != nil {
			return nil, err
		}
		return s.val, nil
	case "record":
		return recordField(s, k, loc)
	case "set":
		if err := checkKey(s.elem, k, loc); err != nil {
			return nil, err
		}
		return s.elem, nil
	case "list":
		return s.elem, nil
	}
	return nil, nil
}

// valSchema is the schema of the values of a map or record at a key found
// in the data.
func valSchema(s *schema, k squall.Value) *schema {
	switch s.t() {
	case "map":
		return s.val
	case "record":
		name, _ := k.AsString()
		fs, _ := s.field(name)
		return fs
	case "set", "list":
		return s.elem
	}
	return nil
}

// keySchema is the schema of the keys of a map or record, or of the
// elements of a set.
func keySchema(s *schema) *schema {
	switch s.t() {
	case "map":
		return s.key
	case "record":
		return &schema{typ: "string"}
	case "set":
		return s.elem
	}
	return nil
}

func emptyOf(s *schema) squall.Value {
	switch s.t() {
	case "map", "record":
		return squall.Map()
	case "set":
		return squall.Set()
	case "list":
		return squall.List()
	}
	return squall.Nil()
}

func shortValue(v squall.Value) string {
	s := v.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func locString(at []squall.Value) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, k := range at {
		b.WriteString("[" + shortValue(k) + "]")
	}
	return b.String()
}
