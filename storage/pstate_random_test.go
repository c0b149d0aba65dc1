package storage

import (
	"flag"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/squall-run/squall/abi"
)

const debugRandom = false

var randomSeed = flag.Uint64("pstate.seed", 1, "seed of TestPStateRandomDifferential")

var randomOps = flag.Int("pstate.randomops", 1500, "operations per schema in TestPStateRandomDifferential")

// TestPStateRandomDifferential runs random transforms and selects on PStates
// of several schemas, and the same on an in-memory model of the partition
// (the in-memory engine on one value): results, the state afterwards and the
// reported changes must agree. A transform the storage engine refuses must
// leave the batch as it was.
func TestPStateRandomDifferential(t *testing.T) {
	schemas := []string{
		`map(int, map(int, int).subindexed)`,
		`map(int, set(int).subindexed)`,
		`map(int, list(int).subindexed)`,
		`map(int, record{n: int, s: set(int).subindexed, m: map(int, list(int)).subindexed, l: list(set(int).subindexed).subindexed})`,
		`map(int, map(int, set(int).subindexed).subindexed)`,
		`record{c: int, m: map(int, int).subindexed, x: map(int, any)}`,
		`map(int, any)`,
	}
	ops := *randomOps
	if testing.Short() {
		ops /= 5
	}
	for seed, text := range schemas {
		t.Run(text, func(t *testing.T) {
			s, err := parseSchemaText(text)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := NewPState("m", "p", s)
			if err != nil {
				t.Fatal(err)
			}
			db, err := Open("rand", Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			h := &pstateHarness{t: t, db: db, ps: ps, b: db.NewBatch(), model: map[uint32]abi.Value{}}
			defer func() { h.b.Close() }()
			var nSel, nSelErr, nXf, nXfErr, nChanges int
			defer func() {
				t.Logf("selects %d (%d refused), transforms %d (%d refused), changes %d, final state %d bytes",
					nSel, nSelErr, nXf, nXfErr, nChanges, len(h.model[0].String()))
			}()
			g := &pathGen{r: rand.New(rand.NewPCG(uint64(seed), *randomSeed))}
			for op := 0; op < ops; op++ {
				if op%200 == 199 {
					if _, err := h.b.Commit(t.Context()); err != nil {
						t.Fatal(err)
					}
					h.b = db.NewBatch()
				}
				if g.r.IntN(3) == 0 {
					p := g.path(s, true, false)
					got, err := h.b.Select(ps, 0, p)
					want, merr := SelectValueSchema(h.model[0], s, p)
					nSel++
					if err != nil {
						nSelErr++
						if !storageOnlyError(err) && merr == nil {
							t.Fatalf("op %d: select %s on %s: %v", op, p, h.model[0], err)
						}
						continue
					}
					if merr != nil {
						t.Fatalf("op %d: select %s: storage gave %s, the in-memory engine failed: %v", op, p, abi.List(got...), merr)
					}
					if !abi.Equal(abi.List(got...), abi.List(want...)) {
						t.Fatalf("op %d: select %s on %s:\nstorage   %s\nin-memory %s", op, p, h.model[0], abi.List(got...), abi.List(want...))
					}
					continue
				}
				p := g.path(s, true, true)
				before := h.model[0]
				changes, err := h.b.Transform(ps, 0, p)
				if debugRandom {
					t.Logf("op %d: %s -> %v %v", op, p, changes, err)
				}
				want, _, merr := TransformValueSchema(before, s, p)
				nXf++
				nChanges += len(changes)
				if err != nil {
					nXfErr++
					if !storageOnlyError(err) && merr == nil {
						t.Fatalf("op %d: transform %s on %s: storage failed: %v", op, p, before, err)
					}
					if got := h.materialize(t, h.b.pb, 0); !abi.Equal(got, before) {
						t.Fatalf("op %d: failed transform %s changed the batch: %s -> %s", op, p, before, got)
					}
					continue
				}
				if merr != nil {
					t.Fatalf("op %d: transform %s on %s: storage succeeded (%v), the in-memory engine failed: %v", op, p, before, changes, merr)
				}
				if ps.rootKind != nodeBlob && want.Kind() == abi.KindMap && want.Len() == 0 {
					want = abi.Nil()
				}
				got := h.materialize(t, h.b.pb, 0)
				if ps.rootKind == nodeRecord {
					want = dropEmptyRoot(want)
				}
				if !abi.Equal(got, want) {
					t.Fatalf("op %d: transform %s on %s:\nstorage   %s\nin-memory %s\nchanges %v", op, p, before, got, want, changes)
				}
				h.model[0] = got
				if slices.ContainsFunc(changes, func(c Change) bool { return c.Kind == ChangeResync }) {
					continue
				}
				applied, aerr := applyChanges(before, changes)
				if ps.rootKind != nodeBlob {
					applied = dropEmptyRoot(applied)
				}
				if aerr != nil || !abi.Equal(applied, got) {
					t.Fatalf("op %d: transform %s on %s: applying the changes %v gave %s (%v), stored %s", op, p, before, changes, applied, aerr, got)
				}
			}
		})
	}
}

// dropEmptyRoot treats an empty top-level map or record as absent, as
// storage does (no keys).
func dropEmptyRoot(v abi.Value) abi.Value {
	if v.Kind() == abi.KindMap && v.Len() == 0 {
		return abi.Nil()
	}
	return v
}

// storageOnlyError reports the errors only the storage engine gives: whole
// subindexed collections are not returned or materialized, limits on
// combined ranges.
func storageOnlyError(err error) bool {
	msg := err.Error()
	for _, s := range []string{
		"which is not returned whole",
		"not returned whole",
		"cannot compare a whole subindexed",
		"inside a sortedRange with a limit",
		"cannot rename a subindexed field",
		"which cannot be nil",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// pathGen makes random paths that mostly fit a schema.
type pathGen struct{ r *rand.Rand }

func (g *pathGen) key() abi.Value { return abi.Int(int64(g.r.IntN(6))) }

func (g *pathGen) value(s Schema, depth int) abi.Value {
	if g.r.IntN(12) == 0 {
		return abi.Nil()
	}
	switch s.Type() {
	case TypeInt:
		return abi.Int(int64(g.r.IntN(10)))
	case TypeAny, 0:
		switch g.r.IntN(4) {
		case 0:
			return abi.String(string(rune('a' + g.r.IntN(4))))
		case 1:
			if depth < 3 {
				return abi.List(g.value(Leaf(TypeAny), depth+1), g.value(Leaf(TypeInt), depth+1))
			}
		case 2:
			if depth < 3 {
				return abi.Map(abi.MapEntry{Key: g.key(), Val: g.value(Leaf(TypeAny), depth+1)})
			}
		}
		return abi.Int(int64(g.r.IntN(10)))
	case TypeMap:
		var es []abi.MapEntry
		for range g.r.IntN(4) {
			if v := g.value(s.Val(), depth+1); !v.IsNil() {
				es = append(es, abi.MapEntry{Key: g.key(), Val: v})
			}
		}
		return abi.Map(es...)
	case TypeSet:
		var es []abi.Value
		for range g.r.IntN(4) {
			es = append(es, g.key())
		}
		return abi.Set(es...)
	case TypeList:
		var es []abi.Value
		for range g.r.IntN(4) {
			v := g.value(s.Elem(), depth+1)
			if v.IsNil() && s.Elem().exploded() {
				v = emptyOf(s.Elem())
			}
			es = append(es, v)
		}
		return abi.List(es...)
	case TypeRecord:
		var es []abi.MapEntry
		for _, f := range s.Fields() {
			if g.r.IntN(2) == 0 {
				if v := g.value(f.Schema, depth+1); !v.IsNil() {
					es = append(es, abi.MapEntry{Key: abi.String(f.Name), Val: v})
				}
			}
		}
		return abi.Map(es...)
	}
	return abi.Nil()
}

// path makes a random path from schema s; a transform path ends with a
// terminal.
func (g *pathGen) path(s Schema, top, transform bool) abi.Path {
	var p abi.Path
	for depth := 0; ; depth++ {
		t := s.Type()
		stop := depth > 1 && g.r.IntN(4) == 0 || t.IsLeaf() && g.r.IntN(2) == 0 || depth > 6
		if stop {
			if transform {
				return append(p, g.terminal(s))
			}
			if g.r.IntN(4) == 0 {
				p = p.View(abi.ViewCount)
			}
			return p
		}
		switch t {
		case TypeMap:
			switch g.r.IntN(13) {
			case 0, 1, 9, 10, 11, 12:
				p, s = p.Key(g.key()), s.Val()
			case 2:
				p, s = p.MustKey(g.key()), s.Val()
			case 3:
				p, s = p.MapVals(), s.Val()
			case 4:
				p = p.MapKeys()
				return g.end(p, Leaf(TypeInt), transform)
			case 5:
				nav := []func() abi.Path{p.All, p.First, p.Last}[g.r.IntN(3)]
				p = nav()
				if transform {
					switch g.r.IntN(3) {
					case 0:
						return p.Remove()
					case 1:
						return p.Set(abi.List(g.key(), g.value(s.Val(), 1)))
					}
					return p.Last().Set(g.value(s.Val(), 1))
				}
				return p
			case 6:
				p = g.sortedRange(p)
			case 7:
				p = p.Filter(abi.FilterExists, abi.Nil())
			default:
				p = p.NilToVal(g.value(s, 1))
			}
		case TypeSet:
			switch g.r.IntN(5) {
			case 0:
				p = p.Key(g.key())
			case 1:
				p = []func() abi.Path{p.All, p.First, p.Last}[g.r.IntN(3)]()
			case 2:
				p = g.sortedRange(p)
				continue
			case 3:
				p = p.MustKey(g.key())
			default:
				if transform {
					return p.Append(g.key(), g.key())
				}
				return p.View(abi.ViewSize)
			}
			return g.end(p, s.Elem(), transform)
		case TypeList:
			switch g.r.IntN(3) {
			case 0:
				p = p.Nth(int64(g.r.IntN(5) - 2))
			default:
				p = []func() abi.Path{p.All, p.First, p.Last}[g.r.IntN(3)]()
			}
			s = s.Elem()
			if g.r.IntN(3) == 0 && s.Type().IsLeaf() {
				p = p.Filter(abi.FilterOp(1+g.r.IntN(6)), abi.Int(int64(g.r.IntN(10))))
			}
		case TypeRecord:
			fs := s.Fields()
			switch g.r.IntN(10) {
			case 0:
				p = p.MapKeys()
				if transform {
					return p.Remove()
				}
				return p
			case 1:
				p = p.Filter(abi.FilterExists, abi.Nil())
			default:
				f := fs[g.r.IntN(len(fs))]
				p, s = p.Key(abi.String(f.Name)), f.Schema
			}
		default: // leaves
			if g.r.IntN(2) == 0 {
				p = p.NilToVal(g.value(s, 1))
			} else {
				p = p.Filter(abi.FilterOp(1+g.r.IntN(7)), abi.Int(int64(g.r.IntN(10))))
			}
		}
	}
}

// end finishes a path at a leaf (a key or element).
func (g *pathGen) end(p abi.Path, s Schema, transform bool) abi.Path {
	if g.r.IntN(4) > 0 {
		p = p.Filter(abi.FilterOp(1+g.r.IntN(6)), g.key())
	}
	if !transform {
		return p
	}
	if g.r.IntN(4) == 0 {
		return p.Remove()
	}
	return p.Set(g.key())
}

func (g *pathGen) sortedRange(p abi.Path) abi.Path {
	var from, to abi.Value
	if g.r.IntN(3) > 0 {
		from = g.key()
	}
	if g.r.IntN(3) > 0 {
		to = g.key()
	}
	opts := abi.RangeOpts{ExcludeFrom: g.r.IntN(2) == 0, IncludeTo: g.r.IntN(2) == 0, Reverse: g.r.IntN(3) == 0}
	if g.r.IntN(3) == 0 {
		opts.Limit = 1 + g.r.IntN(3)
	}
	return p.SortedRange(from, to, opts)
}

func (g *pathGen) terminal(s Schema) abi.Nav {
	if g.r.IntN(8) == 0 {
		return abi.Nav{Op: abi.OpRemove}
	}
	var choices []abi.Path
	choices = append(choices, abi.P().Set(g.value(s, 1)))
	switch s.Type() {
	case TypeInt, TypeAny:
		choices = append(choices, abi.P().Incr(int64(g.r.IntN(5)-2)))
	case TypeMap, TypeRecord:
		choices = append(choices, abi.P().Merge(g.value(s, 1)))
	case TypeSet:
		choices = append(choices, abi.P().Append(g.key(), g.key()))
	case TypeList:
		v := g.value(s, 1)
		choices = append(choices, abi.P().Append(v.Items()...), abi.P().Prepend(v.Items()...))
	}
	return choices[g.r.IntN(len(choices))][0]
}

// FuzzPStatePath runs arbitrary paths (selects and transforms) against a
// small PState with every kind of subindexed node: nothing may panic, and a
// refused transform must leave the batch as it was.
func FuzzPStatePath(f *testing.F) {
	s, err := parseSchemaText(`map(int, record{n: int, s: set(int).subindexed, m: map(int, list(int)).subindexed, l: list(set(int).subindexed).subindexed, x: any})`)
	if err != nil {
		f.Fatal(err)
	}
	ps, err := NewPState("m", "p", s)
	if err != nil {
		f.Fatal(err)
	}
	db, err := Open("fuzz", Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	b := db.NewBatch()
	for _, p := range []string{
		`key(1).set({"n": 1, "s": #{1, 2, 3}, "m": {1: [1, 2], 2: []}, "l": [#{1}, #{2, 3}], "x": {"a": [1]}})`,
		`key(2).key("s").append(5, 6)`,
		`key(2).key("l").append(#{}, #{9})`,
	} {
		path, err := parsePathText(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := b.Transform(ps, 0, path); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := b.Commit(f.Context()); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{
		`key(1).key("m").sortedRange(1, open).mapVals().all().incr(1)`,
		`mapVals().key("l").all().all().filter(gt, 1).remove()`,
		`key(2).key("s").sortedRange(open, open, limit=1, reverse).set(#{7})`,
		`mapKeys().filter(eq, 1).set(3)`,
		`key(1).key("l").nth(0).remove()`,
		`key(1).key("x").key("a").prepend(0)`,
	} {
		path, err := parsePathText(p)
		if err != nil {
			f.Fatal(err)
		}
		enc, _ := abi.Encode(path.Value())
		f.Add(enc)
	}
	h := &pstateHarness{t: nil, db: db, ps: ps}
	f.Fuzz(func(t *testing.T, pb []byte) {
		pv, err := abi.Decode(pb)
		if err != nil {
			return
		}
		p, err := abi.ParsePath(pv)
		if err != nil {
			return
		}
		b := db.NewBatch()
		defer b.Close()
		_, _ = b.Select(ps, 0, p)
		before := h.materialize(t, b.pb, 0)
		if _, err := b.Transform(ps, 0, p); err != nil {
			if after := h.materialize(t, b.pb, 0); !abi.Equal(before, after) {
				t.Fatalf("refused transform %s changed the batch: %s -> %s (%v)", p, before, after, err)
			}
			return
		}
		h.materialize(t, b.pb, 0) // metadata and elements still agree
	})
}
