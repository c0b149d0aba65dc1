package squall

import (
	"strconv"
	"strings"
)

// A Path navigates into a PState (or a record), Specter style: each step
// goes from every value the previous steps reached to zero or more values.
// A select path reads what it reaches; a transform path ends with one
// terminal step (Set, Incr, Append, Prepend, Remove, Merge) that rewrites
// it. Paths run in the host, next to the data.
//
// Build paths from [P] (or [Key]) with the methods below; each returns a
// new Path and never changes its receiver, so a prefix can be extended
// several ways:
//
//	squall.P().Key("alice").SortedRange(10, 20).View(squall.ViewCount)
//	squall.Key("alice").Key("visits").Incr(1)
//
// Arguments of type any are converted with [ValueOf]. A conversion error
// is kept in the path and reported by [Path.Err] and by the Ctx method that
// uses the path.
type Path struct {
	// last is the last step; each step links to the one before it, so
	// extending a path allocates one step and shares the prefix, which
	// is never modified.
	last *pathNode
	err  error
}

// pathNode is one step of a path and the steps before it.
type pathNode struct {
	prev *pathNode
	n    int // the number of steps up to and including this one
	step
}

// Path opcodes (the ABI's numbering: navigators below 32, terminals from
// 32).
type pathOp uint8

const (
	opKey         pathOp = 1
	opMustKey     pathOp = 2
	opMapVals     pathOp = 3
	opAll         pathOp = 4
	opFirst       pathOp = 5
	opLast        pathOp = 6
	opNth         pathOp = 7
	opSortedRange pathOp = 8
	opFilter      pathOp = 9
	opNilToVal    pathOp = 10
	opView        pathOp = 11
	opMapKeys     pathOp = 12
	opSet         pathOp = 32
	opIncr        pathOp = 33
	opAppend      pathOp = 34
	opPrepend     pathOp = 35
	opRemove      pathOp = 36
	opMerge       pathOp = 37
)

var opNames = map[pathOp]string{
	opKey: "key", opMustKey: "mustKey", opMapVals: "mapVals", opAll: "all", opFirst: "first",
	opLast: "last", opNth: "nth", opSortedRange: "sortedRange", opFilter: "filter",
	opNilToVal: "nilToVal", opView: "view", opMapKeys: "mapKeys", opSet: "set", opIncr: "incr",
	opAppend: "append", opPrepend: "prepend", opRemove: "remove", opMerge: "merge",
}

func (op pathOp) terminal() bool { return op >= 32 }

// FilterOp is the comparison of a [Path.Filter] step.
type FilterOp uint8

// Filter comparisons. Ordered comparisons match only values comparable
// with the operand: two numbers (ints and floats compare numerically) or
// two values of the same kind (in [Compare] order). Eq and Ne compare
// numbers numerically and other values with [Equal].
const (
	Eq FilterOp = iota + 1
	Ne
	Lt
	Le
	Gt
	Ge
	exists
)

var filterNames = [...]string{"", "eq", "ne", "lt", "le", "gt", "ge", "exists"}

// String returns eq, ne, lt, le, gt, ge or exists.
func (op FilterOp) String() string {
	if op >= Eq && op <= exists {
		return filterNames[op]
	}
	return "filterOp(" + strconv.Itoa(int(op)) + ")"
}

// ViewFn is the function of a [Path.View] step.
type ViewFn uint8

// View functions.
const (
	// ViewSize is the number of entries, elements or items of a map, set or
	// list (0 for nil); other values are an error. It is O(1) on subindexed
	// collections.
	ViewSize ViewFn = iota + 1
	// ViewCount is ViewSize that never fails: 0 for nil, the size of a
	// collection, 1 for any other value.
	ViewCount
)

var viewNames = [...]string{"", "size", "count"}

// String returns size or count.
func (f ViewFn) String() string {
	if f >= ViewSize && f <= ViewCount {
		return viewNames[f]
	}
	return "viewFn(" + strconv.Itoa(int(f)) + ")"
}

