package storage

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/squall-run/squall/abi"
)

// ChangeKind says what a [Change] did.
type ChangeKind uint8

// Change kinds. Each names the finest change a transform made at one place;
// applying a transform's changes in order to the old value gives the new
// one (with intermediate maps created as needed).
const (
	// ChangeReplace: the value at Path became New (nil: it was removed from
	// a list item or a top-level leaf). Old is the value before when
	// OldKnown; writes that do not read (key+set on the top-level map, or a
	// record field) leave it unknown, so the key may also have been added.
	ChangeReplace ChangeKind = iota + 1
	// ChangeKeyAdd: the map key (or record field) that ends Path was absent
	// and now holds New.
	ChangeKeyAdd
	// ChangeKeyRemove: the map key (or record field) that ends Path was
	// removed; Old is its value when OldKnown. A remove that did not read
	// (key+remove on the top-level map) may report a key that was absent.
	ChangeKeyRemove
	// ChangeElemAdd: New was added to the set at Path.
	ChangeElemAdd
	// ChangeElemRemove: Old was removed from the set at Path.
	ChangeElemRemove
	// ChangeListInsert: New was inserted into a list at the index that ends
	// Path; later items moved up by one. An append inserts at the old size.
	ChangeListInsert
	// ChangeListRemove: the list item at the index that ends Path was
	// removed (Old, when OldKnown); later items moved down by one.
	ChangeListRemove
	// ChangeResync: the value at Path changed in a way the change list does
	// not describe (a subindexed collection moved to a new key); re-read it.
	ChangeResync
)

var changeNames = [...]string{"", "replace", "key-add", "key-remove", "elem-add", "elem-remove", "list-insert", "list-remove", "resync"}

// String returns the kind's name, e.g. "key-add".
func (k ChangeKind) String() string {
	if int(k) < len(changeNames) && k != 0 {
		return changeNames[k]
	}
	return "change(" + strconv.Itoa(int(k)) + ")"
}

// Change is one concrete change made by a transform, for reactive queries:
// where (Path, from the PState root: map keys, record field names as
// strings, list indexes as ints), what (Kind), and the values involved.
// Changes are reported in the order they were made. They are plain values
// owned by the caller.
type Change struct {
	Path     []abi.Value
	Kind     ChangeKind
	Old, New abi.Value
	// OldKnown says whether Old holds the value before the change (reads
	// that a transform did not need are not made just to fill it).
	OldKnown bool
}

// String renders the change for tests and logs:
//
//	key-add ["alice"] {"age": 3}
//	replace ["alice", "age"] 3 -> 4
//	key-remove ["bob"] (old unknown)
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(c.Kind.String())
	b.WriteString(" [")
	for i, p := range c.Path {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString("]")
	old := func() {
		if c.OldKnown {
			b.WriteString(" " + shortValue(c.Old))
		} else {
			b.WriteString(" (old unknown)")
		}
	}
	switch c.Kind {
	case ChangeReplace:
		old()
		b.WriteString(" -> " + shortValue(c.New))
	case ChangeKeyAdd, ChangeElemAdd, ChangeListInsert:
		b.WriteString(" " + shortValue(c.New))
	case ChangeKeyRemove, ChangeElemRemove, ChangeListRemove:
		old()
	}
	return b.String()
}

// PathError reports a path that could not be run: a navigator that does not
// apply to the data or schema it met, a value that does not match the
// schema, a key or value too large, or a storage failure. It names the
// PState, the step and where in the data the step was.
type PathError struct {
	PState string // "module/name"; empty for plain values
	Path   string // the whole path, as abi.Path.String renders it
	Step   int    // index of the failing step; -1 for the path as a whole
	Nav    string // the failing step, rendered
	At     string // the concrete location reached, e.g. $["alice"]["age"]
	Msg    string
	Err    error // the underlying error (a *SchemaError, ErrTooLarge, ...), if any
}

