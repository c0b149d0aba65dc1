package squall

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
)

// Marshaler is implemented by types that convert themselves to a [Value].
// [ValueOf], and every Ctx method and path step that takes an any, use it.
//
//	type Follow struct{ From, To string }
//
//	func (f Follow) MarshalSquall() (squall.Value, error) {
//		return squall.ValueOf(map[string]any{"from": f.From, "to": f.To})
//	}
type Marshaler interface {
	MarshalSquall() (Value, error)
}

// Unmarshaler is implemented by pointers to types that fill themselves from
// a [Value]. [Unmarshal], [As] and [Typed] stages use it.
//
//	func (f *Follow) UnmarshalSquall(v squall.Value) error {
//		return squall.Unpack(v, map[string]any{"from": &f.From, "to": &f.To})
//	}
type Unmarshaler interface {
	UnmarshalSquall(Value) error
}

// ConvertError reports a Go value that cannot become a [Value], or a
// [Value] that does not fit a Go type.
type ConvertError struct {
	// Path locates the failing part: "" for the whole value, then [3] for
	// list items and ["key"] for map values.
	Path string
	Msg  string
}

func (e *ConvertError) Error() string {
	if e.Path == "" {
		return "squall: " + e.Msg
	}
	return "squall: at " + e.Path + ": " + e.Msg
}

func convertErr(path, format string, args ...any) error {
	return &ConvertError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// prefix adds an outer location to a ConvertError.
func prefix(err error, outer string) error {
	var ce *ConvertError
	if errors.As(err, &ce) {
		return &ConvertError{Path: outer + ce.Path, Msg: ce.Msg}
	}
	return &ConvertError{Path: outer, Msg: err.Error()}
}

// ValueOf converts an ordinary Go value to a [Value]:
//
//   - nil and nil pointers, slices and maps: nil
//   - a [Value] (or *Value): itself; a [Marshaler]: what it returns
//   - bool; every int and uint type (uints above 2^63-1 are an error);
//     float32 and float64 (as float); string; []byte (as bytes)
//   - slices and arrays: lists (of their converted items)
//   - maps: maps (keys and values converted)
//   - []MapEntry: a map
//   - named types of these kinds (type UserID string) convert as their kind
//   - pointers: what they point to
//
// Structs are not converted implicitly: their field names become stored
// data, so they say how with a [Marshaler]. Common types are converted
// without reflection.
func ValueOf(x any) (Value, error) {
	// The concrete types come first (the common ones first): none of them
	// has methods, so none is a Marshaler, and checking for an interface
	// costs more than comparing types.
	switch x := x.(type) {
	case nil:
		return Value{}, nil
	case Value:
		return x, nil
	case string:
		return String(x), nil
	case int:
		return Int(int64(x)), nil
	case int64:
		return Int(x), nil
	case *Value:
		if x == nil {
			return Value{}, nil
		}
		return *x, nil
	case bool:
		return Bool(x), nil
	case int8:
		return Int(int64(x)), nil
	case int16:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return Int(int64(x)), nil
	case uint16:
		return Int(int64(x)), nil
	case uint32:
		return Int(int64(x)), nil
	case uint64:
		return uintValue(x)
	case float32:
		return Float(float64(x)), nil
	case float64:
		return Float(x), nil
	case []byte:
		if x == nil {
			return Value{}, nil
		}
		return Bytes(x), nil
	case []Value:
		if x == nil {
			return Value{}, nil
		}
		return List(append([]Value(nil), x...)...), nil
	case []MapEntry:
		return Map(x...), nil
	case []any:
		return ListFrom(x)
	case []string:
		return ListFrom(x)
	case []int:
		return ListFrom(x)
	case []int64:
		return ListFrom(x)
	case []float64:
		return ListFrom(x)
	case map[string]any:
		return MapFrom(x)
	case map[string]Value:
		return MapFrom(x)
	case map[string]string:
		return MapFrom(x)
	case map[string]int:
		return MapFrom(x)
	case map[string]int64:
		return MapFrom(x)
	case Marshaler:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return Value{}, nil
		}
		return x.MarshalSquall()
	}
	return reflectValueOf(reflect.ValueOf(x))
}

