package abi

import (
	"math"
	"strconv"
	"strings"
)

// A Path is a sequence of navigators, Specter style: each step navigates
// from every value the previous steps reached to zero or more values, and a
// transform ends with one terminal step that rewrites what the path reached.
// The same paths read and write plain values, local PState partitions and,
// through the API, remote ones.
//
// Build paths with the methods of Path, starting from [P] (or the zero
// Path):
//
//	abi.P().Key(abi.String("alice")).SortedRange(abi.Int(10), abi.Int(20), abi.RangeOpts{}).View(abi.ViewCount)
//	abi.P().Key(abi.String("alice")).Key(abi.String("visits")).Incr(1)
//
// Each method returns a new Path and never modifies the receiver's backing
// array, so a common prefix may be extended several ways. Paths are values:
// they may be shared between goroutines as long as nobody writes to their
// elements.
//
// A path crosses the ABI and the API as a [Value] (see [Path.Value] and
// [ParsePath]): a list of steps, each a list [opcode, args...] with the
// opcodes of [Op].
type Path []Nav

// Op is the opcode of a path step. The numbers are part of the guest ABI
// (ABI-NOTES §8.5) and of the public API; never renumber. Navigators are
// below 32, terminals from 32.
type Op uint8

// Navigators. The Value form of each step follows its name.
const (
	// OpKey navigates to the value under a map key or record field (nil when
	// absent; transforms create it), or to a set element when present. [1, k]
	OpKey Op = 1
	// OpMustKey is OpKey that navigates nowhere when the key is absent. [2, k]
	OpMustKey Op = 2
	// OpMapVals navigates to every value of a map. [3]
	OpMapVals Op = 3
	// OpAll navigates to every item of a list, element of a set, or entry
	// of a map as a [key, value] list. [4]
	OpAll Op = 4
	// OpFirst navigates to the first item, element or entry. [5]
	OpFirst Op = 5
	// OpLast navigates to the last item, element or entry. [6]
	OpLast Op = 6
	// OpNth navigates to a list item by index; negative counts from the end.
	// [7, i]
	OpNth Op = 7
	// OpSortedRange navigates to the sub-map or sub-set of the keys in a
	// range. [8, from, to] or [8, from, to, opts-map]
	OpSortedRange Op = 8
	// OpFilter stays at the current value when it passes a comparison, and
	// navigates nowhere otherwise. [9, op, v] or [9, "exists"]
	OpFilter Op = 9
	// OpNilToVal navigates to a replacement value when the current value is
	// nil. [10, v]
	OpNilToVal Op = 10
	// OpView navigates to a value computed from the current one (read-only).
	// [11, fn]
	OpView Op = 11
	// OpMapKeys navigates to every key of a map. [12]
	OpMapKeys Op = 12
)

// Terminals (transforms only; always the last step).
const (
	// OpSet replaces the value. Setting nil in a map or set removes the
	// entry. [32, v]
	OpSet Op = 32
	// OpIncr adds an int or float to a number (nil counts as 0). [33, n]
	OpIncr Op = 33
	// OpAppend adds items at the end of a list, or elements to a set.
	// [34, v...]
	OpAppend Op = 34
	// OpPrepend adds items at the start of a list. [35, v...]
	OpPrepend Op = 35
	// OpRemove removes the navigated entry, element or item from its
	// collection. [36]
	OpRemove Op = 36
	// OpMerge sets every key of a map into the current map. [37, m]
	OpMerge Op = 37
)

var opNames = map[Op]string{
	OpKey: "key", OpMustKey: "mustKey", OpMapVals: "mapVals", OpAll: "all",
	OpFirst: "first", OpLast: "last", OpNth: "nth", OpSortedRange: "sortedRange",
	OpFilter: "filter", OpNilToVal: "nilToVal", OpView: "view", OpMapKeys: "mapKeys",
	OpSet: "set", OpIncr: "incr", OpAppend: "append", OpPrepend: "prepend",
	OpRemove: "remove", OpMerge: "merge",
}

// String returns the navigator's name as it appears in [Path.String].
func (op Op) String() string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}

// IsTerminal reports whether op is a terminal (a transform's last step).
func (op Op) IsTerminal() bool { return op >= 32 }

// FilterOp is the comparison of a filter step.
type FilterOp uint8