// Error renders the PState, the step, the place and the problem.
func (e *PathError) Error() string {
	var b strings.Builder
	b.WriteString("storage: ")
	if e.PState != "" {
		b.WriteString("pstate ")
		b.WriteString(e.PState)
		b.WriteString(": ")
	}
	if e.Step >= 0 {
		fmt.Fprintf(&b, "step %d %s", e.Step, e.Nav)
	} else {
		b.WriteString("path")
	}
	if e.At != "" {
		b.WriteString(" at ")
		b.WriteString(e.At)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Path != "" && e.Step >= 0 {
		b.WriteString(" (in path ")
		b.WriteString(e.Path)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }

// locString renders a concrete location: $ then [k] per step.
func locString(at []abi.Value) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, k := range at {
		b.WriteByte('[')
		b.WriteString(shortValue(k))
		b.WriteByte(']')
	}
	return b.String()
}

// MaxValueSize bounds one stored value blob (an inline value at one storage
// key) in its canonical encoding. Larger data belongs in a subindexed
// collection.
const MaxValueSize = 32 << 20

// MaxPathLen bounds the number of steps of a path.
const MaxPathLen = 256

// errTooLarge builds the error of an oversized key or value.
func errTooLarge(what string, size, limit int, fix string) error {
	return fmt.Errorf("%w: %s is %d bytes; the limit is %d bytes: %s", ErrTooLarge, what, size, limit, fix)
}

// navApplies checks, when the schema at the current place is known (not
// any), that navigator n can apply there. It returns a message or "".
func navApplies(s Schema, n abi.Nav) string {
	t := s.Type()
	if t == 0 || t == TypeAny {
		return ""
	}
	var ok bool
	var want string
	switch n.Op {
	case abi.OpKey, abi.OpMustKey:
		ok, want = t == TypeMap || t == TypeRecord || t == TypeSet, "maps, records and sets"
	case abi.OpMapVals, abi.OpMapKeys:
		ok, want = t == TypeMap || t == TypeRecord, "maps and records"
	case abi.OpAll, abi.OpFirst, abi.OpLast:
		ok, want = t == TypeMap || t == TypeRecord || t == TypeSet || t == TypeList, "maps, records, sets and lists"
	case abi.OpNth:
		ok, want = t == TypeList, "lists"
	case abi.OpSortedRange:
		ok, want = t == TypeMap || t == TypeSet, "maps and sets (sorted by key)"
	case abi.OpAppend:
		ok, want = t == TypeList || t == TypeSet, "lists and sets"
	case abi.OpPrepend:
		ok, want = t == TypeList, "lists"
	case abi.OpMerge:
		ok, want = t == TypeMap || t == TypeRecord, "maps and records"
	case abi.OpIncr:
		ok, want = t == TypeInt || t == TypeFloat, "ints and floats"
	default:
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("the schema says %s here; %s applies to %s", s, n.Op, want)
}

// navAppliesToKind is navApplies for the value found when the schema does
// not decide (any). It returns a message or "".
func navAppliesToKind(v abi.Value, n abi.Nav) string {
	k := v.Kind()
	if k == abi.KindNil {
		return ""
	}
	var ok bool
	var want string
	switch n.Op {
	case abi.OpKey, abi.OpMustKey:
		ok, want = k == abi.KindMap || k == abi.KindSet, "maps, records and sets"
	case abi.OpMapVals, abi.OpMapKeys:
		ok, want = k == abi.KindMap, "maps and records"
	case abi.OpAll, abi.OpFirst, abi.OpLast:
		ok, want = k == abi.KindMap || k == abi.KindSet || k == abi.KindList, "maps, records, sets and lists"
	case abi.OpNth:
		ok, want = k == abi.KindList, "lists"
	case abi.OpSortedRange:
		ok, want = k == abi.KindMap || k == abi.KindSet, "maps and sets"
	case abi.OpAppend:
		ok, want = k == abi.KindList || k == abi.KindSet, "lists and sets"
	case abi.OpPrepend:
		ok, want = k == abi.KindList, "lists"
	case abi.OpMerge:
		ok, want = k == abi.KindMap, "maps and records"
	case abi.OpIncr:
		ok, want = k == abi.KindInt || k == abi.KindFloat, "ints and floats"
	case abi.OpView:
		if n.View == abi.ViewSize {
			ok, want = k == abi.KindMap || k == abi.KindSet || k == abi.KindList, "maps, records, sets and lists (view(count) counts any value)"
		} else {
			ok = true
		}
	default:
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("found %s %s; %s applies to %s", k, shortValue(v), n.Op, want)
}

// childSchema returns the schema under key k of s (a map, record or set).
// The zero Schema means unchecked (any).
func childSchema(s Schema, k abi.Value, loc string) (Schema, *SchemaError) {
	switch s.Type() {
	case TypeMap:
		if err := checkKey(s.Key(), k, loc); err != nil {
			return Schema{}, err
		}
		return s.Val(), nil
	case TypeRecord:
		return recordField(s, k, loc)
	case TypeSet:
		if err := checkKey(s.Elem(), k, loc); err != nil {
			return Schema{}, err
		}
		return s.Elem(), nil
	case TypeList:
		return s.Elem(), nil
	}
	return Schema{}, nil
}

// valSchema is the schema of the values of a map or record at key k,
// without checking k (it came from the data).
func valSchema(s Schema, k abi.Value) Schema {
	switch s.Type() {
	case TypeMap:
		return s.Val()
	case TypeRecord:
		name, _ := k.AsString()
		fs, _ := s.Field(name)
		return fs
	case TypeSet, TypeList:
		return s.Elem()
	}
	return Schema{}
}

// keySchema is the schema of the keys of a map or record, or the elements
// of a set.
func keySchema(s Schema) Schema {
	switch s.Type() {
	case TypeMap:
		return s.Key()
	case TypeRecord:
		return Leaf(TypeString)
	case TypeSet:
		return s.Elem()
	}
	return Schema{}
}

// emptyOf returns the empty value of a collection schema (nil for leaves).
func emptyOf(s Schema) abi.Value {
	switch s.Type() {
	case TypeMap, TypeRecord:
		return abi.Map()
	case TypeSet:
		return abi.Set()
	case TypeList:
		return abi.List()
	}
	return abi.Nil()
}