// valueOfInto stores ValueOf(x) in the zero Value *v, strings and ints
// field by field: a Value returned is a 56-byte copy, a memmove call in
// Go's wasm code. Path.Key uses it (hops and emits did, without a
// measurable gain).
func valueOfInto(v *Value, x any) error {
	switch x := x.(type) {
	case string:
		v.kind, v.s = KindString, x
		return nil
	case int:
		v.kind, v.n = KindInt, uint64(int64(x))
		return nil
	case int64:
		v.kind, v.n = KindInt, uint64(x)
		return nil
	}
	var err error
	*v, err = ValueOf(x)
	return err
}

// MustValueOf is [ValueOf] that panics on error, for literals.
func MustValueOf(x any) Value {
	v, err := ValueOf(x)
	if err != nil {
		panic(err)
	}
	return v
}

func uintValue(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return Value{}, convertErr("", "%d does not fit a 64-bit signed int", u)
	}
	return Int(int64(u)), nil
}

// ListFrom converts a slice to a list of its converted items.
func ListFrom[T any](xs []T) (Value, error) {
	if xs == nil {
		return Value{}, nil
	}
	items := make([]Value, len(xs))
	for i, x := range xs {
		v, err := ValueOf(x)
		if err != nil {
			return Value{}, prefix(err, "["+strconv.Itoa(i)+"]")
		}
		items[i] = v
	}
	return List(items...), nil
}

// SetFrom converts a slice to a set of its converted items (duplicates
// collapse).
func SetFrom[T any](xs []T) (Value, error) {
	l, err := ListFrom(xs)
	if err != nil {
		return Value{}, err
	}
	return Set(l.c...), nil
}

// MapFrom converts a Go map to a map of its converted keys and values.
func MapFrom[K comparable, V any](m map[K]V) (Value, error) {
	if m == nil {
		return Value{}, nil
	}
	if len(m) == 0 {
		return Value{kind: KindMap}, nil
	}
	flat := make([]Value, 0, 2*len(m))
	for k, x := range m {
		kv, err := ValueOf(k)
		if err != nil {
			return Value{}, prefix(err, "{key}")
		}
		v, err := ValueOf(x)
		if err != nil {
			return Value{}, prefix(err, "["+kv.String()+"]")
		}
		flat = append(flat, kv, v)
	}
	return Value{kind: KindMap, c: sortUnique(flat, 2)}, nil
}

var marshalerType = reflect.TypeOf((*Marshaler)(nil)).Elem()

// reflectValueOf converts named basic types, slices, arrays, maps and
// pointers.
func reflectValueOf(rv reflect.Value) (Value, error) {
	if !rv.IsValid() {
		return Value{}, nil
	}
	if rv.Type().Implements(marshalerType) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return Value{}, nil
		}
		return rv.Interface().(Marshaler).MarshalSquall()
	}
	switch rv.Kind() {
	case reflect.Bool:
		return Bool(rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Int(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintValue(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return Float(rv.Float()), nil
	case reflect.String:
		return String(rv.String()), nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return Value{}, nil
		}
		return reflectValueOf(rv.Elem())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return Value{}, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return Bytes(b), nil
		}
		items := make([]Value, rv.Len())
		for i := range items {
			v, err := reflectValueOf(rv.Index(i))
			if err != nil {
				return Value{}, prefix(err, "["+strconv.Itoa(i)+"]")
			}
			items[i] = v
		}
		return List(items...), nil
	case reflect.Map:
		if rv.IsNil() {
			return Value{}, nil
		}
		es := make([]MapEntry, 0, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k, err := reflectValueOf(it.Key())
			if err != nil {
				return Value{}, prefix(err, "{key}")
			}
			v, err := reflectValueOf(it.Value())
			if err != nil {
				return Value{}, prefix(err, "["+k.String()+"]")
			}
			es = append(es, MapEntry{k, v})
		}
		return Map(es...), nil
	case reflect.Struct:
		return Value{}, convertErr("", "cannot convert %s (a struct) to a Value: implement squall.Marshaler (and squall.Unmarshaler on its pointer) to say which fields are stored and under which names", rv.Type())
	}
	return Value{}, convertErr("", "cannot convert %s to a Value: use a bool, number, string, []byte, slice, map or a squall.Marshaler", rv.Type())
}

