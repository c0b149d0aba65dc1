package squalltest

import (
	"fmt"
	"math"
	"slices"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// The fake host's path engine: selects and transforms on in-memory values
// with the semantics of the host's PState engine (the Squall repository's
// storage/inmem.go), including its schema checks, and the restrictions of
// its storage layout (whole subindexed collections are not returned). It
// is the SDK's own code; storage/testdata/pstate checks it against the
// host (conformance_test.go).

// Path opcodes.
const (
	opKey         = 1
	opMustKey     = 2
	opMapVals     = 3
	opAll         = 4
	opFirst       = 5
	opLast        = 6
	opNth         = 7
	opSortedRange = 8
	opFilter      = 9
	opNilToVal    = 10
	opView        = 11
	opMapKeys     = 12
	opSet         = 32
	opIncr        = 33
	opAppend      = 34
	opPrepend     = 35
	opRemove      = 36
	opMerge       = 37
)

var opNames = map[int]string{
	opKey: "key", opMustKey: "mustKey", opMapVals: "mapVals", opAll: "all", opFirst: "first",
	opLast: "last", opNth: "nth", opSortedRange: "sortedRange", opFilter: "filter",
	opNilToVal: "nilToVal", opView: "view", opMapKeys: "mapKeys", opSet: "set", opIncr: "incr",
	opAppend: "append", opPrepend: "prepend", opRemove: "remove", opMerge: "merge",
}

// step is one step of a path that squall.ParsePath has accepted.
type step struct {
	op          int
	arg         squall.Value
	items       []squall.Value
	index       int64
	from, to    squall.Value
	excludeFrom bool
	includeTo   bool
	limit       int
	reverse     bool
	filter      string
	view        string
	text        string // the step as Path.String renders it
}

// pathSteps decodes the ABI form of a path, which must be valid for mode.
func pathSteps(v squall.Value, mode squall.PathMode) ([]step, string, error) {
	p, err := squall.ParsePath(v)
	if err == nil {
		err = p.Validate(mode)
	}
	if err != nil {
		return nil, p.String(), err
	}
	steps := make([]step, len(v.Items()))
	for i, sv := range v.Items() {
		items := sv.Items()
		code, _ := items[0].AsInt()
		s := step{op: int(code)}
		args := items[1:]
		switch s.op {
		case opKey, opMustKey, opNilToVal, opSet, opIncr, opMerge:
			s.arg = args[0]
		case opNth:
			s.index, _ = args[0].AsInt()
		case opSortedRange:
			s.from, s.to = args[0], args[1]
			if len(args) == 3 {
				o := args[2]
				s.excludeFrom, _ = o.Field("excludeFrom").AsBool()
				s.includeTo, _ = o.Field("includeTo").AsBool()
				s.reverse, _ = o.Field("reverse").AsBool()
				l, _ := o.Field("limit").AsInt()
				s.limit = int(l)
			}
		case opFilter:
			s.filter, _ = args[0].AsString()
			if len(args) == 2 {
				s.arg = args[1]
			}
		case opView:
			s.view, _ = args[0].AsString()
		case opAppend, opPrepend:
			s.items = args
		}
		one, _ := squall.ParsePath(squall.List(sv))
		s.text = one.String()
		steps[i] = s
	}
	return steps, p.String(), nil
}

// pathError is a path that could not run; its message is the host's.
type pathError struct {
	step   int
	nav    string
	at     string
	msg    string
	path   string
	schema bool // a value did not fit the schema (ESCHEMA)
}

func (e *pathError) Error() string {
	s := "path"
	if e.step >= 0 {
		s = fmt.Sprintf("step %d %s", e.step, e.nav)
	}
	if e.at != "" {
		s += " at " + e.at
	}
	s += ": " + e.msg
	if e.path != "" && e.step >= 0 {
		s += " (in path " + e.path + ")"
	}
	return s
}

// engine runs one path.
type engine struct {
	steps []step
	path  string
	stack []squall.Value // the concrete location
	// nodes tracks, for selects on PStates, whether the place is stored as
	// separate storage keys (see schema.exploded), to refuse what the host
	// refuses; off for plain values.
	nodes bool
}

func (m *engine) push(k squall.Value) { m.stack = append(m.stack, k) }
func (m *engine) pop()                { m.stack = m.stack[:len(m.stack)-1] }
func (m *engine) loc() string         { return locString(m.stack) }

func (m *engine) errf(i int, format string, args ...any) error {
	return &pathError{step: i, nav: m.steps[i].text, at: m.loc(), msg: fmt.Sprintf(format, args...), path: m.path}
}

func (m *engine) schemaErr(i int, se *schemaError) error {
	return &pathError{step: i, nav: m.steps[i].text, at: m.loc(), msg: se.msg, path: m.path, schema: true}
}

// applies checks that step i can apply to v under s.
func (m *engine) applies(v squall.Value, s *schema, i int) error {
	if msg := navApplies(s, m.steps[i]); msg != "" {
		return m.errf(i, "%s", msg)
	}
	if msg := navAppliesToKind(v, m.steps[i]); msg != "" {
		return m.errf(i, "%s", msg)
	}
	return nil
}

func navApplies(s *schema, n step) string {
	t := s.t()
	if t == "" || t == "any" {
		return ""
	}
	var ok bool
	var want string
	switch n.op {
	case opKey, opMustKey:
		ok, want = t == "map" || t == "record" || t == "set", "maps, records and sets"
	case opMapVals, opMapKeys:
		ok, want = t == "map" || t == "record", "maps and records"
	case opAll, opFirst, opLast:
		ok, want = t == "map" || t == "record" || t == "set" || t == "list", "maps, records, sets and lists"
	case opNth:
		ok, want = t == "list", "lists"
	case opSortedRange:
		ok, want = t == "map" || t == "set", "maps and sets (sorted by key)"
	case opAppend:
		ok, want = t == "list" || t == "set", "lists and sets"
	case opPrepend:
		ok, want = t == "list", "lists"
	case opMerge:
		ok, want = t == "map" || t == "record", "maps and records"
	case opIncr:
		ok, want = t == "int" || t == "float", "ints and floats"
	default:
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("the schema says %s here; %s applies to %s", s, opNames[n.op], want)
}

func navAppliesToKind(v squall.Value, n step) string {
	k := v.Kind()
	if k == squall.KindNil {
		return ""
	}
	var ok bool
	var want string
	isColl := k == squall.KindMap || k == squall.KindSet || k == squall.KindList
	switch n.op {
	case opKey, opMustKey:
		ok, want = k == squall.KindMap || k == squall.KindSet, "maps, records and sets"
	case opMapVals, opMapKeys:
		ok, want = k == squall.KindMap, "maps and records"
	case opAll, opFirst, opLast:
		ok, want = isColl, "maps, records, sets and lists"
	case opNth:
		ok, want = k == squall.KindList, "lists"
	case opSortedRange:
		ok, want = k == squall.KindMap || k == squall.KindSet, "maps and sets"
	case opAppend:
		ok, want = k == squall.KindList || k == squall.KindSet, "lists and sets"
	case opPrepend:
		ok, want = k == squall.KindList, "lists"
	case opMerge:
		ok, want = k == squall.KindMap, "maps and records"
	case opIncr:
		ok, want = k == squall.KindInt || k == squall.KindFloat, "ints and floats"
	case opView:
		ok = n.view != "size" || isColl
		want = "maps, records, sets and lists (view(count) counts any value)"
	default:
		return ""
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("found %s %s; %s applies to %s", k, shortValue(v), opNames[n.op], want)
}

// ---- filters ----

func filterMatch(op string, v, arg squall.Value) bool {
	if op == "exists" {
		return !v.IsNil()
	}
	c, ok := compareForFilter(v, arg)
	switch op {
	case "eq":
		return ok && c == 0
	case "ne":
		return !ok || c != 0
	case "lt":
		return ok && c < 0
	case "le":
		return ok && c <= 0
	case "gt":
		return ok && c > 0
	case "ge":
		return ok && c >= 0
	}
	return false
}

func compareForFilter(a, b squall.Value) (int, bool) {
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
		return 0, true
	}
	if a.Kind() != b.Kind() {
		return 0, false
	}
	return squall.Compare(a, b), true
}

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

// ---- select ----

// selectValue runs the select path from step 0 on root with schema s.
// node says whether root is a stored node (a PState's top level).
func selectValue(root squall.Value, s *schema, steps []step, path string, node bool) ([]squall.Value, error) {
	m := &engine{steps: steps, path: path, nodes: node}
	var out []squall.Value
	err := m.sel(root, s, 0, nil, node && (s.t() == "map" || s.isExploded()), func(v squall.Value) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// sel runs steps from i on v. rng holds the sorted ranges that made v;
// node says whether v is a separately stored place of a PState.
func (m *engine) sel(v squall.Value, s *schema, i int, rng []step, node bool, emit func(squall.Value) error) error {
	if i == len(m.steps) {
		if node && i > 0 {
			if err := m.wholeNode(s, i-1, rng); err != nil {
				return err
			}
		}
		return emit(v)
	}
	n := m.steps[i]
	if err := m.applies(v, s, i); err != nil {
		return err
	}
	switch n.op {
	case opKey, opMustKey:
		cs, se := childSchema(s, n.arg, m.loc())
		if se != nil {
			return m.schemaErr(i, se)
		}
		if ok, err := m.keyInRange(rng, i); !ok {
			return err
		}
		childNode := node && cs.isExploded()
		switch {
		case v.Kind() == squall.KindSet || v.IsNil() && s.t() == "set":
			if !v.Has(n.arg) {
				return nil
			}
			return m.sel(n.arg, cs, i+1, nil, false, emit)
		case v.Kind() == squall.KindMap:
			c, ok := v.Get(n.arg)
			if !ok && n.op == opMustKey {
				return nil
			}
			m.push(n.arg)
			defer m.pop()
			return m.sel(c, cs, i+1, nil, childNode, emit)
		}
		if n.op == opMustKey {
			return nil
		}
		m.push(n.arg)
		defer m.pop()
		return m.sel(squall.Nil(), cs, i+1, nil, childNode, emit)
	case opMapVals, opMapKeys, opAll, opFirst, opLast:
		return m.each(v, s, n.op, rng, func(k, c squall.Value, cs *schema) error {
			switch {
			case n.op == opMapKeys:
				return m.sel(k, keySchema(s), i+1, nil, false, emit)
			case v.Kind() == squall.KindMap && n.op == opMapVals:
				m.push(k)
				defer m.pop()
				return m.sel(c, cs, i+1, nil, node && cs.isExploded(), emit)
			case v.Kind() == squall.KindMap:
				if node && cs.isExploded() {
					return m.errf(i, "%s navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", opNames[n.op])
				}
				return m.sel(squall.List(k, c), nil, i+1, nil, false, emit)
			case v.Kind() == squall.KindList:
				m.push(k)
				defer m.pop()
				return m.sel(c, cs, i+1, nil, node && cs.isExploded(), emit)
			}
			return m.sel(c, cs, i+1, nil, false, emit)
		})
	case opNth:
		if v.IsNil() {
			return nil
		}
		idx, ok := listIndex(n.index, v.Len())
		if !ok {
			return nil
		}
		m.push(squall.Int(int64(idx)))
		defer m.pop()
		return m.sel(v.Index(idx), s.elemS(), i+1, nil, node && s.elemS().isExploded(), emit)
	case opSortedRange:
		if node {
			for _, r := range rng {
				if r.limit > 0 && s.isExploded() {
					return m.errf(i, "a sortedRange inside a sortedRange with a limit is not supported on a subindexed collection; combine the two into one range")
				}
			}
		}
		sub, err := m.subRange(v, s, i)
		if err != nil {
			return err
		}
		return m.sel(sub, s, i+1, append(slices.Clip(rng), n), node, emit)
	case opFilter:
		if node && n.filter != "exists" {
			return m.errf(i, "filter(%s) cannot compare a whole subindexed %s; navigate into it first (all, mapVals, view(size))", n.filter, s.t())
		}
		if !filterMatch(n.filter, v, n.arg) {
			return nil
		}
		return m.sel(v, s, i+1, rng, node, emit)
	case opNilToVal:
		if v.IsNil() {
			return m.sel(n.arg, s, i+1, rng, false, emit)
		}
		return m.sel(v, s, i+1, rng, node, emit)
	case opView:
		return m.sel(viewOf(v), &schema{typ: "int"}, i+1, nil, false, emit)
	}
	return m.errf(i, "%s is not a navigator", opNames[n.op])
}

// wholeNode refuses a select that ends at a stored node, which the host
// does not return whole (a sorted range of one is materialized, unless its
// values are stored nodes too).
func (m *engine) wholeNode(s *schema, i int, rng []step) error {
	if len(rng) > 0 {
		if s.t() == "map" && s.val.isExploded() {
			return m.errf(i, "the range holds subindexed values, which are not returned whole; navigate into them (mapVals, mapKeys)")
		}
		return nil
	}
	what := "a subindexed " + s.t()
	switch {
	case len(m.stack) == 0 && s.t() == "map":
		what = "the whole top-level map of the partition"
	case s.t() == "record":
		what = "a record with subindexed fields"
	}
	return m.errf(i, "the path ends at %s, which is not returned whole; navigate into it (key, mustKey, all, mapVals, mapKeys, sortedRange, view(size))", what)
}

func viewOf(v squall.Value) squall.Value {
	switch v.Kind() {
	case squall.KindNil:
		return squall.Int(0)
	case squall.KindMap, squall.KindSet, squall.KindList:
		return squall.Int(int64(v.Len()))
	}
	return squall.Int(1)
}

func listIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

func orderedEntries(v squall.Value) []squall.MapEntry {
	es := v.Entries()
	slices.SortFunc(es, func(a, b squall.MapEntry) int { return squall.Compare(a.Key, b.Key) })
	return es
}

func orderedElems(v squall.Value) []squall.Value {
	es := slices.Clone(v.Items())
	slices.SortFunc(es, squall.Compare)
	return es
}

// each calls f for the elements op navigates to: maps and sets in Compare
// order (descending after a reversed range), lists in order.
func (m *engine) each(v squall.Value, s *schema, op int, rng []step, f func(k, c squall.Value, cs *schema) error) error {
	desc := len(rng) > 0 && rng[len(rng)-1].reverse
	type kv struct{ k, c squall.Value }
	var elems []kv
	switch v.Kind() {
	case squall.KindNil:
		return nil
	case squall.KindMap:
		for _, e := range orderedEntries(v) {
			elems = append(elems, kv{e.Key, e.Val})
		}
	case squall.KindSet:
		for _, e := range orderedElems(v) {
			elems = append(elems, kv{e, e})
		}
	case squall.KindList:
		for j, it := range v.Items() {
			elems = append(elems, kv{squall.Int(int64(j)), it})
		}
		desc = false
	}
	if desc {
		slices.Reverse(elems)
	}
	switch op {
	case opFirst:
		elems = elems[:min(1, len(elems))]
	case opLast:
		elems = elems[max(0, len(elems)-1):]
	}
	for _, e := range elems {
		if err := f(e.k, e.c, valSchema(s, e.k)); err != nil {
			return err
		}
	}
	return nil
}

func (m *engine) keyInRange(rng []step, i int) (bool, error) {
	for _, r := range rng {
		if r.limit > 0 {
			return false, m.errf(i, "%s right after a sortedRange with a limit is not supported; apply the key to the collection itself", opNames[m.steps[i].op])
		}
	}
	for _, r := range rng {
		if !inRange(m.steps[i].arg, r) {
			return false, nil
		}
	}
	return true, nil
}

func inRange(k squall.Value, n step) bool {
	if !n.from.IsNil() {
		c := squall.Compare(k, n.from)
		if c < 0 || c == 0 && n.excludeFrom {
			return false
		}
	}
	if !n.to.IsNil() {
		c := squall.Compare(k, n.to)
		if c > 0 || c == 0 && !n.includeTo {
			return false
		}
	}
	return true
}

func (m *engine) subRange(v squall.Value, s *schema, i int) (squall.Value, error) {
	n := m.steps[i]
	switch v.Kind() {
	case squall.KindNil:
		return emptyOf(s), nil
	case squall.KindMap:
		var out []squall.MapEntry
		for _, e := range orderedEntries(v) {
			if inRange(e.Key, n) {
				out = append(out, e)
			}
		}
		if n.limit > 0 && len(out) > n.limit {
			if n.reverse {
				out = out[len(out)-n.limit:]
			} else {
				out = out[:n.limit]
			}
		}
		return squall.Map(out...), nil
	case squall.KindSet:
		var out []squall.Value
		for _, e := range orderedElems(v) {
			if inRange(e, n) {
				out = append(out, e)
			}
		}
		if n.limit > 0 && len(out) > n.limit {
			if n.reverse {
				out = out[len(out)-n.limit:]
			} else {
				out = out[:n.limit]
			}
		}
		return squall.Set(out...), nil
	}
	return squall.Nil(), m.errf(i, "found %s; sortedRange applies to maps and sets", v.Kind())
}

// ---- transform ----

// xres is the result of transforming one place.
type xres struct {
	v       squall.Value
	removed bool
	changed bool
}

// transformValue runs the transform path on root with schema s and
// returns the new value (nil when removed).
func transformValue(root squall.Value, s *schema, steps []step, path string, node bool) (squall.Value, error) {
	m := &engine{steps: steps, path: path, nodes: node}
	r, err := m.xf(root, s, 0, nil)
	if err != nil {
		return squall.Nil(), err
	}
	if r.removed {
		return squall.Nil(), nil
	}
	return r.v, nil
}

func (m *engine) xf(v squall.Value, s *schema, i int, rng []step) (xres, error) {
	n := m.steps[i]
	if err := m.applies(v, s, i); err != nil {
		return xres{}, err
	}
	switch n.op {
	case opSet:
		if se := checkValue(s, n.arg, m.loc()); se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		return xres{v: n.arg, changed: !squall.Equal(v, n.arg)}, nil
	case opRemove:
		return xres{removed: true, changed: true}, nil
	case opIncr:
		nv, err := m.incr(v, s, i)
		if err != nil {
			return xres{}, err
		}
		return xres{v: nv, changed: !squall.Equal(v, nv)}, nil
	case opAppend, opPrepend:
		return m.addItems(v, s, i)
	case opMerge:
		return m.merge(v, s, i)
	case opKey, opMustKey:
		return m.xfKey(v, s, i, rng)
	case opMapVals, opMapKeys, opAll, opFirst, opLast:
		return m.xfEach(v, s, i, rng)
	case opNth:
		if v.IsNil() {
			return xres{}, m.errf(i, "nth(%d) is out of range: there is no list here; use append or prepend to add items", n.index)
		}
		idx, ok := listIndex(n.index, v.Len())
		if !ok {
			return xres{}, m.errf(i, "nth(%d) is out of range: the list has %d items; use append or prepend to add items", n.index, v.Len())
		}
		return m.xfList(v, s, i, []int{idx})
	case opSortedRange:
		return m.xfRange(v, s, i, rng)
	case opFilter:
		if m.nodes && n.filter != "exists" && s.isExploded() {
			return xres{}, m.errf(i, "filter(%s) cannot compare a whole subindexed %s; navigate into it first (all, mapVals)", n.filter, s.t())
		}
		if !filterMatch(n.filter, v, n.arg) {
			return xres{v: v}, nil
		}
		return m.xf(v, s, i+1, rng)
	case opNilToVal:
		if !v.IsNil() {
			return m.xf(v, s, i+1, rng)
		}
		r, err := m.xf(n.arg, s, i+1, rng)
		if err != nil {
			return xres{}, err
		}
		if !r.removed {
			if se := checkValue(s, r.v, m.loc()); se != nil {
				return xres{}, m.schemaErr(i, se)
			}
		}
		return xres{v: r.v, removed: r.removed, changed: !r.removed || r.changed}, nil
	}
	return xres{}, m.errf(i, "%s cannot appear in a transform", opNames[n.op])
}

func (m *engine) incr(v squall.Value, s *schema, i int) (squall.Value, error) {
	amt := m.steps[i].arg
	ai, aIsInt := amt.AsInt()
	af, _ := amt.AsFloat()
	if aIsInt {
		af = float64(ai)
	}
	floatResult := !aIsInt || s.t() == "float" || v.Kind() == squall.KindFloat
	if floatResult && s.t() == "int" {
		return squall.Nil(), m.errf(i, "the schema says int here; incr by a float (%s) would store a float; incr by an int", amt)
	}
	switch v.Kind() {
	case squall.KindNil:
		if floatResult {
			return squall.Float(af), nil
		}
		return squall.Int(ai), nil
	case squall.KindInt:
		x, _ := v.AsInt()
		if floatResult {
			return squall.Float(float64(x) + af), nil
		}
		sum := x + ai
		if (ai > 0 && sum < x) || (ai < 0 && sum > x) {
			return squall.Nil(), m.errf(i, "%d + %d overflows a 64-bit int", x, ai)
		}
		return squall.Int(sum), nil
	case squall.KindFloat:
		x, _ := v.AsFloat()
		return squall.Float(x + af), nil
	}
	return squall.Nil(), m.errf(i, "found %s %s; incr applies to ints and floats (and nil, counted as 0)", v.Kind(), shortValue(v))
}

func (m *engine) addItems(v squall.Value, s *schema, i int) (xres, error) {
	n := m.steps[i]
	es := s.elemS()
	isSet := v.Kind() == squall.KindSet || v.IsNil() && s.t() == "set"
	for j, it := range n.items {
		var se *schemaError
		if isSet {
			se = checkKey(es, it, m.loc())
		} else {
			se = checkValue(es, it, m.loc()+fmt.Sprintf("[%d]", v.Len()+j))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
	}
	if m.nodes && s.isExploded() && s.t() == "list" && es.isExploded() {
		for _, it := range n.items {
			if it.IsNil() {
				return xres{}, m.errf(i, "the items of this list are subindexed %ss, which cannot be nil; add an empty %s", es.t(), es.t())
			}
		}
	}
	if isSet {
		if n.op == opPrepend {
			return xres{}, m.errf(i, "prepend applies to lists; use append to add to a set")
		}
		if len(n.items) == 0 {
			return xres{v: v}, nil
		}
		elems := slices.Clone(v.Items())
		for _, it := range n.items {
			if !v.Has(it) && !slices.ContainsFunc(elems[v.Len():], func(x squall.Value) bool { return squall.Equal(x, it) }) {
				elems = append(elems, it)
			}
		}
		if len(elems) == v.Len() && !v.IsNil() {
			return xres{v: v}, nil
		}
		return xres{v: squall.Set(elems...), changed: true}, nil
	}
	if len(n.items) == 0 {
		return xres{v: v}, nil
	}
	old := v.Items()
	items := make([]squall.Value, 0, len(old)+len(n.items))
	if n.op == opAppend {
		items = append(append(items, old...), n.items...)
	} else {
		items = append(append(items, n.items...), old...)
	}
	return xres{v: squall.List(items...), changed: true}, nil
}

func (m *engine) merge(v squall.Value, s *schema, i int) (xres, error) {
	w := newWorkMap(v)
	changed := false
	for _, e := range orderedEntries(m.steps[i].arg) {
		cs, se := childSchema(s, e.Key, m.loc())
		if se == nil {
			se = checkValue(cs, e.Val, locString(append(slices.Clip(m.stack), e.Key)))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		if w.setEntry(e.Key, e.Val) {
			changed = true
		}
	}
	if !changed {
		return xres{v: v}, nil
	}
	return xres{v: w.value(), changed: true}, nil
}

func (m *engine) xfKey(v squall.Value, s *schema, i int, rng []step) (xres, error) {
	n := m.steps[i]
	k := n.arg
	cs, se := childSchema(s, k, m.loc())
	if se != nil {
		return xres{}, m.schemaErr(i, se)
	}
	if ok, err := m.keyInRange(rng, i); !ok {
		return xres{v: v}, err
	}
	if v.Kind() == squall.KindSet || v.IsNil() && s.t() == "set" {
		if !v.Has(k) {
			return xres{v: v}, nil
		}
		return m.xfSetElems(v, s, i, []squall.Value{k})
	}
	old, present := v.Get(k)
	if !present && n.op == opMustKey {
		return xres{v: v}, nil
	}
	m.push(k)
	r, err := m.xf(old, cs, i+1, nil)
	m.pop()
	if err != nil {
		return xres{}, err
	}
	if !r.changed {
		return xres{v: v}, nil
	}
	gone := r.removed || r.v.IsNil()
	w := newWorkMap(v)
	switch {
	case !present && gone:
		return xres{v: v}, nil
	case gone:
		w.del(k)
	default:
		w.set(k, r.v)
	}
	return xres{v: w.value(), changed: true}, nil
}

func (m *engine) xfEach(v squall.Value, s *schema, i int, rng []step) (xres, error) {
	op := m.steps[i].op
	switch v.Kind() {
	case squall.KindNil:
		return xres{v: v}, nil
	case squall.KindList:
		idx := make([]int, v.Len())
		for j := range idx {
			idx[j] = j
		}
		switch op {
		case opFirst:
			idx = idx[:min(1, len(idx))]
		case opLast:
			idx = idx[max(0, len(idx)-1):]
		}
		return m.xfList(v, s, i, idx)
	case squall.KindSet:
		var elems []squall.Value
		_ = m.each(v, s, op, rng, func(k, _ squall.Value, _ *schema) error {
			elems = append(elems, k)
			return nil
		})
		return m.xfSetElems(v, s, i, elems)
	}
	var keys []squall.Value
	_ = m.each(v, s, op, rng, func(k, _ squall.Value, _ *schema) error {
		keys = append(keys, k)
		return nil
	})
	return m.xfMapEntries(v, s, i, keys)
}

func (m *engine) xfList(v squall.Value, s *schema, i int, idx []int) (xres, error) {
	items := v.Items()
	out := make([]squall.Value, 0, len(items))
	changed := false
	next := 0
	for _, j := range idx {
		out = append(out, items[next:j]...)
		next = j + 1
		m.push(squall.Int(int64(len(out))))
		r, err := m.xf(items[j], s.elemS(), i+1, nil)
		m.pop()
		if err != nil {
			return xres{}, err
		}
		if r.removed {
			changed = true
			continue
		}
		if r.changed && r.v.IsNil() && m.nodes && s.isExploded() && s.elemS().isExploded() {
			return xres{}, m.errf(i, "the items of this list are subindexed %ss, which cannot be nil; set an empty %s or remove the item", s.elemS().t(), s.elemS().t())
		}
		changed = changed || r.changed
		out = append(out, r.v)
	}
	if !changed {
		return xres{v: v}, nil
	}
	out = append(out, items[next:]...)
	return xres{v: squall.List(out...), changed: true}, nil
}

func (m *engine) xfSetElems(v squall.Value, s *schema, i int, elems []squall.Value) (xres, error) {
	es := s.elemS()
	if s.t() != "set" {
		es = nil
	}
	var removed, added []squall.Value
	for _, e := range elems {
		r, err := m.xf(e, es, i+1, nil)
		if err != nil {
			return xres{}, err
		}
		if !r.changed {
			continue
		}
		if r.removed || r.v.IsNil() {
			removed = append(removed, e)
			continue
		}
		if se := checkKey(es, r.v, m.loc()); se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		removed = append(removed, e)
		added = append(added, r.v)
	}
	if len(removed) == 0 && len(added) == 0 {
		return xres{v: v}, nil
	}
	var out []squall.Value
	for _, e := range v.Items() {
		if !slices.ContainsFunc(removed, func(x squall.Value) bool { return squall.Equal(x, e) }) {
			out = append(out, e)
		}
	}
	return xres{v: squall.Set(append(out, added...)...), changed: true}, nil
}

func (m *engine) xfMapEntries(v squall.Value, s *schema, i int, keys []squall.Value) (xres, error) {
	op := m.steps[i].op
	w := newWorkMap(v)
	changed := false
	for _, k := range keys {
		old, present := w.get(k)
		if !present {
			continue
		}
		var r xres
		var err error
		switch op {
		case opMapVals:
			m.push(k)
			r, err = m.xf(old, valSchema(s, k), i+1, nil)
			m.pop()
		case opMapKeys:
			r, err = m.xf(k, keySchema(s), i+1, nil)
		default:
			if m.nodes && valSchema(s, k).isExploded() {
				return xres{}, m.errf(i, "%s navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", opNames[op])
			}
			r, err = m.xf(squall.List(k, old), nil, i+1, nil)
		}
		if err != nil {
			return xres{}, err
		}
		if !r.changed {
			continue
		}
		changed = true
		if op == opMapVals {
			if r.removed || r.v.IsNil() {
				w.del(k)
			} else {
				w.set(k, r.v)
			}
			continue
		}
		if r.removed || r.v.IsNil() {
			w.del(k)
			continue
		}
		nk, nv := r.v, old
		if op != opMapKeys {
			if r.v.Kind() != squall.KindList || r.v.Len() != 2 {
				return xres{}, m.errf(i, "%s on a map navigates [key, value] entries; the transform made %s; set a [key, value] list or remove the entry", opNames[op], shortValue(r.v))
			}
			nk, nv = r.v.Index(0), r.v.Index(1)
		}
		cs, se := childSchema(s, nk, m.loc())
		if se == nil {
			se = checkValue(cs, nv, locString(append(slices.Clip(m.stack), nk)))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		if m.nodes && s.t() == "record" && op == opMapKeys && !squall.Equal(nk, k) {
			if fs := valSchema(s, k); fs.isExploded() && fs.String() != cs.String() {
				return xres{}, m.errf(i, "mapKeys() cannot rename a subindexed field of a record to a field of another schema")
			}
		}
		if squall.Equal(nk, k) {
			w.setEntry(k, nv)
			continue
		}
		w.del(k)
		w.setEntry(nk, nv)
	}
	if !changed {
		return xres{v: v}, nil
	}
	return xres{v: w.value(), changed: true}, nil
}

func (m *engine) xfRange(v squall.Value, s *schema, i int, rng []step) (xres, error) {
	sub, err := m.subRange(v, s, i)
	if err != nil {
		return xres{}, err
	}
	r, err := m.xf(sub, s, i+1, append(slices.Clip(rng), m.steps[i]))
	if err != nil {
		return xres{}, err
	}
	if !r.changed {
		return xres{v: v}, nil
	}
	nsub := r.v
	if r.removed {
		nsub = squall.Nil()
	}
	if se := checkValue(s, nsub, m.loc()); se != nil {
		return xres{}, m.schemaErr(i, se)
	}
	if nsub.Kind() != squall.KindNil && nsub.Kind() != sub.Kind() && !sub.IsNil() {
		return xres{}, m.errf(i, "the transform replaced a sorted range of a %s with %s %s; set a %s or remove the range", sub.Kind(), nsub.Kind(), shortValue(nsub), sub.Kind())
	}
	if squall.Equal(sub, nsub) || sub.Len() == 0 && nsub.IsNil() {
		return xres{v: v}, nil
	}
	if sub.Kind() == squall.KindSet || nsub.Kind() == squall.KindSet {
		var out []squall.Value
		for _, e := range v.Items() {
			if !sub.Has(e) {
				out = append(out, e)
			}
		}
		return xres{v: squall.Set(append(out, nsub.Items()...)...), changed: true}, nil
	}
	w := newWorkMap(v)
	for _, e := range sub.Entries() {
		w.del(e.Key)
	}
	for _, e := range nsub.Entries() {
		w.set(e.Key, e.Val)
	}
	return xres{v: w.value(), changed: true}, nil
}

// workMap is a map being edited, in insertion order.
type workMap struct {
	order []string
	m     map[string]squall.MapEntry
}

func newWorkMap(v squall.Value) *workMap {
	w := &workMap{m: make(map[string]squall.MapEntry, v.Len())}
	for _, e := range v.Entries() {
		w.set(e.Key, e.Val)
	}
	return w
}

func workKey(k squall.Value) string {
	b, err := squall.Encode(k)
	if err != nil {
		return "\xff" + k.String()
	}
	return string(b)
}

func (w *workMap) get(k squall.Value) (squall.Value, bool) {
	e, ok := w.m[workKey(k)]
	return e.Val, ok
}

func (w *workMap) set(k, v squall.Value) {
	wk := workKey(k)
	if _, ok := w.m[wk]; !ok {
		w.order = append(w.order, wk)
	}
	w.m[wk] = squall.MapEntry{Key: k, Val: v}
}

func (w *workMap) del(k squall.Value) { delete(w.m, workKey(k)) }

// setEntry sets k to nv (nil removes it) and reports whether it changed.
func (w *workMap) setEntry(k, nv squall.Value) bool {
	old, present := w.get(k)
	switch {
	case nv.IsNil() && !present:
		return false
	case nv.IsNil():
		w.del(k)
	case present && squall.Equal(old, nv):
		return false
	default:
		w.set(k, nv)
	}
	return true
}

func (w *workMap) value() squall.Value {
	es := make([]squall.MapEntry, 0, len(w.m))
	for _, wk := range w.order {
		if e, ok := w.m[wk]; ok {
			es = append(es, e)
		}
	}
	return squall.Map(es...)
}