// RangeOpts are the options of [Path.SortedRangeWith]. The zero value is
// the default: From inclusive, To exclusive, no limit, ascending.
type RangeOpts struct {
	// ExcludeFrom leaves the From key out of the range.
	ExcludeFrom bool
	// IncludeTo puts the To key in the range.
	IncludeTo bool
	// Limit, when positive, keeps the first Limit keys of the range (the
	// last Limit when Reverse is set).
	Limit int
	// Reverse walks the range from its high end: all, mapVals, mapKeys,
	// first and last after it see the keys in descending order.
	Reverse bool
}

type step struct {
	op     pathOp
	filter FilterOp
	view   ViewFn
	index  int64
	arg    Value    // key, mustKey, nilToVal, set, incr, merge, filter operand
	ext    *stepExt // sortedRange, append, prepend
}

// stepExt holds the arguments of the less common steps.
type stepExt struct {
	items    []Value
	from, to Value
	opts     RangeOpts
}

// P returns the empty path, which navigates to the root. Extend it with the
// methods of Path.
func P() Path { return Path{} }

// Key returns the path of one key step: P().Key(k).
func Key(k any) Path { return P().Key(k) }

func (p Path) with(s step) Path {
	nd := newPathNode()
	*nd = pathNode{prev: p.last, n: p.Len() + 1, step: s}
	return Path{last: nd, err: p.err}
}

// push is with for a step the caller fills in place: the new path and its
// node, whose step is zero but for op (newPathNode returns zero nodes).
// Key and Incr, the steps of most transforms, avoid with's copies of a
// step, memmove calls in Go's wasm code.
func (p Path) push(op pathOp) (Path, *pathNode) {
	nd := newPathNode()
	nd.prev, nd.n, nd.op = p.last, p.Len()+1, op
	return Path{last: nd, err: p.err}, nd
}

// steps returns the steps in order.
func (p Path) steps() []step {
	out := make([]step, p.Len())
	for nd := p.last; nd != nil; nd = nd.prev {
		out[nd.n-1] = nd.step
	}
	return out
}

// conv converts a step argument, keeping the first error in the path.
func (p *Path) conv(x any, what string) Value {
	v, err := ValueOf(x)
	if err != nil && p.err == nil {
		p.err = &PathError{Step: p.Len(), Nav: what, Msg: strings.TrimPrefix(err.Error(), "squall: "), Err: err}
	}
	return v
}

// convLast is conv for the argument of the last step, stored in place.
func (p *Path) convLast(x any, what string) {
	if err := valueOfInto(&p.last.arg, x); err != nil && p.err == nil {
		p.err = &PathError{Step: p.Len() - 1, Nav: what, Msg: strings.TrimPrefix(err.Error(), "squall: "), Err: err}
	}
}

// PathError reports a malformed path: a step argument that could not be
// converted to a [Value], a step after a terminal, or (from [ParsePath] and
// [Path.Validate]) a step that is wrong for its use. Step is the index of
// the step, or -1 for the path as a whole.
type PathError struct {
	Step int
	Nav  string // the step, as Path.String renders it, when known
	Msg  string
	Err  error // the underlying error, if any
}

func (e *PathError) Error() string {
	s := "squall: path"
	if e.Step >= 0 {
		s += " step " + strconv.Itoa(e.Step)
		if e.Nav != "" {
			s += " (" + e.Nav + ")"
		}
	}
	return s + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *PathError) Unwrap() error { return e.Err }

// Err returns the first error met while building the path: an argument
// that could not be converted, or an argument out of range. Where
// terminals appear is checked by [Path.Validate].
func (p Path) Err() error { return p.err }

// Len returns the number of steps.
func (p Path) Len() int {
	if p.last == nil {
		return 0
	}
	return p.last.n
}

// Key navigates to the value under map key (or record field) k: nil when
// absent, created by transforms. On a set it navigates to the element k
// when present.
func (p Path) Key(k any) Path {
	q, _ := p.push(opKey)
	q.convLast(k, "key")
	return q
}

// MustKey is Key that navigates nowhere when k is absent.
func (p Path) MustKey(k any) Path {
	v := p.conv(k, "mustKey")
	return p.with(step{op: opMustKey, arg: v})
}

// MapVals navigates to every value of a map.
func (p Path) MapVals() Path { return p.with(step{op: opMapVals}) }

// MapKeys navigates to every key of a map.
func (p Path) MapKeys() Path { return p.with(step{op: opMapKeys}) }