// As converts v to a T with [Unmarshal]:
//
//	n, err := squall.As[int64](v)
//	words, err := squall.As[[]string](v)
func As[T any](v Value) (T, error) {
	var out T
	err := Unmarshal(v, &out)
	return out, err
}

// ListAs converts a list (or a set) to a []T, each item with [Unmarshal].
func ListAs[T any](v Value) ([]T, error) {
	return As[[]T](v)
}

// MapAs converts a map to a map[K]V, each key and value with [Unmarshal].
func MapAs[K comparable, V any](v Value) (map[K]V, error) {
	return As[map[K]V](v)
}

// Unmarshal stores v in the value ptr points to:
//
//   - *[Value]: v itself
//   - a [Unmarshaler]: its UnmarshalSquall(v)
//   - *bool, *string: a bool, a string
//   - pointers to int and uint types: an int that fits the type
//   - *float64, *float32: a float, or an int
//   - *[]byte: bytes (or a string)
//   - pointers to slices and arrays: a list or a set, item by item
//   - pointers to maps: a map, key by key
//   - *any: the plain Go form (nil, bool, int64, float64, string, []byte,
//     []any for lists and sets, map[string]any or map[any]any for maps
//     whose keys are scalars)
//   - pointers to named types of these kinds, and pointers to pointers
//
// nil stores the zero value of every type (nil means absent in Squall: a
// counter never incremented reads as 0). Values of the wrong kind are a
// [*ConvertError].
func Unmarshal(v Value, ptr any) error {
	// The pointers to unnamed types come first: they have no methods, so
	// none is an Unmarshaler, and comparing types costs less than checking
	// for an interface.
	switch p := ptr.(type) {
	case *Value:
		*p = v
		return nil
	case *any:
		x, err := toAny(v, "")
		if err == nil {
			*p = x
		}
		return err
	case *bool:
		b, err := boolOf(v)
		*p = b
		return err
	case *string:
		s, err := stringOf(v)
		*p = s
		return err
	case *int64:
		i, err := intOf(v, math.MinInt64, math.MaxInt64, "int64")
		*p = i
		return err
	case *int:
		i, err := intOf(v, math.MinInt, math.MaxInt, "int")
		*p = int(i)
		return err
	case *float64:
		f, err := floatOf(v)
		*p = f
		return err
	case *[]byte:
		switch v.kind {
		case KindNil:
			*p = nil
		case KindBytes, KindString:
			*p = []byte(v.s)
		default:
			return wrongKind(v, "[]byte", "")
		}
		return nil
	case *[]Value:
		switch v.kind {
		case KindNil:
			*p = nil
		case KindList, KindSet:
			*p = append([]Value(nil), v.c...)
		default:
			return wrongKind(v, "[]squall.Value", "")
		}
		return nil
	case *map[string]Value:
		if v.kind == KindNil {
			*p = nil
			return nil
		}
		if v.kind != KindMap {
			return wrongKind(v, "map[string]squall.Value", "")
		}
		m := make(map[string]Value, v.Len())
		for i := 0; i < len(v.c); i += 2 {
			k, ok := v.c[i].AsString()
			if !ok {
				return wrongKind(v.c[i], "string", "{"+v.c[i].String()+"}")
			}
			m[k] = v.c[i+1]
		}
		*p = m
		return nil
	case Unmarshaler:
		return p.UnmarshalSquall(v)
	}
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return convertErr("", "Unmarshal needs a non-nil pointer, not %T", ptr)
	}
	return reflectUnmarshal(v, rv.Elem(), "")
}

