package storage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// applyChanges applies changes, in order, to v: what a reactive client
// holding v would do. It fails on a change it cannot apply (a resync, or a
// path through something that is not a map or list).
func applyChanges(v abi.Value, changes []Change) (abi.Value, error) {
	for _, c := range changes {
		var err error
		v, err = applyChange(v, c.Path, c)
		if err != nil {
			return v, fmt.Errorf("%s: %w", c, err)
		}
	}
	return v, nil
}

func applyChange(v abi.Value, path []abi.Value, c Change) (abi.Value, error) {
	last := func() bool { return len(path) == 1 }
	switch {
	case len(path) == 0:
		switch c.Kind {
		case ChangeReplace:
			return c.New, nil
		case ChangeElemAdd:
			return abi.Set(append(append([]abi.Value(nil), v.Items()...), c.New)...), nil
		case ChangeElemRemove:
			var out []abi.Value
			for _, e := range v.Items() {
				if !abi.Equal(e, c.Old) {
					out = append(out, e)
				}
			}
			return abi.Set(out...), nil
		}
		return v, fmt.Errorf("cannot apply %s at the root", c.Kind)
	case v.Kind() == abi.KindList:
		idx, ok := path[0].AsInt()
		if !ok || idx < 0 || int(idx) > v.Len() {
			return v, fmt.Errorf("bad list index %s for a list of %d", path[0], v.Len())
		}
		items := append([]abi.Value(nil), v.Items()...)
		if last() {
			switch c.Kind {
			case ChangeListInsert:
				items = append(items[:idx], append([]abi.Value{c.New}, items[idx:]...)...)
				return abi.List(items...), nil
			case ChangeListRemove:
				if int(idx) >= len(items) {
					return v, fmt.Errorf("list remove past the end")
				}
				return abi.List(append(items[:idx], items[idx+1:]...)...), nil
			case ChangeReplace:
				if int(idx) >= len(items) {
					return v, fmt.Errorf("list replace past the end")
				}
				items[idx] = c.New
				return abi.List(items...), nil
			}
		}
		if int(idx) >= len(items) {
			return v, fmt.Errorf("list index past the end")
		}
		nv, err := applyChange(items[idx], path[1:], c)
		items[idx] = nv
		return abi.List(items...), err
	case v.Kind() == abi.KindMap || v.IsNil():
		w := newWorkMap(v)
		if last() {
			switch c.Kind {
			case ChangeReplace, ChangeKeyAdd:
				if c.New.IsNil() {
					w.del(path[0])
				} else {
					w.set(path[0], c.New)
				}
				return w.value(), nil
			case ChangeKeyRemove:
				w.del(path[0])
				return w.value(), nil
			}
		}
		child, ok := w.get(path[0])
		if !ok && (c.Kind == ChangeKeyRemove || c.Kind == ChangeElemRemove || c.Kind == ChangeListRemove) {
			return v, nil // removing from something absent changes nothing
		}
		nv, err := applyChange(child, path[1:], c)
		w.set(path[0], nv)
		return w.value(), err
	}
	return v, fmt.Errorf("cannot navigate %s into %s", path[0], v.Kind())
}

func TestInMemoryTransforms(t *testing.T) {
	v, err := parseValueText(`{"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil}`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want, changes string
	}{
		{`key("a").key("x").incr(2)`, `{"a": {"x": 3, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil}`, `replace ["a", "x"] 1 -> 3`},
		{`key("a").key("y").all().filter(ge, 2).remove()`, `{"a": {"x": 1, "y": [1]}, "b": #{1, 2}, "c": nil}`,
			`list-remove ["a", "y", 1] 2; list-remove ["a", "y", 1] 3`},
		{`key("b").append(3, 1)`, `{"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2, 3}, "c": nil}`, `elem-add ["b"] 3`},
		{`key("c").nilToVal([]).append(1)`, `{"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": [1]}`, `replace ["c"] nil -> [1]`},
		{`key("a").remove()`, `{"b": #{1, 2}, "c": nil}`, `key-remove ["a"] {"x": 1, "y": [1, 2, 3]}`},
		{`mapKeys().filter(eq, "b").set("bb")`, `{"a": {"x": 1, "y": [1, 2, 3]}, "c": nil, "bb": #{1, 2}}`, `key-remove ["b"] #{1, 2}; key-add ["bb"] #{1, 2}`},
		{`key("d").key("e").append(1)`, `{"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil, "d": {"e": [1]}}`, `key-add ["d"] {"e": [1]}`},
		{`key("a").key("y").nth(-1).set(9)`, `{"a": {"x": 1, "y": [1, 2, 9]}, "b": #{1, 2}, "c": nil}`, `replace ["a", "y", 2] 3 -> 9`},
		{`key("a").key("y").prepend(0)`, `{"a": {"x": 1, "y": [0, 1, 2, 3]}, "b": #{1, 2}, "c": nil}`, `list-insert ["a", "y", 0] 0`},
		{`set(1)`, `1`, `replace [] {"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil} -> 1`},
		{`remove()`, `nil`, `replace [] {"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil} -> nil`},
		{`key("a").key("x").set(1)`, `{"a": {"x": 1, "y": [1, 2, 3]}, "b": #{1, 2}, "c": nil}`, ``},
	}
	for _, tc := range tests {
		p, err := parsePathText(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		nv, changes, err := TransformValue(v, p)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if nv.String() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.path, nv, tc.want)
		}
		var cs []string
		for _, c := range changes {
			cs = append(cs, c.String())
		}
		if got := strings.Join(cs, "; "); got != tc.changes {
			t.Errorf("%s: changes\n got %s\nwant %s", tc.path, got, tc.changes)
		}
		applied, err := applyChanges(v, changes)
		if err != nil || !abi.Equal(applied, nv) {
			t.Errorf("%s: applying the changes gave %s (%v), want %s", tc.path, applied, err, nv)
		}
	}
}