// All navigates to every item of a list, element of a set, or entry of a
// map as a [key, value] list.
func (p Path) All() Path { return p.with(step{op: opAll}) }

// First navigates to the first item, element or entry.
func (p Path) First() Path { return p.with(step{op: opFirst}) }

// Last navigates to the last item, element or entry.
func (p Path) Last() Path { return p.with(step{op: opLast}) }

// Nth navigates to list item i; negative i counts from the end.
func (p Path) Nth(i int) Path { return p.with(step{op: opNth, index: int64(i)}) }

// SortedRange navigates to the sub-map (or sub-set) of the keys from from
// (inclusive) to to (exclusive) in [Compare] order; a nil bound is open.
func (p Path) SortedRange(from, to any) Path {
	return p.SortedRangeWith(from, to, RangeOpts{})
}

// SortedRangeWith is SortedRange with options.
func (p Path) SortedRangeWith(from, to any, opts RangeOpts) Path {
	f, t := p.conv(from, "sortedRange from"), p.conv(to, "sortedRange to")
	if opts.Limit < 0 && p.err == nil {
		p.err = &PathError{Step: p.Len(), Nav: "sortedRange", Msg: "limit must be 0 (no limit) or positive, not " + strconv.Itoa(opts.Limit)}
	}
	return p.with(step{op: opSortedRange, ext: &stepExt{from: f, to: t, opts: opts}})
}

// Filter stays at the current value when op compares it true with v, and
// navigates nowhere otherwise.
func (p Path) Filter(op FilterOp, v any) Path {
	if (op < Eq || op > Ge) && p.err == nil {
		p.err = &PathError{Step: p.Len(), Nav: "filter", Msg: "unknown filter comparison " + op.String() + "; use Eq, Ne, Lt, Le, Gt or Ge"}
	}
	arg := p.conv(v, "filter")
	return p.with(step{op: opFilter, filter: op, arg: arg})
}

// FilterExists stays at the current value when it is not nil.
func (p Path) FilterExists() Path { return p.with(step{op: opFilter, filter: exists}) }

// NilToVal navigates to v when the current value is nil, and stays
// otherwise: P().Key(k).NilToVal(0).Incr(1) counts from 0.
func (p Path) NilToVal(v any) Path {
	arg := p.conv(v, "nilToVal")
	return p.with(step{op: opNilToVal, arg: arg})
}

// View navigates to fn of the current value (read-only: select paths only).
func (p Path) View(fn ViewFn) Path {
	if (fn < ViewSize || fn > ViewCount) && p.err == nil {
		p.err = &PathError{Step: p.Len(), Nav: "view", Msg: "unknown view function " + fn.String() + "; use ViewSize or ViewCount"}
	}
	return p.with(step{op: opView, view: fn})
}

// Set is the terminal that replaces the value with v. Setting nil removes
// a map entry.
func (p Path) Set(v any) Path {
	arg := p.conv(v, "set")
	return p.with(step{op: opSet, arg: arg})
}

// Remove is the terminal that removes the navigated entry, element or item
// from its collection.
func (p Path) Remove() Path { return p.with(step{op: opRemove}) }

// Incr is the terminal that adds n to a number (nil counts as 0).
func (p Path) Incr(n int64) Path {
	q, nd := p.push(opIncr)
	nd.arg.kind, nd.arg.n = KindInt, uint64(n)
	return q
}

// IncrFloat is the terminal that adds f to a number; the result is a float.
func (p Path) IncrFloat(f float64) Path { return p.with(step{op: opIncr, arg: Float(f)}) }

// Append is the terminal that adds vs at the end of a list, or to a set.
func (p Path) Append(vs ...any) Path {
	items := make([]Value, len(vs))
	for i, x := range vs {
		items[i] = p.conv(x, "append")
	}
	return p.with(step{op: opAppend, ext: &stepExt{items: items}})
}

// Prepend is the terminal that adds vs, in order, at the start of a list.
func (p Path) Prepend(vs ...any) Path {
	items := make([]Value, len(vs))
	for i, x := range vs {
		items[i] = p.conv(x, "prepend")
	}
	return p.with(step{op: opPrepend, ext: &stepExt{items: items}})
}