func wrongKind(v Value, want, path string) error {
	s := v.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return convertErr(path, "cannot store %s %s in a %s", v.kind, s, want)
}

// boolOf is what Unmarshal stores in a *bool: false for nil.
func boolOf(v Value) (bool, error) {
	if v.kind == KindNil {
		return false, nil
	}
	b, ok := v.AsBool()
	if !ok {
		return false, wrongKind(v, "bool", "")
	}
	return b, nil
}

// stringOf is what Unmarshal stores in a *string: "" for nil.
func stringOf(v Value) (string, error) {
	if v.kind == KindNil {
		return "", nil
	}
	s, ok := v.AsString()
	if !ok {
		return "", wrongKind(v, "string", "")
	}
	return s, nil
}

func intOf(v Value, lo, hi int64, want string) (int64, error) {
	if v.kind == KindNil {
		return 0, nil
	}
	i, ok := v.AsInt()
	if !ok {
		return 0, wrongKind(v, want, "")
	}
	if i < lo || i > hi {
		return 0, convertErr("", "%d does not fit a %s", i, want)
	}
	return i, nil
}

func floatOf(v Value) (float64, error) {
	switch v.kind {
	case KindNil:
		return 0, nil
	case KindInt:
		return float64(int64(v.n)), nil
	case KindFloat:
		return math.Float64frombits(v.n), nil
	}
	return 0, wrongKind(v, "float64", "")
}

var unmarshalerType = reflect.TypeOf((*Unmarshaler)(nil)).Elem()

