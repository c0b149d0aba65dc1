package storage

import (
	"fmt"
	"slices"

	"github.com/squall-run/squall/abi"
)

// SelectValue runs a select path over a plain value and returns every value
// it navigates to, in order. It has the semantics of [DB.Select] on a PState
// (nil navigates like an empty collection; maps and sets are walked in
// [abi.Compare] order of their keys), without a schema. Errors are
// [*PathError]s. SelectValue is safe for concurrent use; it does not retain
// its arguments.
func SelectValue(root abi.Value, p abi.Path) ([]abi.Value, error) {
	return SelectValueSchema(root, Schema{}, p)
}

// SelectValueSchema is [SelectValue] that also checks the path against a
// schema for root (the zero Schema checks nothing), as a PState would.
func SelectValueSchema(root abi.Value, s Schema, p abi.Path) ([]abi.Value, error) {
	if err := checkPath(p, abi.ModeSelect, ""); err != nil {
		return nil, err
	}
	m := &memEngine{path: p}
	var out []abi.Value
	err := m.sel(root, s, 0, nil, func(v abi.Value) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// TransformValue runs a transform path over a plain value and returns the
// new value and the changes made (see [Change]), with the semantics of
// [Batch.Transform] on a PState, without a schema. root is not modified
// (values are immutable). Errors are [*PathError]s. It is safe for
// concurrent use.
func TransformValue(root abi.Value, p abi.Path) (abi.Value, []Change, error) {
	return TransformValueSchema(root, Schema{}, p)
}

// TransformValueSchema is [TransformValue] that also checks every write
// against a schema for root (the zero Schema checks nothing).
func TransformValueSchema(root abi.Value, s Schema, p abi.Path) (abi.Value, []Change, error) {
	if err := checkPath(p, abi.ModeTransform, ""); err != nil {
		return abi.Nil(), nil, err
	}
	m := &memEngine{path: p}
	r, err := m.xf(root, s, 0, nil)
	if err != nil {
		return abi.Nil(), nil, err
	}
	nv := r.v
	if r.removed {
		nv = abi.Nil()
	}
	if r.changed && !r.fine {
		m.changes = m.changes[:0]
		m.report(ChangeReplace, nil, root, nv, true)
	}
	return nv, m.changes, nil
}

// checkPath validates p's structure and length for mode.
func checkPath(p abi.Path, mode abi.Mode, pstate string) error {
	if len(p) > MaxPathLen {
		return &PathError{PState: pstate, Step: -1, Msg: fmt.Sprintf("the path has %d steps; the limit is %d", len(p), MaxPathLen)}
	}
	if err := p.Validate(mode); err != nil {
		pe := &PathError{PState: pstate, Path: p.String(), Step: -1, Msg: err.Error(), Err: err}
		if ae, ok := err.(*abi.PathError); ok {
			pe.Step, pe.Nav, pe.Msg = ae.Step, ae.Nav, ae.Msg
		}
		return pe
	}
	return nil
}

// memEngine runs one path over plain values. The storage engine uses it for
// the part of a path inside a value blob, with stack set to the blob's
// concrete location.
type memEngine struct {
	path    abi.Path
	pstate  string
	base    []abi.Value // location of the value the engine was started on
	stack   []abi.Value // current location below base
	changes []Change
}

// xres is the result of transforming one place.
type xres struct {
	v       abi.Value // the new value, unless removed
	removed bool      // the navigated entry, element or item is to be removed
	changed bool      // v (or removed) differs from what was there
	fine    bool      // element-level changes below were already reported
}

func (m *memEngine) push(k abi.Value) { m.stack = append(m.stack, k) }
func (m *memEngine) pop()             { m.stack = m.stack[:len(m.stack)-1] }

// here returns a copy of the current concrete location, extended by extra.
func (m *memEngine) here(extra ...abi.Value) []abi.Value {
	out := make([]abi.Value, 0, len(m.base)+len(m.stack)+len(extra))
	out = append(out, m.base...)
	out = append(out, m.stack...)
	return append(out, extra...)
}

func (m *memEngine) report(kind ChangeKind, extra []abi.Value, old, nv abi.Value, oldKnown bool) {
	m.changes = append(m.changes, Change{Path: m.here(extra...), Kind: kind, Old: old, New: nv, OldKnown: oldKnown})
}

func (m *memEngine) errf(i int, format string, args ...any) error {
	return &PathError{PState: m.pstate, Path: m.path.String(), Step: i, Nav: m.path[i].String(),
		At: locString(m.here()), Msg: fmt.Sprintf(format, args...)}
}

func (m *memEngine) schemaErr(i int, se *SchemaError) error {
	return &PathError{PState: m.pstate, Path: m.path.String(), Step: i, Nav: m.path[i].String(),
		At: locString(m.here()), Msg: se.Msg, Err: se}
}

// applies checks that step i can apply to v under schema s.
func (m *memEngine) applies(v abi.Value, s Schema, i int) error {
	n := m.path[i]
	if msg := navApplies(s, n); msg != "" {
		return m.errf(i, "%s", msg)
	}
	if msg := navAppliesToKind(v, n); msg != "" {
		return m.errf(i, "%s", msg)
	}
	return nil
}

// ---- select ----

func (m *memEngine) sel(v abi.Value, s Schema, i int, rng []abi.Nav, emit func(abi.Value) error) error {
	if i == len(m.path) {
		return emit(v)
	}
	n := m.path[i]
	if err := m.applies(v, s, i); err != nil {
		return err
	}
	switch n.Op {
	case abi.OpKey, abi.OpMustKey:
		cs, se := childSchema(s, n.Arg, locString(m.here()))
		if se != nil {
			return m.schemaErr(i, se)
		}
		if ok, err := m.keyInRange(rng, i); !ok {
			return err
		}
		switch {
		case v.Kind() == abi.KindSet || v.IsNil() && s.Type() == TypeSet:
			if !v.Has(n.Arg) {
				return nil
			}
			return m.sel(n.Arg, cs, i+1, nil, emit)
		case v.Kind() == abi.KindMap:
			c, ok := v.Get(n.Arg)
			if !ok && n.Op == abi.OpMustKey {
				return nil
			}
			m.push(n.Arg)
			defer m.pop()
			return m.sel(c, cs, i+1, nil, emit)
		}
		if n.Op == abi.OpMustKey {
			return nil
		}
		m.push(n.Arg)
		defer m.pop()
		return m.sel(abi.Nil(), cs, i+1, nil, emit)
	case abi.OpMapVals, abi.OpMapKeys, abi.OpAll, abi.OpFirst, abi.OpLast:
		return m.eachElem(v, s, n.Op, rng, func(k, c abi.Value, cs Schema) error {
			switch {
			case n.Op == abi.OpMapKeys:
				return m.sel(k, keySchema(s), i+1, nil, emit)
			case v.Kind() == abi.KindMap && n.Op == abi.OpMapVals:
				m.push(k)
				defer m.pop()
				return m.sel(c, cs, i+1, nil, emit)
			case v.Kind() == abi.KindMap:
				return m.sel(abi.List(k, c), Schema{}, i+1, nil, emit)
			case v.Kind() == abi.KindList:
				m.push(k)
				defer m.pop()
				return m.sel(c, cs, i+1, nil, emit)
			}
			return m.sel(c, cs, i+1, nil, emit)
		})
	case abi.OpNth:
		if v.IsNil() {
			return nil
		}
		idx, ok := listIndex(n.Index, v.Len())
		if !ok {
			return nil
		}
		m.push(abi.Int(int64(idx)))
		defer m.pop()
		return m.sel(v.Index(idx), s.Elem(), i+1, nil, emit)
	case abi.OpSortedRange:
		sub, err := m.subRange(v, s, i)
		if err != nil {
			return err
		}
		return m.sel(sub, s, i+1, append(slices.Clip(rng), m.path[i]), emit)
	case abi.OpFilter:
		if !n.Filter.Match(v, n.Arg) {
			return nil
		}
		return m.sel(v, s, i+1, rng, emit)
	case abi.OpNilToVal:
		if v.IsNil() {
			return m.sel(n.Arg, s, i+1, rng, emit)
		}
		return m.sel(v, s, i+1, rng, emit)
	case abi.OpView:
		return m.sel(viewOf(v, n.View), Leaf(TypeInt), i+1, nil, emit)
	}
	return m.errf(i, "%s is not a navigator", n.Op)
}

// viewOf computes a view function; navApplies/navAppliesToKind have checked
// that it applies.
func viewOf(v abi.Value, fn abi.ViewFn) abi.Value {
	switch v.Kind() {
	case abi.KindNil:
		return abi.Int(0)
	case abi.KindMap, abi.KindSet, abi.KindList:
		return abi.Int(int64(v.Len()))
	}
	return abi.Int(1) // count of a single value
}

// listIndex resolves a possibly negative index into a list of n items.
func listIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// orderedEntries returns a map's entries in abi.Compare order of the keys.
func orderedEntries(v abi.Value) []abi.MapEntry {
	es := v.Entries()
	slices.SortFunc(es, func(a, b abi.MapEntry) int { return abi.Compare(a.Key, b.Key) })
	return es
}

// orderedElems returns a set's elements in abi.Compare order.
func orderedElems(v abi.Value) []abi.Value {
	es := slices.Clone(v.Items())
	slices.SortFunc(es, abi.Compare)
	return es
}

// eachElem calls f for the elements op navigates to in v: every one for
// all, mapVals and mapKeys, the first or last for first and last; maps and
// sets in Compare order (descending when desc), lists in order. For a map
// f gets (key, value, value schema); for a set (elem, elem, elem schema);
// for a list (index, item, item schema).
func (m *memEngine) eachElem(v abi.Value, s Schema, op abi.Op, rng []abi.Nav, f func(k, c abi.Value, cs Schema) error) error {
	desc := len(rng) > 0 && rng[len(rng)-1].Range.Reverse
	type kv struct{ k, c abi.Value }
	var elems []kv
	switch v.Kind() {
	case abi.KindNil:
		return nil
	case abi.KindMap:
		for _, e := range orderedEntries(v) {
			elems = append(elems, kv{e.Key, e.Val})
		}
	case abi.KindSet:
		for _, e := range orderedElems(v) {
			elems = append(elems, kv{e, e})
		}
	case abi.KindList:
		for j, it := range v.Items() {
			elems = append(elems, kv{abi.Int(int64(j)), it})
		}
		desc = false
	}
	if desc {
		slices.Reverse(elems)
	}
	switch op {
	case abi.OpFirst:
		elems = elems[:min(1, len(elems))]
	case abi.OpLast:
		elems = elems[max(0, len(elems)-1):]
	}
	for _, e := range elems {
		if err := f(e.k, e.c, valSchema(s, e.k)); err != nil {
			return err
		}
	}
	return nil
}

// keyInRange checks key step i right after the sorted ranges rng (if any)
// that made the current value: a key outside their bounds navigates
// nowhere, and a range with a limit is an error (whether the key is in it
// would depend on the other keys).
func (m *memEngine) keyInRange(rng []abi.Nav, i int) (bool, error) {
	for _, r := range rng {
		if r.Range.Limit > 0 {
			return false, m.errf(i, "%s right after a sortedRange with a limit is not supported; apply the key to the collection itself", m.path[i].Op)
		}
	}
	for _, r := range rng {
		if !inRange(m.path[i].Arg, r) {
			return false, nil
		}
	}
	return true, nil
}

// inRange reports whether k lies within the bounds of sorted-range step n.
func inRange(k abi.Value, n abi.Nav) bool {
	if !n.From.IsNil() {
		c := abi.Compare(k, n.From)
		if c < 0 || c == 0 && n.Range.ExcludeFrom {
			return false
		}
	}
	if !n.To.IsNil() {
		c := abi.Compare(k, n.To)
		if c > 0 || c == 0 && !n.Range.IncludeTo {
			return false
		}
	}
	return true
}

// subRange returns the sub-map or sub-set of v that sorted-range step i
// selects (nil v gives the empty collection of s's type, or nil).
func (m *memEngine) subRange(v abi.Value, s Schema, i int) (abi.Value, error) {
	n := m.path[i]
	limit := n.Range.Limit
	switch v.Kind() {
	case abi.KindNil:
		return emptyOf(s), nil
	case abi.KindMap:
		var out []abi.MapEntry
		for _, e := range orderedEntries(v) {
			if inRange(e.Key, n) {
				out = append(out, e)
			}
		}
		if limit > 0 && len(out) > limit {
			if n.Range.Reverse {
				out = out[len(out)-limit:]
			} else {
				out = out[:limit]
			}
		}
		return abi.Map(out...), nil
	case abi.KindSet:
		var out []abi.Value
		for _, e := range orderedElems(v) {
			if inRange(e, n) {
				out = append(out, e)
			}
		}
		if limit > 0 && len(out) > limit {
			if n.Range.Reverse {
				out = out[len(out)-limit:]
			} else {
				out = out[:limit]
			}
		}
		return abi.Set(out...), nil
	}
	return abi.Nil(), m.errf(i, "found %s; sortedRange applies to maps and sets", v.Kind())
}

// ---- transform ----

func (m *memEngine) xf(v abi.Value, s Schema, i int, rng []abi.Nav) (xres, error) {
	n := m.path[i]
	if err := m.applies(v, s, i); err != nil {
		return xres{}, err
	}
	switch n.Op {
	case abi.OpSet:
		if se := checkValue(s, n.Arg, locString(m.here())); se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		return xres{v: n.Arg, changed: !abi.Equal(v, n.Arg)}, nil
	case abi.OpRemove:
		return xres{removed: true, changed: true}, nil
	case abi.OpIncr:
		nv, err := m.incr(v, s, i)
		if err != nil {
			return xres{}, err
		}
		return xres{v: nv, changed: !abi.Equal(v, nv)}, nil
	case abi.OpAppend, abi.OpPrepend:
		return m.addItems(v, s, i)
	case abi.OpMerge:
		return m.merge(v, s, i)
	case abi.OpKey, abi.OpMustKey:
		return m.xfKey(v, s, i, rng)
	case abi.OpMapVals, abi.OpMapKeys, abi.OpAll, abi.OpFirst, abi.OpLast:
		return m.xfEach(v, s, i, rng)
	case abi.OpNth:
		if v.IsNil() {
			return xres{}, m.errf(i, "nth(%d) is out of range: there is no list here; use append or prepend to add items", n.Index)
		}
		idx, ok := listIndex(n.Index, v.Len())
		if !ok {
			return xres{}, m.errf(i, "nth(%d) is out of range: the list has %d items; use append or prepend to add items", n.Index, v.Len())
		}
		return m.xfList(v, s, i, []int{idx})
	case abi.OpSortedRange:
		return m.xfRange(v, s, i, rng)
	case abi.OpFilter:
		if !n.Filter.Match(v, n.Arg) {
			return xres{v: v}, nil
		}
		return m.xf(v, s, i+1, rng)
	case abi.OpNilToVal:
		if !v.IsNil() {
			return m.xf(v, s, i+1, rng)
		}
		mark := len(m.changes)
		r, err := m.xf(n.Arg, s, i+1, rng)
		if err != nil {
			return xres{}, err
		}
		m.changes = m.changes[:mark]
		if !r.removed {
			if se := checkValue(s, r.v, locString(m.here())); se != nil {
				return xres{}, m.schemaErr(i, se)
			}
		}
		return xres{v: r.v, removed: r.removed, changed: !r.removed || r.changed}, nil
	}
	return xres{}, m.errf(i, "%s cannot appear in a transform", n.Op)
}

// incr adds step i's amount to v.
func (m *memEngine) incr(v abi.Value, s Schema, i int) (abi.Value, error) {
	amt := m.path[i].Arg
	ai, aIsInt := amt.AsInt()
	af, _ := amt.AsFloat()
	if aIsInt {
		af = float64(ai)
	}
	floatResult := !aIsInt || s.Type() == TypeFloat || v.Kind() == abi.KindFloat
	if floatResult && s.Type() == TypeInt {
		return abi.Nil(), m.errf(i, "the schema says int here; incr by a float (%s) would store a float; incr by an int", amt)
	}
	switch v.Kind() {
	case abi.KindNil:
		if floatResult {
			return abi.Float(af), nil
		}
		return abi.Int(ai), nil
	case abi.KindInt:
		x, _ := v.AsInt()
		if floatResult {
			return abi.Float(float64(x) + af), nil
		}
		sum := x + ai
		if (ai > 0 && sum < x) || (ai < 0 && sum > x) {
			return abi.Nil(), m.errf(i, "%d + %d overflows a 64-bit int", x, ai)
		}
		return abi.Int(sum), nil
	case abi.KindFloat:
		x, _ := v.AsFloat()
		return abi.Float(x + af), nil
	}
	return abi.Nil(), m.errf(i, "found %s %s; incr applies to ints and floats (and nil, counted as 0)", v.Kind(), shortValue(v))
}

// addItems is append and prepend.
func (m *memEngine) addItems(v abi.Value, s Schema, i int) (xres, error) {
	n := m.path[i]
	es := s.Elem()
	isSet := v.Kind() == abi.KindSet || v.IsNil() && s.Type() == TypeSet
	for j, it := range n.Items {
		loc := locString(m.here())
		var se *SchemaError
		if isSet {
			se = checkKey(es, it, loc)
		} else {
			se = checkValue(es, it, loc+fmt.Sprintf("[%d]", v.Len()+j))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
	}
	if isSet {
		if n.Op == abi.OpPrepend {
			return xres{}, m.errf(i, "prepend applies to lists; use append to add to a set")
		}
		if len(n.Items) == 0 {
			return xres{v: v}, nil
		}
		elems := slices.Clone(v.Items())
		for _, it := range n.Items {
			if !v.Has(it) && !slices.ContainsFunc(elems[v.Len():], func(x abi.Value) bool { return abi.Equal(x, it) }) {
				elems = append(elems, it)
				m.report(ChangeElemAdd, nil, abi.Nil(), it, false)
			}
		}
		if len(elems) == v.Len() && !v.IsNil() {
			return xres{v: v, fine: true}, nil
		}
		return xres{v: abi.Set(elems...), changed: true, fine: !v.IsNil()}, nil
	}
	if len(n.Items) == 0 {
		return xres{v: v}, nil
	}
	old := v.Items()
	items := make([]abi.Value, 0, len(old)+len(n.Items))
	if n.Op == abi.OpAppend {
		items = append(append(items, old...), n.Items...)
		for j, it := range n.Items {
			m.report(ChangeListInsert, []abi.Value{abi.Int(int64(len(old) + j))}, abi.Nil(), it, false)
		}
	} else {
		items = append(append(items, n.Items...), old...)
		for j, it := range n.Items {
			m.report(ChangeListInsert, []abi.Value{abi.Int(int64(j))}, abi.Nil(), it, false)
		}
	}
	return xres{v: abi.List(items...), changed: true, fine: !v.IsNil()}, nil
}

// merge sets every entry of step i's map into v; nil values remove keys.
func (m *memEngine) merge(v abi.Value, s Schema, i int) (xres, error) {
	mm := m.path[i].Arg
	w := newWorkMap(v)
	changed := false
	for _, e := range orderedEntries(mm) {
		cs, se := childSchema(s, e.Key, locString(m.here()))
		if se == nil {
			se = checkValue(cs, e.Val, locString(m.here(e.Key)))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		if m.setEntry(w, e.Key, e.Val) {
			changed = true
		}
	}
	if !changed {
		return xres{v: v}, nil
	}
	return xres{v: w.value(), changed: true, fine: !v.IsNil()}, nil
}

// setEntry sets (or, for nil, removes) key k of w and reports the change.
func (m *memEngine) setEntry(w *workMap, k, nv abi.Value) bool {
	old, present := w.get(k)
	switch {
	case nv.IsNil() && !present:
		return false
	case nv.IsNil():
		w.del(k)
		m.report(ChangeKeyRemove, []abi.Value{k}, old, abi.Nil(), true)
	case !present:
		w.set(k, nv)
		m.report(ChangeKeyAdd, []abi.Value{k}, abi.Nil(), nv, false)
	case abi.Equal(old, nv):
		return false
	default:
		w.set(k, nv)
		m.report(ChangeReplace, []abi.Value{k}, old, nv, true)
	}
	return true
}

// xfKey is key and mustKey.
func (m *memEngine) xfKey(v abi.Value, s Schema, i int, rng []abi.Nav) (xres, error) {
	n := m.path[i]
	k := n.Arg
	cs, se := childSchema(s, k, locString(m.here()))
	if se != nil {
		return xres{}, m.schemaErr(i, se)
	}
	if ok, err := m.keyInRange(rng, i); !ok {
		return xres{v: v}, err
	}
	if v.Kind() == abi.KindSet || v.IsNil() && s.Type() == TypeSet {
		if !v.Has(k) {
			return xres{v: v}, nil
		}
		return m.xfSetElems(v, s, i, []abi.Value{k})
	}
	old, present := v.Get(k)
	if !present && n.Op == abi.OpMustKey {
		return xres{v: v}, nil
	}
	mark := len(m.changes)
	m.push(k)
	r, err := m.xf(old, cs, i+1, nil)
	m.pop()
	if err != nil {
		return xres{}, err
	}
	if !r.changed {
		return xres{v: v, fine: r.fine}, nil
	}
	gone := r.removed || r.v.IsNil()
	w := newWorkMap(v)
	switch {
	case !present && gone:
		m.changes = m.changes[:mark]
		return xres{v: v}, nil
	case !present:
		m.changes = m.changes[:mark]
		w.set(k, r.v)
		m.report(ChangeKeyAdd, []abi.Value{k}, abi.Nil(), r.v, false)
	case gone:
		m.changes = m.changes[:mark]
		w.del(k)
		m.report(ChangeKeyRemove, []abi.Value{k}, old, abi.Nil(), true)
	default:
		if !r.fine {
			m.changes = m.changes[:mark]
			m.report(ChangeReplace, []abi.Value{k}, old, r.v, true)
		}
		w.set(k, r.v)
	}
	return m.finish(v, w.value(), mark), nil
}

// finish builds the result of a navigator that edited collection v into nv:
// element-level changes stand when v existed; when v was nil, the parent
// reports the whole new value instead.
func (m *memEngine) finish(v, nv abi.Value, mark int) xres {
	if v.IsNil() {
		m.changes = m.changes[:mark]
		return xres{v: nv, changed: true}
	}
	return xres{v: nv, changed: true, fine: true}
}

// xfEach is mapVals, mapKeys, all, first and last.
func (m *memEngine) xfEach(v abi.Value, s Schema, i int, rng []abi.Nav) (xres, error) {
	op := m.path[i].Op
	switch v.Kind() {
	case abi.KindNil:
		return xres{v: v}, nil
	case abi.KindList:
		idx := make([]int, v.Len())
		for j := range idx {
			idx[j] = j
		}
		switch op {
		case abi.OpFirst:
			idx = idx[:min(1, len(idx))]
		case abi.OpLast:
			idx = idx[max(0, len(idx)-1):]
		}
		return m.xfList(v, s, i, idx)
	case abi.KindSet:
		var elems []abi.Value
		_ = m.eachElem(v, s, op, rng, func(k, _ abi.Value, _ Schema) error {
			elems = append(elems, k)
			return nil
		})
		return m.xfSetElems(v, s, i, elems)
	}
	var keys []abi.Value
	_ = m.eachElem(v, s, op, rng, func(k, _ abi.Value, _ Schema) error {
		keys = append(keys, k)
		return nil
	})
	return m.xfMapEntries(v, s, i, keys)
}

// xfList transforms the items of list v at the given (ascending) indexes
// with the rest of the path after step i.
func (m *memEngine) xfList(v abi.Value, s Schema, i int, idx []int) (xres, error) {
	items := v.Items()
	out := make([]abi.Value, 0, len(items))
	changed := false
	next := 0
	for _, j := range idx {
		out = append(out, items[next:j]...)
		next = j + 1
		old := items[j]
		cur := abi.Int(int64(len(out)))
		mark := len(m.changes)
		m.push(cur)
		r, err := m.xf(old, s.Elem(), i+1, nil)
		m.pop()
		if err != nil {
			return xres{}, err
		}
		switch {
		case r.removed:
			m.changes = m.changes[:mark]
			m.report(ChangeListRemove, []abi.Value{cur}, old, abi.Nil(), true)
			changed = true
			continue
		case r.changed && !r.fine:
			m.changes = m.changes[:mark]
			m.report(ChangeReplace, []abi.Value{cur}, old, r.v, true)
		}
		changed = changed || r.changed
		out = append(out, r.v)
	}
	if !changed {
		return xres{v: v, fine: true}, nil
	}
	out = append(out, items[next:]...)
	return xres{v: abi.List(out...), changed: true, fine: true}, nil
}

// xfSetElems transforms the given elements of set v, one after the other,
// with the rest of the path after step i: each is taken out of the set and
// its new value, if any, put in.
func (m *memEngine) xfSetElems(v abi.Value, s Schema, i int, elems []abi.Value) (xres, error) {
	es := s.Elem()
	if s.Type() != TypeSet {
		es = Schema{}
	}
	cur := v.Items()
	has := func(x abi.Value) bool {
		return slices.ContainsFunc(cur, func(y abi.Value) bool { return abi.Equal(x, y) })
	}
	changed := false
	for _, e := range elems {
		mark := len(m.changes)
		r, err := m.xf(e, es, i+1, nil)
		m.changes = m.changes[:mark]
		if err != nil {
			return xres{}, err
		}
		if !r.changed {
			continue
		}
		gone := r.removed || r.v.IsNil()
		if !gone {
			if se := checkKey(es, r.v, locString(m.here())); se != nil {
				return xres{}, m.schemaErr(i, se)
			}
		}
		changed = true
		cur = slices.DeleteFunc(slices.Clone(cur), func(y abi.Value) bool { return abi.Equal(e, y) })
		m.report(ChangeElemRemove, nil, e, abi.Nil(), true)
		if !gone && !has(r.v) {
			cur = append(cur, r.v)
			m.report(ChangeElemAdd, nil, abi.Nil(), r.v, false)
		}
	}
	if !changed {
		return xres{v: v, fine: true}, nil
	}
	return xres{v: abi.Set(cur...), changed: true, fine: true}, nil
}

// xfMapEntries transforms the entries of map (or record) v under keys with
// the rest of the path after step i, which is mapVals, mapKeys, all, first
// or last.
func (m *memEngine) xfMapEntries(v abi.Value, s Schema, i int, keys []abi.Value) (xres, error) {
	op := m.path[i].Op
	w := newWorkMap(v)
	changed := false
	for _, k := range keys {
		old, present := w.get(k)
		if !present {
			continue // renamed away by an earlier element
		}
		mark := len(m.changes)
		var r xres
		var err error
		switch op {
		case abi.OpMapVals:
			m.push(k)
			r, err = m.xf(old, valSchema(s, k), i+1, nil)
			m.pop()
		case abi.OpMapKeys:
			r, err = m.xf(k, keySchema(s), i+1, nil)
			m.changes = m.changes[:mark]
		default: // all, first, last: [key, value] entries
			r, err = m.xf(abi.List(k, old), Schema{}, i+1, nil)
			m.changes = m.changes[:mark]
		}
		if err != nil {
			return xres{}, err
		}
		if !r.changed {
			continue
		}
		changed = true
		if op == abi.OpMapVals {
			if r.removed || r.v.IsNil() {
				m.changes = m.changes[:mark]
				w.del(k)
				m.report(ChangeKeyRemove, []abi.Value{k}, old, abi.Nil(), true)
				continue
			}
			if !r.fine {
				m.changes = m.changes[:mark]
				m.report(ChangeReplace, []abi.Value{k}, old, r.v, true)
			}
			w.set(k, r.v)
			continue
		}
		if r.removed || r.v.IsNil() {
			w.del(k)
			m.report(ChangeKeyRemove, []abi.Value{k}, old, abi.Nil(), true)
			continue
		}
		nk, nv := r.v, old
		if op != abi.OpMapKeys {
			if r.v.Kind() != abi.KindList || r.v.Len() != 2 {
				return xres{}, m.errf(i, "%s on a map navigates [key, value] entries; the transform made %s; set a [key, value] list or remove the entry", op, shortValue(r.v))
			}
			nk, nv = r.v.Index(0), r.v.Index(1)
		}
		cs, se := childSchema(s, nk, locString(m.here()))
		if se == nil {
			se = checkValue(cs, nv, locString(m.here(nk)))
		}
		if se != nil {
			return xres{}, m.schemaErr(i, se)
		}
		if abi.Equal(nk, k) {
			m.setEntry(w, k, nv)
			continue
		}
		w.del(k)
		m.report(ChangeKeyRemove, []abi.Value{k}, old, abi.Nil(), true)
		m.setEntry(w, nk, nv)
	}
	if !changed {
		return xres{v: v, fine: true}, nil
	}
	return xres{v: w.value(), changed: true, fine: true}, nil
}

// xfRange transforms the sub-map or sub-set that sorted-range step i
// selects and puts the result back in place of the range.
func (m *memEngine) xfRange(v abi.Value, s Schema, i int, rng []abi.Nav) (xres, error) {
	sub, err := m.subRange(v, s, i)
	if err != nil {
		return xres{}, err
	}
	mark := len(m.changes)
	r, err := m.xf(sub, s, i+1, append(slices.Clip(rng), m.path[i]))
	if err != nil {
		return xres{}, err
	}
	if !r.changed {
		return xres{v: v, fine: true}, nil
	}
	nsub := r.v
	if r.removed {
		nsub = abi.Nil()
	}
	if se := checkValue(s, nsub, locString(m.here())); se != nil {
		return xres{}, m.schemaErr(i, se)
	}
	if nsub.Kind() != abi.KindNil && nsub.Kind() != sub.Kind() && !sub.IsNil() {
		return xres{}, m.errf(i, "the transform replaced a sorted range of a %s with %s %s; set a %s or remove the range", sub.Kind(), nsub.Kind(), shortValue(nsub), sub.Kind())
	}
	if !r.fine {
		m.changes = m.changes[:mark]
		m.diff(sub, nsub)
		if len(m.changes) == mark {
			return xres{v: v}, nil // the range was replaced by what it held
		}
	}
	var nv abi.Value
	if sub.Kind() == abi.KindSet || nsub.Kind() == abi.KindSet {
		var out []abi.Value
		for _, e := range v.Items() {
			if !sub.Has(e) {
				out = append(out, e)
			}
		}
		nv = abi.Set(append(out, nsub.Items()...)...)
	} else {
		w := newWorkMap(v)
		for _, e := range sub.Entries() {
			w.del(e.Key)
		}
		for _, e := range nsub.Entries() {
			w.set(e.Key, e.Val)
		}
		nv = w.value()
	}
	return m.finish(v, nv, mark), nil
}

// diff reports the element-level changes that turn collection a into b
// (maps and sets; a or b may be nil).
func (m *memEngine) diff(a, b abi.Value) {
	if a.Kind() == abi.KindSet || b.Kind() == abi.KindSet {
		for _, e := range orderedElems(a) {
			if !b.Has(e) {
				m.report(ChangeElemRemove, nil, e, abi.Nil(), true)
			}
		}
		for _, e := range orderedElems(b) {
			if !a.Has(e) {
				m.report(ChangeElemAdd, nil, abi.Nil(), e, false)
			}
		}
		return
	}
	for _, e := range orderedEntries(a) {
		if _, ok := b.Get(e.Key); !ok {
			m.report(ChangeKeyRemove, []abi.Value{e.Key}, e.Val, abi.Nil(), true)
		}
	}
	for _, e := range orderedEntries(b) {
		old, ok := a.Get(e.Key)
		switch {
		case !ok:
			m.report(ChangeKeyAdd, []abi.Value{e.Key}, abi.Nil(), e.Val, false)
		case !abi.Equal(old, e.Val):
			m.report(ChangeReplace, []abi.Value{e.Key}, old, e.Val, true)
		}
	}
}

// workMap is a map being edited: entries by canonical key encoding, in
// insertion order.
type workMap struct {
	order []string
	m     map[string]abi.MapEntry
}

func newWorkMap(v abi.Value) *workMap {
	w := &workMap{m: make(map[string]abi.MapEntry, v.Len())}
	for _, e := range v.Entries() {
		w.set(e.Key, e.Val)
	}
	return w
}

func workKey(k abi.Value) string {
	b, err := abi.Encode(k)
	if err != nil {
		return "\xff" + k.String() // not encodable (invalid UTF-8); still unique per value
	}
	return string(b)
}

func (w *workMap) get(k abi.Value) (abi.Value, bool) {
	e, ok := w.m[workKey(k)]
	return e.Val, ok
}

func (w *workMap) set(k, v abi.Value) {
	wk := workKey(k)
	if _, ok := w.m[wk]; !ok {
		w.order = append(w.order, wk)
	}
	w.m[wk] = abi.MapEntry{Key: k, Val: v}
}

func (w *workMap) del(k abi.Value) { delete(w.m, workKey(k)) }

func (w *workMap) value() abi.Value {
	es := make([]abi.MapEntry, 0, len(w.m))
	for _, wk := range w.order {
		if e, ok := w.m[wk]; ok {
			es = append(es, e)
		}
	}
	return abi.Map(es...)
}