// Merge is the terminal that sets every entry of the map m into the
// current map (nil values remove keys).
func (p Path) Merge(m any) Path {
	v := p.conv(m, "merge")
	if v.kind != KindMap && v.kind != KindNil && p.err == nil {
		p.err = &PathError{Step: p.Len(), Nav: "merge", Msg: "merge needs a map, not " + v.kind.String()}
	}
	return p.with(step{op: opMerge, arg: v})
}

// Value returns the ABI form of the path: a list of steps, each a list of
// the opcode and its arguments. It fails with the path's [Path.Err].
func (p Path) Value() (Value, error) {
	if p.err != nil {
		return Value{}, p.err
	}
	return p.value(), nil
}

func (p Path) value() Value {
	steps := make([]Value, p.Len())
	for nd := p.last; nd != nil; nd = nd.prev {
		steps[nd.n-1] = nd.stepValue()
	}
	return List(steps...)
}

// stepValue returns the ABI form of s: [opcode, args...].
func (s *step) stepValue() Value {
	op := Int(int64(s.op))
	switch s.op {
	case opKey, opMustKey, opNilToVal, opSet, opIncr, opMerge:
		return List(op, s.arg)
	case opNth:
		return List(op, Int(s.index))
	case opSortedRange:
		var opts []MapEntry
		if s.ext.opts.ExcludeFrom {
			opts = append(opts, MapEntry{String("excludeFrom"), Bool(true)})
		}
		if s.ext.opts.IncludeTo {
			opts = append(opts, MapEntry{String("includeTo"), Bool(true)})
		}
		if s.ext.opts.Limit != 0 {
			opts = append(opts, MapEntry{String("limit"), Int(int64(s.ext.opts.Limit))})
		}
		if s.ext.opts.Reverse {
			opts = append(opts, MapEntry{String("reverse"), Bool(true)})
		}
		if len(opts) == 0 {
			return List(op, s.ext.from, s.ext.to)
		}
		return List(op, s.ext.from, s.ext.to, Map(opts...))
	case opFilter:
		if s.filter == exists {
			return List(op, String("exists"))
		}
		return List(op, String(s.filter.String()), s.arg)
	case opView:
		return List(op, String(s.view.String()))
	case opAppend, opPrepend:
		return List(append([]Value{op}, s.ext.items...)...)
	}
	return List(op)
}

// appendPath appends the canonical encoding of p's ABI form (what
// AppendEncode(dst, p.value()) appends) without building the value.
func appendPath(dst []byte, p Path) ([]byte, error) {
	var buf [16]*pathNode
	nodes := buf[:0]
	for nd := p.last; nd != nil; nd = nd.prev {
		nodes = append(nodes, nd)
	}
	start := len(dst)
	dst = appendLenHeader(dst, len(nodes), 0x90, 16, 0xdc-1)
	ok := true
	for i := len(nodes) - 1; i >= 0 && ok; i-- {
		dst, ok = nodes[i].appendStep(dst)
	}
	if !ok {
		return AppendEncode(dst[:start], p.value()) // for the error
	}
	return dst, nil
}

// appendStep appends the encoding of s's ABI form, inside a path: at
// depth 2 (the path and step lists).
func (s *step) appendStep(dst []byte) ([]byte, bool) {
	const depth = 1
	op := int64(s.op)
	switch s.op {
	case opKey, opMustKey, opNilToVal, opSet, opIncr, opMerge:
		dst = appendInt(append(dst, 0x92), op)
		return appendValue(dst, &s.arg, depth+1, true)
	case opNth:
		return appendInt(appendInt(append(dst, 0x92), op), s.index), true
	case opMapVals, opAll, opFirst, opLast, opMapKeys, opRemove:
		return appendInt(append(dst, 0x91), op), true
	case opAppend, opPrepend:
		items := s.ext.items
		dst = appendInt(appendLenHeader(dst, 1+len(items), 0x90, 16, 0xdc-1), op)
		for i := range items {
			var ok bool
			if dst, ok = appendValue(dst, &items[i], depth+1, true); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	sv := s.stepValue()
	return appendValue(dst, &sv, depth, true)
}

// String renders the path, steps separated by dots:
// key("alice").sortedRange(open, 100, limit=10).view(count).
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p.steps() {
		if i > 0 {
			b.WriteByte('.')
		}
		s.writeText(&b)
	}
	return b.String()
}

func (op pathOp) String() string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return "op(" + strconv.Itoa(int(op)) + ")"
}