// reflectUnmarshal stores v in the settable rv.
func reflectUnmarshal(v Value, rv reflect.Value, path string) error {
	if rv.CanAddr() && rv.Addr().Type().Implements(unmarshalerType) {
		if err := rv.Addr().Interface().(Unmarshaler).UnmarshalSquall(v); err != nil {
			return prefix(err, path)
		}
		return nil
	}
	t := rv.Type()
	if v.kind == KindNil && t.Kind() != reflect.Interface {
		rv.SetZero()
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		b, ok := v.AsBool()
		if !ok {
			return wrongKind(v, t.String(), path)
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := v.AsInt()
		if !ok {
			return wrongKind(v, t.String(), path)
		}
		if rv.OverflowInt(i) {
			return convertErr(path, "%d does not fit a %s", i, t)
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		i, ok := v.AsInt()
		if !ok {
			return wrongKind(v, t.String(), path)
		}
		if i < 0 || rv.OverflowUint(uint64(i)) {
			return convertErr(path, "%d does not fit a %s", i, t)
		}
		rv.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		f, err := floatOf(v)
		if err != nil {
			return wrongKind(v, t.String(), path)
		}
		rv.SetFloat(f)
	case reflect.String:
		s, ok := v.AsString()
		if !ok {
			return wrongKind(v, t.String(), path)
		}
		rv.SetString(s)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return convertErr(path, "cannot store a Value in the interface %s; use any or a concrete type", t)
		}
		x, err := toAny(v, path)
		if err != nil {
			return err
		}
		if x == nil {
			rv.SetZero()
		} else {
			rv.Set(reflect.ValueOf(x))
		}
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		if err := reflectUnmarshal(v, nv.Elem(), path); err != nil {
			return err
		}
		rv.Set(nv)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && (v.kind == KindBytes || v.kind == KindString) {
			b := reflect.MakeSlice(t, len(v.s), len(v.s))
			reflect.Copy(b, reflect.ValueOf([]byte(v.s)))
			rv.Set(b)
			return nil
		}
		if v.kind != KindList && v.kind != KindSet {
			return wrongKind(v, t.String(), path)
		}
		s := reflect.MakeSlice(t, len(v.c), len(v.c))
		for i, it := range v.c {
			if err := reflectUnmarshal(it, s.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		rv.Set(s)
	case reflect.Array:
		if v.kind != KindList && v.kind != KindSet {
			return wrongKind(v, t.String(), path)
		}
		if len(v.c) != t.Len() {
			return convertErr(path, "a %s holds %d items, the %s has %d", t, t.Len(), v.kind, len(v.c))
		}
		for i, it := range v.c {
			if err := reflectUnmarshal(it, rv.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.kind != KindMap {
			return wrongKind(v, t.String(), path)
		}
		m := reflect.MakeMapWithSize(t, v.Len())
		for i := 0; i < len(v.c); i += 2 {
			k := reflect.New(t.Key()).Elem()
			if err := reflectUnmarshal(v.c[i], k, path+"{"+v.c[i].String()+"}"); err != nil {
				return err
			}
			x := reflect.New(t.Elem()).Elem()
			if err := reflectUnmarshal(v.c[i+1], x, path+"["+v.c[i].String()+"]"); err != nil {
				return err
			}
			m.SetMapIndex(k, x)
		}
		rv.Set(m)
	case reflect.Struct:
		if t == reflect.TypeOf(Value{}) {
			rv.Set(reflect.ValueOf(v))
			return nil
		}
		return convertErr(path, "cannot store a Value in struct %s: implement squall.Unmarshaler on *%s (squall.Unpack helps)", t, t)
	default:
		return convertErr(path, "cannot store a Value in a %s", t)
	}
	return nil
}

// toAny returns the plain Go form of v (see [Unmarshal] into *any).
func toAny(v Value, path string) (any, error) {
	switch v.kind {
	case KindNil:
		return nil, nil
	case KindBool:
		return v.n == 1, nil
	case KindInt:
		return int64(v.n), nil
	case KindFloat:
		return math.Float64frombits(v.n), nil
	case KindString:
		return v.s, nil
	case KindBytes:
		return []byte(v.s), nil
	case KindList, KindSet:
		out := make([]any, len(v.c))
		for i, it := range v.c {
			x, err := toAny(it, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	allStrings := true
	for i := 0; i < len(v.c); i += 2 {
		allStrings = allStrings && v.c[i].kind == KindString
	}
	if allStrings {
		m := make(map[string]any, v.Len())
		for i := 0; i < len(v.c); i += 2 {
			x, err := toAny(v.c[i+1], path+"["+v.c[i].String()+"]")
			if err != nil {
				return nil, err
			}
			m[v.c[i].s] = x
		}
		return m, nil
	}
	m := make(map[any]any, v.Len())
	for i := 0; i < len(v.c); i += 2 {
		k := v.c[i]
		switch k.kind {
		case KindList, KindMap, KindSet, KindBytes:
			return nil, convertErr(path, "the map key %s has no comparable Go form; unmarshal into map[...]... of a Value-keyed form or read the squall.Value", k)
		}
		kx, _ := toAny(k, path)
		x, err := toAny(v.c[i+1], path+"["+k.String()+"]")
		if err != nil {
			return nil, err
		}
		m[kx] = x
	}
	return m, nil
}

// Unpack stores the fields of a record (a map with string keys) in the
// values the fields map points to, each with [Unmarshal]. A field that is
// absent stores the zero value; fields of v not named are ignored. It is
// the usual body of an UnmarshalSquall method:
//
//	func (f *Follow) UnmarshalSquall(v squall.Value) error {
//		return squall.Unpack(v, map[string]any{"from": &f.From, "to": &f.To})
//	}
func Unpack(v Value, fields map[string]any) error {
	if v.kind != KindMap && v.kind != KindNil {
		return wrongKind(v, "record (a map with string keys)", "")
	}
	// Fields are filled in name order (the first error is the same every
	// time); records are small, so the names are sorted on the stack.
	var buf [16]string
	names := buf[:0]
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := Unmarshal(v.Field(name), fields[name]); err != nil {
			return prefix(err, "["+strconv.Quote(name)+"]")
		}
	}
	return nil
}