// Filter comparisons. Ordered comparisons (lt, le, gt, ge) match only values
// comparable with the operand: two numbers (ints and floats compare
// numerically) or two values of the same kind (compared by [Compare]).
// Eq and ne compare numbers numerically and everything else with [Equal].
// Exists matches every non-nil value and takes no operand.
const (
	FilterEq FilterOp = iota + 1
	FilterNe
	FilterLt
	FilterLe
	FilterGt
	FilterGe
	FilterExists
)

var filterNames = [...]string{"", "eq", "ne", "lt", "le", "gt", "ge", "exists"}

// String returns the comparison's name: eq, ne, lt, le, gt, ge or exists.
func (op FilterOp) String() string {
	if op >= FilterEq && op <= FilterExists {
		return filterNames[op]
	}
	return "filterOp(" + strconv.Itoa(int(op)) + ")"
}

// Match reports whether v passes the comparison with operand arg.
func (op FilterOp) Match(v, arg Value) bool {
	if op == FilterExists {
		return !v.IsNil()
	}
	c, ok := compareForFilter(v, arg)
	switch op {
	case FilterEq:
		return ok && c == 0
	case FilterNe:
		return !ok || c != 0
	case FilterLt:
		return ok && c < 0
	case FilterLe:
		return ok && c <= 0
	case FilterGt:
		return ok && c > 0
	case FilterGe:
		return ok && c >= 0
	}
	return false
}

// compareForFilter compares numbers numerically and values of one kind by
// Compare; ok is false for values of different, non-numeric kinds.
func compareForFilter(a, b Value) (c int, ok bool) {
	ai, aInt := a.AsInt()
	bi, bInt := b.AsInt()
	af, aFloat := a.AsFloat()
	bf, bFloat := b.AsFloat()
	switch {
	case aInt && bFloat:
		return compareIntFloat(ai, bf)
	case aFloat && bInt:
		c, ok := compareIntFloat(bi, af)
		return -c, ok
	case aFloat && bFloat:
		if math.IsNaN(af) || math.IsNaN(bf) {
			return 0, math.IsNaN(af) && math.IsNaN(bf)
		}
		switch {
		case af < bf:
			return -1, true
		case af > bf:
			return 1, true
		}
		return 0, true // -0.0 equals 0.0 numerically
	}
	if a.Kind() != b.Kind() {
		return 0, false
	}
	return Compare(a, b), true
}

// compareIntFloat compares an int with a float exactly; NaN compares with
// nothing.
func compareIntFloat(i int64, f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= 0x1p63:
		return -1, true
	case f < -0x1p63:
		return 1, true
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case i < ti:
		return -1, true
	case i > ti:
		return 1, true
	case f > t:
		return -1, true
	case f < t:
		return 1, true
	}
	return 0, true
}

// ViewFn is the function of a view step.
type ViewFn uint8

// View functions.
const (
	// ViewSize is the number of entries of a map, elements of a set or items
	// of a list; 0 for nil. Other values are an error. It is O(1) on
	// subindexed PState collections.
	ViewSize ViewFn = iota + 1
	// ViewCount is like ViewSize but never fails: 0 for nil, the size of a
	// collection, 1 for any other value.
	ViewCount
)

var viewNames = [...]string{"", "size", "count"}

// String returns the function's name: size or count.
func (f ViewFn) String() string {
	if f >= ViewSize && f <= ViewCount {
		return viewNames[f]
	}
	return "viewFn(" + strconv.Itoa(int(f)) + ")"
}

// RangeOpts are the options of a sorted range. The zero value is Rama's
// default: From inclusive, To exclusive, no limit, ascending.
type RangeOpts struct {
	// ExcludeFrom leaves the From key out of the range.
	ExcludeFrom bool
	// IncludeTo puts the To key in the range.
	IncludeTo bool
	// Limit, when positive, keeps only the first Limit keys of the range
	// (the last Limit when Reverse is set). Zero means no limit.
	Limit int
	// Reverse walks the range from its high end: the limit applies there,
	// and all, mapVals, mapKeys, first and last that follow the range see
	// it in descending order.
	Reverse bool
}