func (s step) String() string {
	var b strings.Builder
	s.writeText(&b)
	return b.String()
}

func (s step) writeText(b *strings.Builder) {
	b.WriteString(s.op.String())
	b.WriteByte('(')
	switch s.op {
	case opKey, opMustKey, opNilToVal, opSet, opIncr, opMerge:
		b.WriteString(s.arg.String())
	case opNth:
		b.WriteString(strconv.FormatInt(s.index, 10))
	case opSortedRange:
		bound := func(v Value) {
			if v.IsNil() {
				b.WriteString("open")
			} else {
				b.WriteString(v.String())
			}
		}
		bound(s.ext.from)
		b.WriteString(", ")
		bound(s.ext.to)
		if s.ext.opts.ExcludeFrom {
			b.WriteString(", excludeFrom")
		}
		if s.ext.opts.IncludeTo {
			b.WriteString(", includeTo")
		}
		if s.ext.opts.Limit != 0 {
			b.WriteString(", limit=" + strconv.Itoa(s.ext.opts.Limit))
		}
		if s.ext.opts.Reverse {
			b.WriteString(", reverse")
		}
	case opFilter:
		b.WriteString(s.filter.String())
		if s.filter != exists {
			b.WriteString(", " + s.arg.String())
		}
	case opView:
		b.WriteString(s.view.String())
	case opAppend, opPrepend:
		for j, it := range s.ext.items {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(it.String())
		}
	}
	b.WriteByte(')')
}

// PathMode says what a path is used for.
type PathMode uint8

const (
	// SelectMode paths read: they have no terminal step.
	SelectMode PathMode = iota + 1
	// TransformMode paths write: they end with exactly one terminal and
	// have no view step.
	TransformMode
)

// Validate checks p for use in mode: its arguments, and where terminals
// and views appear. It does not look at any data or schema. The host runs
// the same checks (a failing path is an EPATH error there).
func (p Path) Validate(mode PathMode) error {
	if p.err != nil {
		return p.err
	}
	// The first bad step, in order, is reported: walking from the end, the
	// last one found.
	var err error
	n := p.Len()
	for nd := p.last; nd != nil; nd = nd.prev {
		i := nd.n - 1
		if nd.op.terminal() {
			if mode == SelectMode {
				err = &PathError{Step: i, Nav: nd.String(), Msg: "a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms"}
			} else if i != n-1 {
				err = &PathError{Step: i, Nav: nd.String(), Msg: "a terminal must be the last step of a path; " + strconv.Itoa(n-1-i) + " step(s) follow it"}
			}
		}
		if nd.op == opView && mode == TransformMode {
			err = &PathError{Step: i, Nav: nd.String(), Msg: "view is read-only and cannot appear in a transform; select the value, compute, then transform"}
		}
	}
	if err != nil {
		return err
	}
	if mode == TransformMode && (n == 0 || !p.last.op.terminal()) {
		return &PathError{Step: -1, Msg: "a transform path must end with a terminal (set, remove, incr, append, prepend or merge)"}
	}
	return nil
}

// ParsePath reads the ABI form of a path (see [Path.Value]). It checks
// each step's opcode and arguments, not where terminals appear: call
// [Path.Validate] for that.
func ParsePath(v Value) (Path, error) {
	if v.kind != KindList {
		return Path{}, &PathError{Step: -1, Msg: "a path is a list of steps, not " + v.kind.String()}
	}
	var p Path
	for i, sv := range v.c {
		s, msg := parseStep(sv)
		if msg != "" {
			return Path{}, &PathError{Step: i, Msg: msg}
		}
		p = p.with(s)
	}
	return p, nil
}

