package squalltest

import (
	"errors"

	squall "github.com/squall-run/squall/guest-sdks/go"
)

// pstore is one partition of a PState. A top-level map keeps each
// top-level key apart (as the host stores it), so that paths starting with
// a key touch one entry; other PStates are one value.
type pstore struct {
	s       *schema
	rootMap bool
	entries map[string]squall.MapEntry // top-level map: canonical key -> entry
	val     squall.Value               // otherwise
}

func newPStore(s *schema) *pstore {
	p := &pstore{s: s, rootMap: s.t() == "map"}
	if p.rootMap {
		p.entries = map[string]squall.MapEntry{}
	}
	return p
}

// value returns the whole partition: for a top-level map, the map of its
// keys (nil when it has none).
func (p *pstore) value() squall.Value {
	if !p.rootMap {
		return p.val
	}
	if len(p.entries) == 0 {
		return squall.Nil()
	}
	es := make([]squall.MapEntry, 0, len(p.entries))
	for _, e := range p.entries {
		es = append(es, e)
	}
	return squall.Map(es...)
}

// firstKey returns the key of a path that starts with key or mustKey.
func firstKey(steps []step) (squall.Value, bool) {
	if len(steps) > 0 && (steps[0].op == opKey || steps[0].op == opMustKey) {
		return steps[0].arg, true
	}
	return squall.Nil(), false
}

// root returns the value a path runs on: for a path that starts with a key
// of a top-level map, a map of that key alone.
func (p *pstore) root(steps []step) squall.Value {
	if !p.rootMap {
		return p.val
	}
	if k, ok := firstKey(steps); ok {
		if e, found := p.entries[workKey(k)]; found {
			return squall.Map(e)
		}
		return squall.Map()
	}
	return p.value()
}

func (p *pstore) sel(steps []step, path string) ([]squall.Value, error) {
	return selectValue(p.root(steps), p.s, steps, path, true)
}

// transform applies a transform path and returns a function that undoes
// it.
func (p *pstore) transform(steps []step, path string) (func(), error) {
	nv, err := transformValue(p.root(steps), p.s, steps, path, true)
	if err != nil {
		return nil, err
	}
	if !p.rootMap {
		old := p.val
		p.val = nv
		return func() { p.val = old }, nil
	}
	if k, ok := firstKey(steps); ok {
		wk := workKey(k)
		old, had := p.entries[wk]
		if v, found := nv.Get(k); found {
			p.entries[wk] = squall.MapEntry{Key: k, Val: v}
		} else {
			delete(p.entries, wk)
		}
		return func() {
			if had {
				p.entries[wk] = old
			} else {
				delete(p.entries, wk)
			}
		}, nil
	}
	if nv.Kind() != squall.KindMap && !nv.IsNil() {
		return nil, errors.New("the transform replaced the top-level map with " + nv.Kind().String())
	}
	old := p.entries
	p.entries = make(map[string]squall.MapEntry, nv.Len())
	for _, e := range nv.Entries() {
		p.entries[workKey(e.Key)] = e
	}
	return func() { p.entries = old }, nil
}