// Nav is one step of a [Path]. Which fields matter depends on Op; the others
// are zero. Prefer the builder methods of [Path] to filling a Nav by hand,
// and [Path.Validate] a hand-made one.
type Nav struct {
	Op Op
	// Arg is the key of OpKey and OpMustKey, the operand of OpFilter, the
	// replacement of OpNilToVal, the value of OpSet, the amount of OpIncr
	// (an int or a float) and the map of OpMerge.
	Arg Value
	// Items are the values of OpAppend and OpPrepend.
	Items []Value
	// Index is the list index of OpNth; negative counts from the end (-1 is
	// the last item).
	Index int64
	// From and To bound OpSortedRange; nil is an open bound (nil sorts
	// before every other value, so a nil From is the start).
	From, To Value
	// Range holds the options of OpSortedRange.
	Range RangeOpts
	// Filter is the comparison of OpFilter.
	Filter FilterOp
	// View is the function of OpView.
	View ViewFn
}

// P returns the empty path, to extend with the builder methods:
// abi.P().Key(k).MapVals(). The empty path navigates to the root.
func P() Path { return nil }

func (p Path) with(n Nav) Path { return append(p[:len(p):len(p)], n) }

// Key navigates to the value under map key (or record field) k.
func (p Path) Key(k Value) Path { return p.with(Nav{Op: OpKey, Arg: k}) }

// MustKey navigates to the value under k only when k is present.
func (p Path) MustKey(k Value) Path { return p.with(Nav{Op: OpMustKey, Arg: k}) }

// MapVals navigates to every value of a map.
func (p Path) MapVals() Path { return p.with(Nav{Op: OpMapVals}) }

// MapKeys navigates to every key of a map.
func (p Path) MapKeys() Path { return p.with(Nav{Op: OpMapKeys}) }

// All navigates to every list item, set element, or map entry ([k, v]).
func (p Path) All() Path { return p.with(Nav{Op: OpAll}) }

// First navigates to the first item, element or entry.
func (p Path) First() Path { return p.with(Nav{Op: OpFirst}) }

// Last navigates to the last item, element or entry.
func (p Path) Last() Path { return p.with(Nav{Op: OpLast}) }

// Nth navigates to list item i (negative counts from the end).
func (p Path) Nth(i int64) Path { return p.with(Nav{Op: OpNth, Index: i}) }

// SortedRange navigates to the sub-map (or sub-set) of the keys between from
// and to; nil bounds are open.
func (p Path) SortedRange(from, to Value, opts RangeOpts) Path {
	return p.with(Nav{Op: OpSortedRange, From: from, To: to, Range: opts})
}

// Filter stays at the current value when op matches it against v.
func (p Path) Filter(op FilterOp, v Value) Path {
	return p.with(Nav{Op: OpFilter, Filter: op, Arg: v})
}

// NilToVal navigates to v when the current value is nil.
func (p Path) NilToVal(v Value) Path { return p.with(Nav{Op: OpNilToVal, Arg: v}) }

// View navigates to fn applied to the current value.
func (p Path) View(fn ViewFn) Path { return p.with(Nav{Op: OpView, View: fn}) }

// Set is the terminal that replaces the value with v.
func (p Path) Set(v Value) Path { return p.with(Nav{Op: OpSet, Arg: v}) }

// Remove is the terminal that removes the navigated entry, element or item.
func (p Path) Remove() Path { return p.with(Nav{Op: OpRemove}) }

// Incr is the terminal that adds n to a number (nil counts as 0).
func (p Path) Incr(n int64) Path { return p.with(Nav{Op: OpIncr, Arg: Int(n)}) }

// IncrFloat is the terminal that adds f to a number; the result is a float.
func (p Path) IncrFloat(f float64) Path { return p.with(Nav{Op: OpIncr, Arg: Float(f)}) }

// Append is the terminal that adds vs at the end of a list, or to a set.
func (p Path) Append(vs ...Value) Path {
	return p.with(Nav{Op: OpAppend, Items: vs})
}

// Prepend is the terminal that adds vs, in order, at the start of a list.
func (p Path) Prepend(vs ...Value) Path {
	return p.with(Nav{Op: OpPrepend, Items: vs})
}

// Merge is the terminal that sets every key of map m into the current map.
func (p Path) Merge(m Value) Path { return p.with(Nav{Op: OpMerge, Arg: m}) }