func parseStep(sv Value) (step, string) {
	if sv.kind != KindList || len(sv.c) == 0 {
		return step{}, "a step is a non-empty list [opcode, args...], not " + sv.String()
	}
	code, ok := sv.c[0].AsInt()
	if !ok {
		return step{}, "the opcode must be an int, not " + sv.c[0].kind.String()
	}
	if code < 0 || code > 255 || opNames[pathOp(code)] == "" {
		return step{}, "unknown opcode " + strconv.FormatInt(code, 10)
	}
	s := step{op: pathOp(code)}
	args := sv.c[1:]
	want := func(counts ...int) string {
		for _, c := range counts {
			if len(args) == c {
				return ""
			}
		}
		w := make([]string, len(counts))
		for i, c := range counts {
			w[i] = strconv.Itoa(c)
		}
		return s.op.String() + " takes " + strings.Join(w, " or ") + " argument(s), got " + strconv.Itoa(len(args))
	}
	switch s.op {
	case opKey, opMustKey, opNilToVal, opSet, opIncr, opMerge:
		if msg := want(1); msg != "" {
			return step{}, msg
		}
		s.arg = args[0]
		switch k := s.arg.kind; {
		case s.op == opIncr && k != KindInt && k != KindFloat:
			return step{}, "incr needs an int or float amount, not " + k.String()
		case s.op == opMerge && k != KindMap && k != KindNil:
			return step{}, "merge needs a map, not " + k.String()
		}
	case opMapVals, opMapKeys, opAll, opFirst, opLast, opRemove:
		if msg := want(0); msg != "" {
			return step{}, msg
		}
	case opNth:
		if msg := want(1); msg != "" {
			return step{}, msg
		}
		i, ok := args[0].AsInt()
		if !ok {
			return step{}, "nth needs an int index, not " + args[0].kind.String()
		}
		s.index = i
	case opSortedRange:
		if msg := want(2, 3); msg != "" {
			return step{}, msg
		}
		s.ext = &stepExt{from: args[0], to: args[1]}
		if len(args) == 3 {
			opts, msg := parseRangeOpts(args[2])
			if msg != "" {
				return step{}, msg
			}
			s.ext.opts = opts
		}
	case opFilter:
		if len(args) == 0 {
			return step{}, want(1, 2)
		}
		name, _ := args[0].AsString()
		for f := Eq; f <= exists; f++ {
			if filterNames[f] == name {
				s.filter = f
			}
		}
		switch {
		case s.filter == 0:
			return step{}, "unknown filter comparison " + args[0].String() + "; use \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or \"exists\""
		case s.filter == exists && len(args) != 1:
			return step{}, "filter exists takes no operand"
		case s.filter != exists && len(args) != 2:
			return step{}, "filter " + name + " takes an operand: [9, \"" + name + "\", v]"
		case s.filter != exists:
			s.arg = args[1]
		}
	case opView:
		if msg := want(1); msg != "" {
			return step{}, msg
		}
		name, _ := args[0].AsString()
		for f := ViewSize; f <= ViewCount; f++ {
			if viewNames[f] == name {
				s.view = f
			}
		}
		if s.view == 0 {
			return step{}, "unknown view function " + args[0].String() + "; use \"size\" or \"count\""
		}
	case opAppend, opPrepend:
		s.ext = &stepExt{items: args}
	}
	return s, ""
}

func parseRangeOpts(v Value) (RangeOpts, string) {
	var o RangeOpts
	if v.kind != KindMap {
		return o, "sortedRange options must be a map, not " + v.kind.String()
	}
	for i := 0; i < len(v.c); i += 2 {
		k, val := v.c[i], v.c[i+1]
		name, _ := k.AsString()
		switch name {
		case "excludeFrom", "includeTo", "reverse":
			b, ok := val.AsBool()
			if !ok {
				return o, "sortedRange option " + name + " must be a bool, not " + val.kind.String()
			}
			switch name {
			case "excludeFrom":
				o.ExcludeFrom = b
			case "includeTo":
				o.IncludeTo = b
			default:
				o.Reverse = b
			}
		case "limit":
			l, ok := val.AsInt()
			if !ok || l < 0 || l > 1<<31-1 {
				return o, "sortedRange option limit must be an int from 0 to 2147483647, not " + val.String()
			}
			o.Limit = int(l)
		default:
			return o, "unknown sortedRange option " + k.String() + "; use \"excludeFrom\", \"includeTo\", \"limit\" or \"reverse\""
		}
	}
	return o, ""
}