func TestInMemoryErrors(t *testing.T) {
	v, _ := parseValueText(`{"n": 1, "l": [1], "s": #{1}}`)
	tests := []struct{ path, want string }{
		{`key("n").key("x")`, `storage: step 1 key("x") at $["n"]: found int 1; key applies to maps, records and sets (in path key("n").key("x"))`},
		{`key("l").mapVals()`, `found list [1]; mapVals applies to maps and records`},
		{`key("s").nth(0)`, `found set #{1}; nth applies to lists`},
		{`key("l").sortedRange(1, 2)`, `found list [1]; sortedRange applies to maps and sets`},
		{`key("n").view(size)`, `found int 1; view applies to maps, records, sets and lists (view(count) counts any value)`},
	}
	for _, tc := range tests {
		p, _ := parsePathText(tc.path)
		_, err := SelectValue(v, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("select %s: %v, want %q", tc.path, err, tc.want)
		}
	}
	xtests := []struct{ path, want string }{
		{`key("n").append(1)`, `found int 1; append applies to lists and sets`},
		{`key("s").prepend(1)`, `found set #{1}; prepend applies to lists`},
		{`key("l").incr(1)`, `found list [1]; incr applies to ints and floats`},
		{`key("l").nth(3).set(1)`, `nth(3) is out of range: the list has 1 items`},
		{`key("l").merge({1: 2})`, `found list [1]; merge applies to maps and records`},
		{`all().set(1)`, `all on a map navigates [key, value] entries; the transform made 1`},
	}
	for _, tc := range xtests {
		p, _ := parsePathText(tc.path)
		_, _, err := TransformValue(v, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("transform %s: %v, want %q", tc.path, err, tc.want)
		}
	}
	long := make(abi.Path, MaxPathLen+1)
	for j := range long {
		long[j] = abi.Nav{Op: abi.OpAll}
	}
	if _, err := SelectValue(v, long); err == nil || !strings.Contains(err.Error(), "the limit is 256") {
		t.Errorf("long path: %v", err)
	}
}

// FuzzTransformValue runs random paths over random values: the engine must
// not panic, and applying the reported changes to the old value must give
// the new value.
func FuzzTransformValue(f *testing.F) {
	seed := func(v, p string) {
		val, err := parseValueText(v)
		if err != nil {
			f.Fatal(err)
		}
		path, err := parsePathText(p)
		if err != nil {
			f.Fatal(err)
		}
		vb, _ := abi.Encode(val)
		pb, _ := abi.Encode(path.Value())
		f.Add(vb, pb)
	}
	seed(`{"a": [1, 2], "b": #{1}}`, `mapVals().all().incr(1)`)
	seed(`{"a": {"x": 1}}`, `all().set(["k", 2])`)
	seed(`[1, 2, 3]`, `all().filter(gt, 1).remove()`)
	seed(`{1: "a", 2: "b", 3: "c"}`, `sortedRange(2, open, limit=1, reverse).mapKeys().set(9)`)
	seed(`nil`, `key("a").nilToVal([]).append(1)`)
	seed(`{"s": #{1, 2}}`, `key("s").key(1).set(5)`)
	seed(`{"m": {}}`, `key("m").merge({"a": 1, "b": nil})`)
	f.Fuzz(func(t *testing.T, vb, pb []byte) {
		v, err := abi.Decode(vb)
		if err != nil {
			return
		}
		pv, err := abi.Decode(pb)
		if err != nil {
			return
		}
		p, err := abi.ParsePath(pv)
		if err != nil {
			return
		}
		_, _ = SelectValue(v, p)
		nv, changes, err := TransformValue(v, p)
		if err != nil {
			return
		}
		if _, err := abi.Encode(nv); err != nil {
			return // e.g. nested too deep to store; the storage engine refuses it
		}
		applied, err := applyChanges(v, changes)
		if err != nil {
			t.Fatalf("%s on %s: changes %v cannot be applied: %v", p, v, changes, err)
		}
		if !abi.Equal(applied, nv) {
			t.Fatalf("%s on %s:\nresult   %s\napplied  %s\nchanges %v", p, v, nv, applied, changes)
		}
	})
}