// PathError reports a malformed path (from [ParsePath] or [Path.Validate]).
// Step is the index of the offending step, or -1 for the path as a whole.
type PathError struct {
	Step int
	Nav  string // the step as written by Nav.String, when it could be read
	Msg  string
}

// Error renders the problem with the step index and the step.
func (e *PathError) Error() string {
	var b strings.Builder
	b.WriteString("abi: path")
	if e.Step >= 0 {
		b.WriteString(" step ")
		b.WriteString(strconv.Itoa(e.Step))
		if e.Nav != "" {
			b.WriteString(" (")
			b.WriteString(e.Nav)
			b.WriteString(")")
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Mode says what a path is used for.
type Mode uint8

const (
	// ModeSelect paths read: they have no terminal step.
	ModeSelect Mode = iota + 1
	// ModeTransform paths write: they end with exactly one terminal step and
	// have no view step.
	ModeTransform
)

// Validate checks the structure of p for use in mode: the arguments of
// every step, and where terminals and views may appear. It does not look at
// any data or schema.
func (p Path) Validate(mode Mode) error {
	for i, n := range p {
		if err := n.validate(); err != nil {
			return &PathError{Step: i, Nav: n.String(), Msg: err.Error()}
		}
		if n.Op.IsTerminal() {
			if mode == ModeSelect {
				return &PathError{Step: i, Nav: n.String(), Msg: "a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms"}
			}
			if i != len(p)-1 {
				return &PathError{Step: i, Nav: n.String(), Msg: "a terminal must be the last step of a path; " + strconv.Itoa(len(p)-1-i) + " step(s) follow it"}
			}
		}
		if n.Op == OpView && mode == ModeTransform {
			return &PathError{Step: i, Nav: n.String(), Msg: "view is read-only and cannot appear in a transform; select the value, compute, then transform"}
		}
	}
	if mode == ModeTransform && (len(p) == 0 || !p[len(p)-1].Op.IsTerminal()) {
		return &PathError{Step: -1, Msg: "a transform path must end with a terminal (set, remove, incr, append, prepend or merge)"}
	}
	return nil
}

type msgError string

func (e msgError) Error() string { return string(e) }

// validate checks the arguments of one step.
func (n Nav) validate() error {
	switch n.Op {
	case OpKey, OpMustKey, OpMapVals, OpMapKeys, OpAll, OpFirst, OpLast, OpNth,
		OpNilToVal, OpSet, OpRemove, OpAppend, OpPrepend:
	case OpSortedRange:
		if n.Range.Limit < 0 {
			return msgError("limit must be 0 (no limit) or positive, not " + strconv.Itoa(n.Range.Limit))
		}
	case OpFilter:
		if n.Filter < FilterEq || n.Filter > FilterExists {
			return msgError("unknown filter comparison " + n.Filter.String() + "; use eq, ne, lt, le, gt, ge or exists")
		}
	case OpView:
		if n.View < ViewSize || n.View > ViewCount {
			return msgError("unknown view function " + n.View.String() + "; use size or count")
		}
	case OpIncr:
		if k := n.Arg.Kind(); k != KindInt && k != KindFloat {
			return msgError("incr needs an int or float amount, not " + k.String())
		}
	case OpMerge:
		if k := n.Arg.Kind(); k != KindMap && k != KindNil {
			return msgError("merge needs a map, not " + k.String())
		}
	default:
		return msgError("unknown opcode " + strconv.Itoa(int(n.Op)))
	}
	return nil
}

// String renders p for messages, one navigator after another separated by
// dots: key("alice").sortedRange(10, 20).view(count). The empty path is "".
func (p Path) String() string {
	var b strings.Builder
	for i, n := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		n.appendText(&b)
	}
	return b.String()
}

// String renders one step, as in [Path.String].
func (n Nav) String() string {
	var b strings.Builder
	n.appendText(&b)
	return b.String()
}

func (n Nav) appendText(b *strings.Builder) {
	b.WriteString(n.Op.String())
	b.WriteByte('(')
	switch n.Op {
	case OpKey, OpMustKey, OpNilToVal, OpSet, OpIncr, OpMerge:
		b.WriteString(n.Arg.String())
	case OpNth:
		b.WriteString(strconv.FormatInt(n.Index, 10))
	case OpSortedRange:
		writeBound(b, n.From)
		b.WriteString(", ")
		writeBound(b, n.To)
		if n.Range.ExcludeFrom {
			b.WriteString(", excludeFrom")
		}
		if n.Range.IncludeTo {
			b.WriteString(", includeTo")
		}
		if n.Range.Limit != 0 {
			b.WriteString(", limit=")
			b.WriteString(strconv.Itoa(n.Range.Limit))
		}
		if n.Range.Reverse {
			b.WriteString(", reverse")
		}
	case OpFilter:
		b.WriteString(n.Filter.String())
		if n.Filter != FilterExists {
			b.WriteString(", ")
			b.WriteString(n.Arg.String())
		}
	case OpView:
		b.WriteString(n.View.String())
	case OpAppend, OpPrepend:
		for i, v := range n.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.String())
		}
	}
	b.WriteByte(')')
}

func writeBound(b *strings.Builder, v Value) {
	if v.IsNil() {
		b.WriteString("open")
		return
	}
	b.WriteString(v.String())
}

// Range option keys in the Value form of a sorted range.
const (
	rangeOptExcludeFrom = "excludeFrom"
	rangeOptIncludeTo   = "includeTo"
	rangeOptLimit       = "limit"
	rangeOptReverse     = "reverse"
)

// Value returns the Value form of p: a list of steps, each a list whose
// first item is the int opcode followed by the step's arguments (see the
// constants of [Op]). Filter comparisons and view functions are strings
// ("gt", "size"); sorted-range options are a map with the keys
// "excludeFrom", "includeTo", "reverse" (bools) and "limit" (int), present
// only when not zero and the map itself only when some option is set.
// [ParsePath] reads it back.
func (p Path) Value() Value {
	steps := make([]Value, len(p))
	for i, n := range p {
		steps[i] = n.Value()
	}
	return List(steps...)
}

// Value returns the Value form of one step; see [Path.Value].
func (n Nav) Value() Value {
	op := Int(int64(n.Op))
	switch n.Op {
	case OpKey, OpMustKey, OpNilToVal, OpSet, OpIncr, OpMerge:
		return List(op, n.Arg)
	case OpNth:
		return List(op, Int(n.Index))
	case OpSortedRange:
		var opts []MapEntry
		if n.Range.ExcludeFrom {
			opts = append(opts, MapEntry{String(rangeOptExcludeFrom), Bool(true)})
		}
		if n.Range.IncludeTo {
			opts = append(opts, MapEntry{String(rangeOptIncludeTo), Bool(true)})
		}
		if n.Range.Limit != 0 {
			opts = append(opts, MapEntry{String(rangeOptLimit), Int(int64(n.Range.Limit))})
		}
		if n.Range.Reverse {
			opts = append(opts, MapEntry{String(rangeOptReverse), Bool(true)})
		}
		if len(opts) == 0 {
			return List(op, n.From, n.To)
		}
		return List(op, n.From, n.To, Map(opts...))
	case OpFilter:
		if n.Filter == FilterExists {
			return List(op, String(n.Filter.String()))
		}
		return List(op, String(n.Filter.String()), n.Arg)
	case OpView:
		return List(op, String(n.View.String()))
	case OpAppend, OpPrepend:
		items := make([]Value, 0, 1+len(n.Items))
		items = append(items, op)
		items = append(items, n.Items...)
		return List(items...)
	}
	return List(op)
}

// ParsePath reads the Value form of a path (see [Path.Value]). It checks
// each step's opcode and arguments, not where terminals appear: call
// [Path.Validate] for that. Errors are [*PathError]s naming the step.
func ParsePath(v Value) (Path, error) {
	if v.Kind() != KindList {
		return nil, &PathError{Step: -1, Msg: "a path is a list of steps, not " + v.Kind().String()}
	}
	steps := v.Items()
	p := make(Path, 0, len(steps))
	for i, s := range steps {
		n, err := parseNav(s)
		if err != nil {
			return nil, &PathError{Step: i, Msg: err.Error()}
		}
		p = append(p, n)
	}
	return p, nil
}

func parseNav(s Value) (Nav, error) {
	if s.Kind() != KindList || s.Len() == 0 {
		return Nav{}, msgError("a step is a non-empty list [opcode, args...], not " + s.String())
	}
	items := s.Items()
	code, ok := items[0].AsInt()
	if !ok {
		return Nav{}, msgError("the opcode must be an int, not " + items[0].Kind().String())
	}
	if code < 0 || code > 255 || opNames[Op(code)] == "" {
		return Nav{}, msgError("unknown opcode " + strconv.FormatInt(code, 10))
	}
	n := Nav{Op: Op(code)}
	args := items[1:]
	want := func(counts ...int) error {
		for _, c := range counts {
			if len(args) == c {
				return nil
			}
		}
		var w string
		for i, c := range counts {
			if i > 0 {
				w += " or "
			}
			w += strconv.Itoa(c)
		}
		return msgError(n.Op.String() + " takes " + w + " argument(s), got " + strconv.Itoa(len(args)))
	}
	switch n.Op {
	case OpKey, OpMustKey, OpNilToVal, OpSet, OpIncr, OpMerge:
		if err := want(1); err != nil {
			return Nav{}, err
		}
		n.Arg = args[0]
	case OpMapVals, OpMapKeys, OpAll, OpFirst, OpLast, OpRemove:
		if err := want(0); err != nil {
			return Nav{}, err
		}
	case OpNth:
		if err := want(1); err != nil {
			return Nav{}, err
		}
		i, ok := args[0].AsInt()
		if !ok {
			return Nav{}, msgError("nth needs an int index, not " + args[0].Kind().String())
		}
		n.Index = i
	case OpSortedRange:
		if err := want(2, 3); err != nil {
			return Nav{}, err
		}
		n.From, n.To = args[0], args[1]
		if len(args) == 3 {
			opts, err := parseRangeOpts(args[2])
			if err != nil {
				return Nav{}, err
			}
			n.Range = opts
		}
	case OpFilter:
		if len(args) == 0 {
			return Nav{}, want(1, 2)
		}
		name, _ := args[0].AsString()
		for i := FilterEq; i <= FilterExists; i++ {
			if filterNames[i] == name {
				n.Filter = i
			}
		}
		if n.Filter == 0 {
			return Nav{}, msgError("unknown filter comparison " + args[0].String() + "; use \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or \"exists\"")
		}
		switch {
		case n.Filter == FilterExists:
			if err := want(1); err != nil {
				return Nav{}, msgError("filter exists takes no operand")
			}
		case len(args) != 2:
			return Nav{}, msgError("filter " + name + " takes an operand: [9, \"" + name + "\", v]")
		default:
			n.Arg = args[1]
		}
	case OpView:
		if err := want(1); err != nil {
			return Nav{}, err
		}
		name, _ := args[0].AsString()
		for i := ViewSize; i <= ViewCount; i++ {
			if viewNames[i] == name {
				n.View = i
			}
		}
		if n.View == 0 {
			return Nav{}, msgError("unknown view function " + args[0].String() + "; use \"size\" or \"count\"")
		}
	case OpAppend, OpPrepend:
		n.Items = args
	}
	if err := n.validate(); err != nil {
		return Nav{}, err
	}
	return n, nil
}

func parseRangeOpts(v Value) (RangeOpts, error) {
	var o RangeOpts
	if v.Kind() != KindMap {
		return o, msgError("sortedRange options must be a map, not " + v.Kind().String())
	}
	for _, e := range v.Entries() {
		name, _ := e.Key.AsString()
		switch name {
		case rangeOptExcludeFrom, rangeOptIncludeTo, rangeOptReverse:
			b, ok := e.Val.AsBool()
			if !ok {
				return o, msgError("sortedRange option " + name + " must be a bool, not " + e.Val.Kind().String())
			}
			switch name {
			case rangeOptExcludeFrom:
				o.ExcludeFrom = b
			case rangeOptIncludeTo:
				o.IncludeTo = b
			default:
				o.Reverse = b
			}
		case rangeOptLimit:
			l, ok := e.Val.AsInt()
			if !ok || l < 0 || l > math.MaxInt32 {
				return o, msgError("sortedRange option limit must be an int from 0 to 2147483647, not " + e.Val.String())
			}
			o.Limit = int(l)
		default:
			return o, msgError("unknown sortedRange option " + e.Key.String() + "; use \"excludeFrom\", \"includeTo\", \"limit\" or \"reverse\"")
		}
	}
	return o, nil
}
