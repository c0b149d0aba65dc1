package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/storage/internal/keyenc"
)

// nodeKind is how a place of a PState is stored (see [PState]).
type nodeKind uint8

const (
	nodeBlob    nodeKind = iota // one MessagePack value at the place's key
	nodeRootMap                 // the top-level map: each key its own storage key, no metadata
	nodeMap                     // subindexed map: elements at P keyenc(k), size at P 0x00
	nodeSet                     // subindexed set: elements at P keyenc(e) (empty values), size at P 0x00
	nodeList                    // subindexed list: items at P keyenc(head+i), [head, size] at P 0x00
	nodeRecord                  // exploded record: fields at P keyenc(name), marker at P 0x00 (none at the root)
)

// kindOf returns how a place with schema s is stored.
func kindOf(s Schema, root bool) nodeKind {
	if root && s.Type() == TypeMap {
		return nodeRootMap
	}
	if !s.exploded() {
		return nodeBlob
	}
	switch s.Type() {
	case TypeMap:
		return nodeMap
	case TypeSet:
		return nodeSet
	case TypeList:
		return nodeList
	case TypeRecord:
		return nodeRecord
	}
	return nodeBlob
}

// loc is a place in a PState partition reached by a path.
type loc struct {
	kind   nodeKind
	key    []byte      // the blob's key, or the node's prefix P
	s      Schema      // the place's schema
	path   []abi.Value // concrete location from the root, for changes and messages
	parent *loc        // nil at the root
	rng    *keyRange   // set when a sortedRange restricted a map or set node
	seq    int         // list items: position relative to the list's head when navigated

	loaded, present bool      // blob value already read (from a scan)
	val             abi.Value // ... and its value
}

// keyRange restricts a map or set node to the children whose keys lie in
// [lo, hi), at most limit of them (0: all) from the high end when reverse.
type keyRange struct {
	lo, hi  []byte
	limit   int
	reverse bool
}

// meta is the cached metadata of an exploded node.
type meta struct {
	kind       nodeKind
	exists     bool
	size, head int64
	dirty      bool // to write when the transform ends
}

// ioStats counts the storage reads of one engine run (tests check that a
// path touches only the keys it needs).
type ioStats struct {
	gets   int    // point reads
	seeks  int    // iterator positionings
	keys   int    // keys visited by iterators
	points uint64 // points Pebble's iterators stepped over (their own count)
}

// engine runs one path over one PState partition. It is used by one
// goroutine for one call.
type engine struct {
	ps      *PState
	root    []byte
	path    abi.Path
	r       pebble.Reader
	w       *pebble.Batch // nil for selects
	changes []Change
	metas   map[string]*meta
	// deferred holds, per list prefix, the item removals an all() over the
	// list applies at its end.
	deferred map[string][]int
	stats    ioStats
}

func newEngine(ps *PState, partition uint32, p abi.Path, r pebble.Reader, w *pebble.Batch) *engine {
	return &engine{
		ps:   ps,
		root: objectPrefix(nil, ps.module, partition, kindPState, ps.name),
		path: p,
		r:    r,
		w:    w,
	}
}

func (e *engine) rootLoc() *loc {
	return &loc{kind: e.ps.rootKind, key: e.root, s: e.ps.schema}
}

// ---- errors ----

func (e *engine) errAt(l *loc, i int, format string, args ...any) error {
	pe := &PathError{PState: e.ps.id, Path: e.path.String(), Step: i, At: locString(l.path), Msg: fmt.Sprintf(format, args...)}
	if i >= 0 && i < len(e.path) {
		pe.Nav = e.path[i].String()
	} else {
		pe.Step = -1
	}
	return pe
}

func (e *engine) wrap(l *loc, i int, err error) error {
	var pe *PathError
	if errors.As(err, &pe) {
		return err
	}
	out := e.errAt(l, i, "%v", err).(*PathError)
	out.Err = err
	if se, ok := err.(*SchemaError); ok {
		out.Msg = se.Msg
	}
	return out
}

func (e *engine) corrupt(key []byte, what string, err error) error {
	return &PathError{PState: e.ps.id, Path: e.path.String(), Step: -1,
		Msg: fmt.Sprintf("%s at storage key %s is damaged: %v (the data directory is corrupt)", what, describeKey(key), err), Err: err}
}

func (e *engine) mem(l *loc) *memEngine {
	return &memEngine{path: e.path, pstate: e.ps.id, base: l.path}
}

// ---- reads ----

// getRaw reads one key; the returned bytes are a copy.
func (e *engine) getRaw(key []byte) ([]byte, bool, error) {
	e.stats.gets++
	v, closer, err := e.r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: read: %w", err)
	}
	out := slices.Clone(v)
	_ = closer.Close()
	return out, true, nil
}

// getValue reads and decodes a blob.
func (e *engine) getValue(key []byte) (abi.Value, bool, error) {
	e.stats.gets++
	raw, closer, err := e.r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return abi.Nil(), false, nil
	}
	if err != nil {
		return abi.Nil(), false, fmt.Errorf("storage: read: %w", err)
	}
	v, derr := abi.Decode(raw)
	_ = closer.Close()
	if derr != nil {
		return abi.Nil(), false, e.corrupt(key, "the value", derr)
	}
	return v, true, nil
}

func (e *engine) loadBlob(l *loc) (abi.Value, bool, error) {
	if l.loaded {
		return l.val, l.present, nil
	}
	v, ok, err := e.getValue(l.key)
	if err != nil {
		return abi.Nil(), false, err
	}
	l.loaded, l.present, l.val = true, ok, v
	return v, ok, nil
}

func metaKey(p []byte) []byte {
	k := make([]byte, len(p)+1)
	copy(k, p)
	return k
}

// metaOf returns the (cached) metadata of exploded node l. The root always
// exists and has none.
func (e *engine) metaOf(l *loc) (*meta, error) {
	if l.parent == nil {
		return &meta{exists: true}, nil
	}
	if m, ok := e.metas[string(l.key)]; ok {
		return m, nil
	}
	raw, found, err := e.getRaw(metaKey(l.key))
	if err != nil {
		return nil, err
	}
	m := &meta{kind: l.kind, exists: found}
	if found {
		switch l.kind {
		case nodeMap, nodeSet:
			sz, n := binary.Uvarint(raw)
			if n <= 0 || n != len(raw) {
				return nil, e.corrupt(metaKey(l.key), "the size record", errors.New("bad varint"))
			}
			m.size = int64(sz)
		case nodeList:
			h, n1 := binary.Varint(raw)
			if n1 <= 0 {
				return nil, e.corrupt(metaKey(l.key), "the list record", errors.New("bad head"))
			}
			sz, n2 := binary.Uvarint(raw[n1:])
			if n2 <= 0 || n1+n2 != len(raw) {
				return nil, e.corrupt(metaKey(l.key), "the list record", errors.New("bad size"))
			}
			m.head, m.size = h, int64(sz)
		}
	}
	if e.metas == nil {
		e.metas = map[string]*meta{}
	}
	e.metas[string(l.key)] = m
	return m, nil
}

func encodeMeta(kind nodeKind, m *meta) []byte {
	switch kind {
	case nodeMap, nodeSet:
		return binary.AppendUvarint(nil, uint64(m.size))
	case nodeList:
		return binary.AppendUvarint(binary.AppendVarint(nil, m.head), uint64(m.size))
	}
	return []byte{}
}

// exists reports whether exploded node l is there (not nil): a range always
// is (maybe empty), the root when it has any key (an empty top-level map or
// record is nothing at all), other nodes when their metadata exists.
func (e *engine) exists(l *loc) (bool, error) {
	if l.rng != nil {
		return true, nil
	}
	if l.parent == nil {
		found := false
		err := e.each(l, abi.OpFirst, func(kid) error { found = true; return errStop })
		return found, err
	}
	m, err := e.metaOf(l)
	if err != nil {
		return false, err
	}
	return m.exists, nil
}

// size counts the children of exploded node l: O(1) from the metadata of
// subindexed collections, by iteration for ranges, the root map and records.
func (e *engine) size(l *loc) (int64, error) {
	if l.rng == nil && (l.kind == nodeMap || l.kind == nodeSet || l.kind == nodeList) {
		m, err := e.metaOf(l)
		if err != nil {
			return 0, err
		}
		return m.size, nil
	}
	var n int64
	err := e.each(l, abi.OpAll, func(kid) error { n++; return nil })
	return n, err
}

// kid is one child found by a scan. ckey and raw alias iterator memory and
// are valid only during the callback.
type kid struct {
	k      abi.Value
	ckey   []byte
	isBlob bool
	raw    []byte
}

func (e *engine) bounds(l *loc) (lo, hi []byte, limit int, reverse bool) {
	if l.rng != nil {
		return l.rng.lo, l.rng.hi, l.rng.limit, l.rng.reverse
	}
	lo = append(slices.Clip(l.key), 0x01)
	hi = append(slices.Clip(l.key), 0xFF)
	return lo, hi, 0, false
}

// errStop ends a scan early without error.
var errStop = errors.New("stop")

// each calls f for the children of exploded node l that op navigates to:
// all of them for all, mapVals and mapKeys, one for first and last. Order
// is key order, descending for a reverse range.
func (e *engine) each(l *loc, op abi.Op, f func(kid) error) error {
	lo, hi, limit, rev := e.bounds(l)
	switch op {
	case abi.OpFirst:
		limit = 1
	case abi.OpLast:
		if limit > 0 {
			// The last of a limited range: walk it and keep the last.
			var last *kid
			err := e.scan(l, lo, hi, rev, limit, func(k kid) error {
				c := kid{k: k.k, ckey: slices.Clone(k.ckey), isBlob: k.isBlob, raw: slices.Clone(k.raw)}
				last = &c
				return nil
			})
			if err != nil || last == nil {
				return err
			}
			return f(*last)
		}
		rev, limit = !rev, 1
	}
	return e.scan(l, lo, hi, rev, limit, f)
}

// scan visits the children of node l with keys in [lo, hi): each child is
// one key (a blob or a set element) or a subtree (an exploded child), which
// it skips with one seek.
func (e *engine) scan(l *loc, lo, hi []byte, rev bool, limit int, f func(kid) error) (err error) {
	it, err := e.r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("storage: read: %w", err)
	}
	defer func() {
		e.stats.points += it.Stats().InternalStats.PointCount
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("storage: read: %w", cerr)
		}
	}()
	p := l.key
	var valid bool
	if rev {
		valid = it.Last()
	} else {
		valid = it.First()
	}
	e.stats.seeks++
	n := 0
	for valid {
		key := it.Key()
		e.stats.keys++
		if len(key) <= len(p) {
			return e.corrupt(key, "a key", errors.New("shorter than its parent's prefix"))
		}
		k, sz, derr := keyenc.Decode(key[len(p):])
		if derr != nil {
			return e.corrupt(key, "a key", derr)
		}
		ckey := key[:len(p)+sz]
		isBlob := len(key) == len(ckey)
		var raw []byte
		if isBlob {
			if raw, err = it.ValueAndErr(); err != nil {
				return fmt.Errorf("storage: read: %w", err)
			}
		}
		if err := f(kid{k: k, ckey: ckey, isBlob: isBlob, raw: raw}); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
		n++
		if limit > 0 && n >= limit {
			break
		}
		switch {
		case isBlob && rev:
			valid = it.Prev()
		case isBlob:
			valid = it.Next()
		case rev:
			valid = it.SeekLT(slices.Clone(ckey))
			e.stats.seeks++
		default:
			valid = it.SeekGE(keyenc.TupleEnd(ckey))
			e.stats.seeks++
		}
	}
	return it.Error()
}

// collect gathers the children each would visit, with copied keys and
// decoded blob values, so that the caller may write while walking them.
func (e *engine) collect(l *loc, op abi.Op) ([]*loc, error) {
	var out []*loc
	err := e.each(l, op, func(k kid) error {
		c, err := e.kidLoc(l, k)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// kidLoc makes the loc of a scanned child (decoding a blob value).
func (e *engine) kidLoc(l *loc, k kid) (*loc, error) {
	cs := valSchema(l.s, k.k)
	c := &loc{kind: kindOf(cs, false), key: slices.Clone(k.ckey), s: cs, path: append(slices.Clip(l.path), k.k), parent: l}
	if l.kind == nodeSet {
		c.kind, c.loaded, c.present, c.val = nodeBlob, true, true, k.k
		return c, nil
	}
	if c.kind == nodeBlob && k.isBlob {
		v, err := abi.Decode(k.raw)
		if err != nil {
			return nil, e.corrupt(k.ckey, "the value", err)
		}
		c.loaded, c.present, c.val = true, true, v
	}
	return c, nil
}

// child returns the loc under key k of map-like node l, whose schema there
// is cs.
func (e *engine) child(l *loc, k abi.Value, cs Schema, i int) (*loc, error) {
	key, err := keyenc.Append(slices.Clip(l.key), k)
	if err != nil {
		return nil, e.errAt(l, i, "key %s cannot be stored: %v", shortValue(k), err)
	}
	if len(key) > keyenc.MaxKeyLen {
		return nil, e.wrap(l, i, errTooLarge("the storage key for "+locString(append(slices.Clip(l.path), k)), len(key), keyenc.MaxKeyLen, "use shorter keys"))
	}
	return &loc{kind: kindOf(cs, false), key: key, s: cs, path: append(slices.Clip(l.path), k), parent: l}, nil
}

// item returns the loc of the item at position idx of list l.
func (e *engine) item(l *loc, m *meta, idx int) *loc {
	key, _ := keyenc.Append(slices.Clip(l.key), abi.Int(m.head+int64(idx)))
	es := l.s.Elem()
	return &loc{kind: kindOf(es, false), key: key, s: es, path: append(slices.Clip(l.path), abi.Int(int64(idx))), parent: l, seq: idx}
}

func (e *engine) seqKey(l *loc, seq int64) []byte {
	key, _ := keyenc.Append(slices.Clip(l.key), abi.Int(seq))
	return key
}

// withRange returns l restricted by sorted-range step i.
func (e *engine) withRange(l *loc, i int) (*loc, error) {
	n := e.path[i]
	lo := append(slices.Clip(l.key), 0x01)
	hi := append(slices.Clip(l.key), 0xFF)
	var err error
	if !n.From.IsNil() {
		if lo, err = keyenc.Append(slices.Clip(l.key), n.From); err != nil {
			return nil, e.errAt(l, i, "the range start cannot be encoded: %v", err)
		}
		if n.Range.ExcludeFrom {
			lo = keyenc.TupleEnd(lo)
		}
	}
	if !n.To.IsNil() {
		if hi, err = keyenc.Append(slices.Clip(l.key), n.To); err != nil {
			return nil, e.errAt(l, i, "the range end cannot be encoded: %v", err)
		}
		if n.Range.IncludeTo {
			hi = keyenc.TupleEnd(hi)
		}
	}
	if l.rng != nil {
		if l.rng.limit > 0 {
			return nil, e.errAt(l, i, "a sortedRange inside a sortedRange with a limit is not supported on a subindexed collection; combine the two into one range")
		}
		if bytes.Compare(l.rng.lo, lo) > 0 {
			lo = l.rng.lo
		}
		if bytes.Compare(l.rng.hi, hi) < 0 {
			hi = l.rng.hi
		}
	}
	if bytes.Compare(lo, hi) > 0 {
		hi = lo
	}
	nl := *l
	nl.rng = &keyRange{lo: lo, hi: hi, limit: n.Range.Limit, reverse: n.Range.Reverse}
	return &nl, nil
}

// inRange reports whether child key ckey of a ranged node lies in its bounds.
func (l *loc) inRange(ckey []byte) bool {
	return l.rng == nil || bytes.Compare(ckey, l.rng.lo) >= 0 && bytes.Compare(ckey, l.rng.hi) < 0
}

// ---- select ----

func (e *engine) selectAll() ([]abi.Value, error) {
	var out []abi.Value
	err := e.sel(e.rootLoc(), 0, func(v abi.Value) error {
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *engine) sel(l *loc, i int, emit func(abi.Value) error) error {
	if l.kind == nodeBlob {
		v, _, err := e.loadBlob(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		return e.mem(l).sel(v, l.s, i, nil, emit)
	}
	if i == len(e.path) {
		if l.rng != nil {
			v, err := e.materialize(l, i-1)
			if err != nil {
				return err
			}
			return emit(v)
		}
		what := "a subindexed " + l.s.Type().String()
		switch {
		case l.kind == nodeRootMap:
			what = "the whole top-level map of the partition"
		case l.kind == nodeRecord:
			what = "a record with subindexed fields"
		}
		return e.errAt(l, i-1, "the path ends at %s, which is not returned whole; navigate into it (key, mustKey, all, mapVals, mapKeys, sortedRange, view(size))", what)
	}
	n := e.path[i]
	if msg := navApplies(l.s, n); msg != "" {
		return e.errAt(l, i, "%s", msg)
	}
	switch n.Op {
	case abi.OpKey, abi.OpMustKey:
		k := n.Arg
		cs, se := childSchema(l.s, k, locString(l.path))
		if se != nil {
			return e.wrap(l, i, se)
		}
		c, err := e.child(l, k, cs, i)
		if err != nil {
			return err
		}
		if l.rng != nil && l.rng.limit > 0 {
			return e.errAt(l, i, "%s right after a sortedRange with a limit is not supported; apply the key to the collection itself", n.Op)
		}
		if !l.inRange(c.key) {
			return nil
		}
		if l.kind == nodeSet {
			_, found, err := e.getRaw(c.key)
			if err != nil || !found {
				return err
			}
			return e.mem(l).sel(k, cs, i+1, nil, emit)
		}
		if c.kind == nodeBlob {
			v, found, err := e.loadBlob(c)
			if err != nil {
				return e.wrap(c, i, err)
			}
			if !found && n.Op == abi.OpMustKey {
				return nil
			}
			return e.mem(c).sel(v, cs, i+1, nil, emit)
		}
		if n.Op == abi.OpMustKey {
			if ok, err := e.exists(c); err != nil || !ok {
				return err
			}
		}
		return e.sel(c, i+1, emit)
	case abi.OpMapVals, abi.OpMapKeys, abi.OpAll, abi.OpFirst, abi.OpLast:
		return e.selEach(l, i, emit)
	case abi.OpNth:
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		idx, ok := listIndex(n.Index, int(m.size))
		if !ok {
			return nil
		}
		return e.selItem(e.item(l, m, idx), i, emit)
	case abi.OpSortedRange:
		nl, err := e.withRange(l, i)
		if err != nil {
			return err
		}
		return e.sel(nl, i+1, emit)
	case abi.OpFilter:
		if n.Filter != abi.FilterExists {
			return e.errAt(l, i, "filter(%s) cannot compare a whole subindexed %s; navigate into it first (all, mapVals, view(size))", n.Filter, l.s.Type())
		}
		if ok, err := e.exists(l); err != nil || !ok {
			return err
		}
		return e.sel(l, i+1, emit)
	case abi.OpNilToVal:
		ok, err := e.exists(l)
		if err != nil {
			return err
		}
		if !ok {
			return e.mem(l).sel(n.Arg, l.s, i+1, nil, emit)
		}
		return e.sel(l, i+1, emit)
	case abi.OpView:
		sz, err := e.size(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		return e.mem(l).sel(abi.Int(sz), Leaf(TypeInt), i+1, nil, emit)
	}
	return e.errAt(l, i, "%s is not a navigator", n.Op)
}

// selItem continues a select at list item c (navigated by step i).
func (e *engine) selItem(c *loc, i int, emit func(abi.Value) error) error {
	if c.kind == nodeBlob {
		v, _, err := e.loadBlob(c)
		if err != nil {
			return e.wrap(c, i, err)
		}
		return e.mem(c).sel(v, c.s, i+1, nil, emit)
	}
	return e.sel(c, i+1, emit)
}

// selEach is mapVals, mapKeys, all, first and last on exploded node l.
func (e *engine) selEach(l *loc, i int, emit func(abi.Value) error) error {
	op := e.path[i].Op
	if l.kind == nodeList {
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		if m.size == 0 {
			return nil
		}
		switch op {
		case abi.OpFirst:
			return e.selItem(e.item(l, m, 0), i, emit)
		case abi.OpLast:
			return e.selItem(e.item(l, m, int(m.size-1)), i, emit)
		}
		idx := 0
		return e.each(l, abi.OpAll, func(k kid) error {
			c, err := e.kidLoc(l, k)
			if err != nil {
				return err
			}
			c.path[len(c.path)-1] = abi.Int(int64(idx))
			idx++
			return e.selItem(c, i, emit)
		})
	}
	return e.each(l, op, func(k kid) error {
		if l.kind == nodeSet {
			return e.mem(l).sel(k.k, l.s.Elem(), i+1, nil, emit)
		}
		if op == abi.OpMapKeys {
			return e.mem(l).sel(k.k, keySchema(l.s), i+1, nil, emit)
		}
		c, err := e.kidLoc(l, k)
		if err != nil {
			return err
		}
		if op == abi.OpMapVals {
			if c.kind == nodeBlob {
				return e.mem(c).sel(c.val, c.s, i+1, nil, emit)
			}
			return e.sel(c, i+1, emit)
		}
		if c.kind != nodeBlob {
			return e.errAt(l, i, "%s navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", op)
		}
		return e.mem(l).sel(abi.List(k.k, c.val), Schema{}, i+1, nil, emit)
	})
}

// materialize reads a ranged map or set node into a value.
func (e *engine) materialize(l *loc, i int) (abi.Value, error) {
	var entries []abi.MapEntry
	var elems []abi.Value
	err := e.each(l, abi.OpAll, func(k kid) error {
		if l.kind == nodeSet {
			elems = append(elems, k.k)
			return nil
		}
		if !k.isBlob || kindOf(valSchema(l.s, k.k), false) != nodeBlob {
			return e.errAt(l, i, "the range holds subindexed values, which are not returned whole; navigate into them (mapVals, mapKeys)")
		}
		v, err := abi.Decode(k.raw)
		if err != nil {
			return e.corrupt(k.ckey, "the value", err)
		}
		entries = append(entries, abi.MapEntry{Key: k.k, Val: v})
		return nil
	})
	if err != nil {
		return abi.Nil(), err
	}
	if l.kind == nodeSet {
		return abi.Set(elems...), nil
	}
	return abi.Map(entries...), nil
}

// ---- transform ----

func (e *engine) transform() ([]Change, error) {
	root := e.rootLoc()
	var err error
	if root.kind == nodeBlob {
		err = e.xfRootBlob(root)
	} else {
		err = e.xfAt(root, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := e.flushMetas(); err != nil {
		return nil, err
	}
	return e.changes, nil
}

func (e *engine) report(kind ChangeKind, path []abi.Value, old, nv abi.Value, oldKnown bool) {
	e.changes = append(e.changes, Change{Path: slices.Clone(path), Kind: kind, Old: old, New: nv, OldKnown: oldKnown})
}

// writes

func (e *engine) set(key, val []byte) error {
	if err := e.w.Set(key, val, nil); err != nil {
		return fmt.Errorf("storage: write: %w", err)
	}
	return nil
}

func (e *engine) del(key []byte) error {
	if err := e.w.Delete(key, nil); err != nil {
		return fmt.Errorf("storage: write: %w", err)
	}
	return nil
}

// deleteSubtree removes the keys [lo, hi) and forgets the metadata cached
// for them (the nodes are now absent).
func (e *engine) deleteRange(lo, hi []byte) error {
	if err := e.w.DeleteRange(lo, hi, nil); err != nil {
		return fmt.Errorf("storage: write: %w", err)
	}
	for k, m := range e.metas {
		if k >= string(lo) && k < string(hi) {
			*m = meta{kind: m.kind}
		}
	}
	return nil
}

func (e *engine) deleteSubtree(p []byte) error { return e.deleteRange(p, keyenc.TupleEnd(p)) }

func (e *engine) flushMetas() error {
	keys := make([]string, 0, len(e.metas))
	for k, m := range e.metas {
		if m.dirty {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := e.flushMeta(k); err != nil {
			return err
		}
	}
	return nil
}

// flushMeta writes the cached metadata of the node at prefix k.
func (e *engine) flushMeta(k string) error {
	m := e.metas[k]
	if !m.dirty {
		return nil
	}
	m.dirty = false
	if !m.exists {
		return nil
	}
	return e.set(metaKey([]byte(k)), encodeMeta(m.kind, m))
}

// encodeBlob encodes a value for place c and checks its size.
func (e *engine) encodeBlob(c *loc, v abi.Value, i int) ([]byte, error) {
	enc, err := abi.Encode(v)
	if err != nil {
		return nil, e.errAt(c, i, "the value cannot be stored: %v", err)
	}
	if len(enc) > MaxValueSize {
		return nil, e.wrap(c, i, errTooLarge("the value at "+locString(c.path), len(enc), MaxValueSize,
			"keep large collections in a subindexed map, set or list (Schema.Subindexed)"))
	}
	return enc, nil
}

func (e *engine) xfRootBlob(l *loc) error {
	n := e.path[0]
	if len(e.path) == 1 && (n.Op == abi.OpSet || n.Op == abi.OpRemove) {
		nv := n.Arg
		if n.Op == abi.OpRemove {
			nv = abi.Nil()
		}
		if se := checkValue(l.s, nv, "$"); se != nil {
			return e.wrap(l, 0, se)
		}
		if err := e.putRoot(l, nv); err != nil {
			return err
		}
		e.report(ChangeReplace, nil, abi.Nil(), nv, false)
		return nil
	}
	old, _, err := e.loadBlob(l)
	if err != nil {
		return e.wrap(l, 0, err)
	}
	m := e.mem(l)
	r, err := m.xf(old, l.s, 0, nil)
	if err != nil || !r.changed {
		return err
	}
	nv := r.v
	if r.removed {
		nv = abi.Nil()
	}
	if err := e.putRoot(l, nv); err != nil {
		return err
	}
	if r.fine {
		e.changes = append(e.changes, m.changes...)
	} else {
		e.report(ChangeReplace, nil, old, nv, true)
	}
	return nil
}

func (e *engine) putRoot(l *loc, nv abi.Value) error {
	if nv.IsNil() {
		return e.del(l.key)
	}
	enc, err := e.encodeBlob(l, nv, len(e.path)-1)
	if err != nil {
		return err
	}
	return e.set(l.key, enc)
}

// xfAt applies path[i:] at exploded node l.
func (e *engine) xfAt(l *loc, i int) error {
	n := e.path[i]
	if msg := navApplies(l.s, n); msg != "" {
		return e.errAt(l, i, "%s", msg)
	}
	switch n.Op {
	case abi.OpSet:
		return e.replaceNode(l, n.Arg, i)
	case abi.OpRemove:
		return e.removeNode(l, i)
	case abi.OpMerge:
		for _, en := range orderedEntries(n.Arg) {
			if err := e.putChildValue(l, en.Key, en.Val, i); err != nil {
				return err
			}
		}
		return nil
	case abi.OpAppend, abi.OpPrepend:
		if l.kind == nodeSet {
			return e.setAdd(l, n.Items, i)
		}
		return e.listAdd(l, i)
	case abi.OpKey, abi.OpMustKey:
		k := n.Arg
		cs, se := childSchema(l.s, k, locString(l.path))
		if se != nil {
			return e.wrap(l, i, se)
		}
		c, err := e.child(l, k, cs, i)
		if err != nil {
			return err
		}
		if l.rng != nil && l.rng.limit > 0 {
			return e.errAt(l, i, "%s right after a sortedRange with a limit is not supported; apply the key to the collection itself", n.Op)
		}
		if !l.inRange(c.key) {
			return nil
		}
		if l.kind == nodeSet {
			_, found, err := e.getRaw(c.key)
			if err != nil || !found {
				return err
			}
			return e.setElemXf(l, k, i)
		}
		if c.kind == nodeBlob {
			return e.xfBlobChild(l, c, i+1, n.Op == abi.OpMustKey)
		}
		if n.Op == abi.OpMustKey {
			if ok, err := e.exists(c); err != nil || !ok {
				return err
			}
		}
		return e.xfAt(c, i+1)
	case abi.OpMapVals, abi.OpMapKeys, abi.OpAll, abi.OpFirst, abi.OpLast:
		return e.xfEach(l, i)
	case abi.OpNth:
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		idx, ok := listIndex(n.Index, int(m.size))
		if !ok {
			return e.errAt(l, i, "nth(%d) is out of range: the list has %d items; use append or prepend to add items", n.Index, m.size)
		}
		return e.listItemXf(l, e.item(l, m, idx), i)
	case abi.OpSortedRange:
		nl, err := e.withRange(l, i)
		if err != nil {
			return err
		}
		return e.xfAt(nl, i+1)
	case abi.OpFilter:
		if n.Filter != abi.FilterExists {
			return e.errAt(l, i, "filter(%s) cannot compare a whole subindexed %s; navigate into it first (all, mapVals)", n.Filter, l.s.Type())
		}
		if ok, err := e.exists(l); err != nil || !ok {
			return err
		}
		return e.xfAt(l, i+1)
	case abi.OpNilToVal:
		ok, err := e.exists(l)
		if err != nil {
			return err
		}
		if ok {
			return e.xfAt(l, i+1)
		}
		m := e.mem(l)
		r, err := m.xf(n.Arg, l.s, i+1, nil)
		if err != nil {
			return err
		}
		if r.removed {
			return nil
		}
		return e.replaceNode(l, r.v, i)
	}
	return e.errAt(l, i, "%s cannot appear in a transform", n.Op)
}

// xfEach is mapVals, mapKeys, all, first and last on exploded node l.
func (e *engine) xfEach(l *loc, i int) error {
	op := e.path[i].Op
	if l.kind == nodeList {
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		switch {
		case m.size == 0:
			return nil
		case op == abi.OpFirst:
			return e.listItemXf(l, e.item(l, m, 0), i)
		case op == abi.OpLast:
			return e.listItemXf(l, e.item(l, m, int(m.size-1)), i)
		}
		return e.listAllXf(l, i)
	}
	kids, err := e.collect(l, op)
	if err != nil {
		return e.wrap(l, i, err)
	}
	for _, c := range kids {
		if l.kind != nodeSet && op != abi.OpMapVals {
			// An earlier entry may have been renamed onto this one, or
			// removed it: walk what is there now.
			if c.kind == nodeBlob {
				c.loaded = false
				if _, ok, err := e.loadBlob(c); err != nil || !ok {
					if err != nil {
						return e.wrap(c, i, err)
					}
					continue
				}
			} else if ok, err := e.exists(c); err != nil || !ok {
				if err != nil {
					return e.wrap(c, i, err)
				}
				continue
			}
		}
		var err error
		switch {
		case l.kind == nodeSet:
			err = e.setElemXf(l, c.val, i)
		case op == abi.OpMapVals && c.kind == nodeBlob:
			err = e.xfBlobChild(l, c, i+1, false)
		case op == abi.OpMapVals:
			err = e.xfAt(c, i+1)
		case op == abi.OpMapKeys:
			err = e.renameXf(l, c, i)
		default:
			err = e.entryXf(l, c, i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// xfBlobChild applies path[i:] to blob child c of map-like node l (reached
// by key or mustKey when must, or by mapVals).
func (e *engine) xfBlobChild(l *loc, c *loc, i int, must bool) error {
	if !must && !c.loaded && (l.kind == nodeRootMap || l.kind == nodeRecord) && i == len(e.path)-1 {
		// key + set/remove where no size is kept: write without reading.
		switch n := e.path[i]; n.Op {
		case abi.OpSet, abi.OpRemove:
			nv := n.Arg
			if n.Op == abi.OpRemove {
				nv = abi.Nil()
			}
			if se := checkValue(c.s, nv, locString(c.path)); se != nil {
				return e.wrap(c, i, se)
			}
			return e.putBlob(l, c, abi.Nil(), false, false, nv, false, nil, i)
		}
	}
	old, present, err := e.loadBlob(c)
	if err != nil {
		return e.wrap(c, i, err)
	}
	if must && !present {
		return nil
	}
	m := e.mem(c)
	r, err := m.xf(old, c.s, i, nil)
	if err != nil || !r.changed {
		return err
	}
	nv := r.v
	if r.removed {
		nv = abi.Nil()
	}
	return e.putBlob(l, c, old, present, true, nv, r.fine, m.changes, i)
}

// putBlob writes nv (nil: absent) as the new value of blob child c of
// map-like node l, keeps l's size and existence, and reports the change.
// present and old describe the child before when known; sub are the finer
// changes of the in-memory engine, used when fine.
func (e *engine) putBlob(l, c *loc, old abi.Value, present, known bool, nv abi.Value, fine bool, sub []Change, i int) error {
	after := !nv.IsNil()
	if after {
		enc, err := e.encodeBlob(c, nv, i)
		if err != nil {
			return err
		}
		if err := e.set(c.key, enc); err != nil {
			return err
		}
	} else if present || !known {
		if err := e.del(c.key); err != nil {
			return err
		}
	}
	var err error
	switch {
	case known && !present && after:
		err = e.childAdded(l)
	case known && present && !after:
		err = e.childRemoved(l)
	case !known && after:
		err = e.ensureExists(l)
	}
	if err != nil {
		return e.wrap(l, i, err)
	}
	switch {
	case !known && after:
		e.report(ChangeReplace, c.path, abi.Nil(), nv, false)
	case !known:
		e.report(ChangeKeyRemove, c.path, abi.Nil(), abi.Nil(), false)
	case !present && after:
		e.report(ChangeKeyAdd, c.path, abi.Nil(), nv, false)
	case present && !after:
		e.report(ChangeKeyRemove, c.path, old, abi.Nil(), true)
	case !present:
	case fine:
		e.changes = append(e.changes, sub...)
	default:
		e.report(ChangeReplace, c.path, old, nv, true)
	}
	return nil
}

// childAdded records that exploded node l gained a child: it exists now,
// and a subindexed map or set counts one more element.
func (e *engine) childAdded(l *loc) error {
	if l.parent == nil {
		return nil
	}
	if err := e.ensureExists(l); err != nil {
		return err
	}
	if l.kind == nodeMap || l.kind == nodeSet {
		m, err := e.metaOf(l)
		if err != nil {
			return err
		}
		m.size++
		m.dirty = true
	}
	return nil
}

// childRemoved records that subindexed map or set l lost a child.
func (e *engine) childRemoved(l *loc) error {
	if l.kind != nodeMap && l.kind != nodeSet {
		return nil
	}
	m, err := e.metaOf(l)
	if err != nil {
		return err
	}
	m.size--
	m.dirty = true
	return nil
}

// ensureExists creates exploded node l (empty) when it is absent, creating
// its ancestors as needed, and reports it.
func (e *engine) ensureExists(l *loc) error {
	if l.parent == nil || l.kind == nodeBlob {
		return nil
	}
	m, err := e.metaOf(l)
	if err != nil || m.exists {
		return err
	}
	if err := e.childAdded(l.parent); err != nil {
		return err
	}
	*m = meta{kind: l.kind, exists: true, dirty: true}
	if l.parent.kind != nodeList {
		e.report(ChangeKeyAdd, l.path, abi.Nil(), emptyOf(l.s), false)
	}
	return nil
}

// removeNode removes exploded node l (or, for a range, every element in
// it) with one range deletion, and reports it.
func (e *engine) removeNode(l *loc, i int) error {
	if l.rng != nil {
		return e.removeRange(l, i)
	}
	p := l.parent
	if p == nil {
		if err := e.deleteRange(append(slices.Clip(l.key), 0x01), append(slices.Clip(l.key), 0xFF)); err != nil {
			return err
		}
		e.report(ChangeReplace, nil, abi.Nil(), abi.Nil(), false)
		return nil
	}
	if p.kind == nodeList {
		if list, ok := e.deferred[string(p.key)]; ok {
			e.deferred[string(p.key)] = append(list, l.seq)
		} else if err := e.listRemoveAt(p, l.seq); err != nil {
			return e.wrap(l, i, err)
		}
		e.report(ChangeListRemove, l.path, abi.Nil(), abi.Nil(), false)
		return nil
	}
	known := p.kind == nodeMap
	if known {
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		if !m.exists {
			return nil
		}
	}
	if err := e.deleteSubtree(l.key); err != nil {
		return err
	}
	if err := e.childRemoved(p); err != nil {
		return e.wrap(l, i, err)
	}
	e.report(ChangeKeyRemove, l.path, abi.Nil(), abi.Nil(), false)
	return nil
}

// removeRange removes every child of ranged node l.
func (e *engine) removeRange(l *loc, i int) error {
	kids, err := e.collect(l, abi.OpAll)
	if err != nil || len(kids) == 0 {
		return err
	}
	first, last := kids[0].key, kids[len(kids)-1].key
	if bytes.Compare(first, last) > 0 {
		first, last = last, first
	}
	if err := e.deleteRange(first, keyenc.TupleEnd(last)); err != nil {
		return err
	}
	for _, c := range kids {
		switch {
		case l.kind == nodeSet:
			e.report(ChangeElemRemove, l.path, c.val, abi.Nil(), true)
		case c.kind == nodeBlob:
			e.report(ChangeKeyRemove, c.path, c.val, abi.Nil(), true)
		default:
			e.report(ChangeKeyRemove, c.path, abi.Nil(), abi.Nil(), false)
		}
		if err := e.childRemoved(l); err != nil {
			return e.wrap(l, i, err)
		}
	}
	return nil
}

// replaceNode sets exploded node l to x: removes what was there with one
// range deletion and writes x exploded into element keys.
func (e *engine) replaceNode(l *loc, x abi.Value, i int) error {
	if se := checkValue(l.s, x, locString(l.path)); se != nil {
		return e.wrap(l, i, se)
	}
	if x.IsNil() {
		if l.parent != nil && l.parent.kind == nodeList {
			return e.errAt(l, i, "the items of this list are subindexed %ss, which cannot be nil; set an empty %s or remove the item", l.s.Type(), l.s.Type())
		}
		return e.removeNode(l, i)
	}
	if l.rng != nil {
		if err := e.removeRange(l, i); err != nil {
			return err
		}
		if l.kind == nodeSet {
			return e.setAdd(l, x.Items(), i)
		}
		for _, en := range orderedEntries(x) {
			if err := e.putChildValue(l, en.Key, en.Val, i); err != nil {
				return err
			}
		}
		return nil
	}
	p := l.parent
	known, existed := false, false
	switch {
	case p == nil:
		if err := e.deleteRange(append(slices.Clip(l.key), 0x01), append(slices.Clip(l.key), 0xFF)); err != nil {
			return err
		}
		if err := e.explode(l, x, i); err != nil {
			return err
		}
		e.report(ChangeReplace, nil, abi.Nil(), x, false)
		return nil
	case p.kind == nodeMap:
		m, err := e.metaOf(l)
		if err != nil {
			return e.wrap(l, i, err)
		}
		known, existed = true, m.exists
	case p.kind == nodeList:
		known, existed = true, true
	}
	if err := e.deleteSubtree(l.key); err != nil {
		return err
	}
	var err error
	switch {
	case known && !existed:
		err = e.childAdded(p)
	case !known:
		err = e.ensureExists(p)
	}
	if err != nil {
		return e.wrap(l, i, err)
	}
	if err := e.explode(l, x, i); err != nil {
		return err
	}
	switch {
	case p.kind == nodeList:
		e.report(ChangeReplace, l.path, abi.Nil(), x, false)
	case known && !existed:
		e.report(ChangeKeyAdd, l.path, abi.Nil(), x, false)
	default:
		e.report(ChangeReplace, l.path, abi.Nil(), x, false)
	}
	return nil
}

// explode writes value x (already checked against l's schema) into the
// empty place l: element keys and metadata for exploded nodes, one blob
// otherwise.
func (e *engine) explode(l *loc, x abi.Value, i int) error {
	if l.kind == nodeBlob {
		if x.IsNil() && (l.parent == nil || l.parent.kind != nodeList) {
			return nil // nil is absence, except as a list item
		}
		enc, err := e.encodeBlob(l, x, i)
		if err != nil {
			return err
		}
		return e.set(l.key, enc)
	}
	m := &meta{kind: l.kind, exists: true, dirty: true}
	if l.parent != nil {
		if e.metas == nil {
			e.metas = map[string]*meta{}
		}
		e.metas[string(l.key)] = m
	}
	switch l.kind {
	case nodeSet:
		for _, el := range x.Items() {
			c, err := e.child(l, el, l.s.Elem(), i)
			if err != nil {
				return err
			}
			if err := e.set(c.key, nil); err != nil {
				return err
			}
			m.size++
		}
	case nodeList:
		for j, it := range x.Items() {
			if err := e.explode(e.item(l, m, j), it, i); err != nil {
				return err
			}
			m.size++
		}
	default: // maps and records
		for _, en := range x.Entries() {
			if en.Val.IsNil() {
				continue
			}
			c, err := e.child(l, en.Key, valSchema(l.s, en.Key), i)
			if err != nil {
				return err
			}
			if err := e.explode(c, en.Val, i); err != nil {
				return err
			}
			m.size++
		}
	}
	return nil
}

// putChildValue is key(k).set(v) on map-like node l.
func (e *engine) putChildValue(l *loc, k, v abi.Value, i int) error {
	cs, se := childSchema(l.s, k, locString(l.path))
	if se == nil {
		se = checkValue(cs, v, locString(append(slices.Clip(l.path), k)))
	}
	if se != nil {
		return e.wrap(l, i, se)
	}
	c, err := e.child(l, k, cs, i)
	if err != nil {
		return err
	}
	if v.IsNil() && !l.inRange(c.key) {
		return nil // removing a key outside a range: it is not in it
	}
	if c.kind != nodeBlob {
		return e.replaceNode(c, v, i)
	}
	if l.kind == nodeMap {
		old, present, err := e.loadBlob(c)
		if err != nil {
			return e.wrap(c, i, err)
		}
		if present && abi.Equal(old, v) || !present && v.IsNil() {
			return nil
		}
		return e.putBlob(l, c, old, present, true, v, false, nil, i)
	}
	return e.putBlob(l, c, abi.Nil(), false, false, v, false, nil, i)
}

// removeChild removes child c (found by a scan) of map-like node l.
func (e *engine) removeChild(l, c *loc, i int) error {
	if c.kind == nodeBlob {
		return e.putBlob(l, c, c.val, true, true, abi.Nil(), false, nil, i)
	}
	return e.removeNode(c, i)
}

// renameXf is mapKeys followed by path[i+1:] on child c of map-like node l.
func (e *engine) renameXf(l, c *loc, i int) error {
	k := c.path[len(c.path)-1]
	r, err := e.mem(l).xf(k, keySchema(l.s), i+1, nil)
	if err != nil || !r.changed {
		return err
	}
	if r.removed || r.v.IsNil() {
		return e.removeChild(l, c, i)
	}
	nk := r.v
	if abi.Equal(nk, k) {
		return nil
	}
	if c.kind == nodeBlob {
		if err := e.removeChild(l, c, i); err != nil {
			return err
		}
		return e.putChildValue(l, nk, c.val, i)
	}
	cs, se := childSchema(l.s, nk, locString(l.path))
	if se != nil {
		return e.wrap(l, i, se)
	}
	if cs.n != c.s.n {
		return e.errAt(c, i, "mapKeys() cannot rename a subindexed field of a record to a field of another schema")
	}
	nc, err := e.child(l, nk, cs, i)
	if err != nil {
		return err
	}
	m, err := e.metaOf(nc)
	if err != nil {
		return e.wrap(nc, i, err)
	}
	destExisted := m.exists
	if err := e.moveSubtree(c.key, nc.key); err != nil {
		return e.wrap(c, i, err)
	}
	if err := e.deleteSubtree(c.key); err != nil {
		return err
	}
	if destExisted {
		if err := e.childRemoved(l); err != nil {
			return e.wrap(l, i, err)
		}
	}
	e.report(ChangeKeyRemove, c.path, abi.Nil(), abi.Nil(), false)
	e.report(ChangeResync, nc.path, abi.Nil(), abi.Nil(), false)
	return nil
}

// entryXf is all, first or last followed by path[i+1:] on child c of
// map-like node l: the rest of the path sees the entry [key, value].
func (e *engine) entryXf(l, c *loc, i int) error {
	op := e.path[i].Op
	if c.kind != nodeBlob {
		return e.errAt(l, i, "%s navigates [key, value] entries, and the values here are subindexed (not returned whole); use mapKeys() or mapVals()", op)
	}
	k := c.path[len(c.path)-1]
	r, err := e.mem(l).xf(abi.List(k, c.val), Schema{}, i+1, nil)
	if err != nil || !r.changed {
		return err
	}
	if r.removed || r.v.IsNil() {
		return e.removeChild(l, c, i)
	}
	if r.v.Kind() != abi.KindList || r.v.Len() != 2 {
		return e.errAt(c, i, "%s on a map navigates [key, value] entries; the transform made %s; set a [key, value] list or remove the entry", op, shortValue(r.v))
	}
	nk, nv := r.v.Index(0), r.v.Index(1)
	if abi.Equal(nk, k) {
		if se := checkValue(c.s, nv, locString(c.path)); se != nil {
			return e.wrap(c, i, se)
		}
		return e.putBlob(l, c, c.val, true, true, nv, false, nil, i)
	}
	if err := e.removeChild(l, c, i); err != nil {
		return err
	}
	return e.putChildValue(l, nk, nv, i)
}

// ---- subindexed sets ----

// setAdd adds elements to subindexed set l.
func (e *engine) setAdd(l *loc, items []abi.Value, i int) error {
	es := l.s.Elem()
	for _, x := range items {
		if se := checkKey(es, x, locString(l.path)); se != nil {
			return e.wrap(l, i, se)
		}
	}
	for _, x := range items {
		c, err := e.child(l, x, es, i)
		if err != nil {
			return err
		}
		_, found, err := e.getRaw(c.key)
		if err != nil {
			return e.wrap(l, i, err)
		}
		if found {
			continue
		}
		if err := e.childAdded(l); err != nil {
			return e.wrap(l, i, err)
		}
		if err := e.set(c.key, nil); err != nil {
			return err
		}
		e.report(ChangeElemAdd, l.path, abi.Nil(), x, false)
	}
	return nil
}

// setElemXf applies path[i+1:] to element x (present) of subindexed set l.
func (e *engine) setElemXf(l *loc, x abi.Value, i int) error {
	r, err := e.mem(l).xf(x, l.s.Elem(), i+1, nil)
	if err != nil || !r.changed {
		return err
	}
	c, err := e.child(l, x, l.s.Elem(), i)
	if err != nil {
		return err
	}
	if !r.removed && !r.v.IsNil() {
		if se := checkKey(l.s.Elem(), r.v, locString(l.path)); se != nil {
			return e.wrap(l, i, se)
		}
	}
	if err := e.del(c.key); err != nil {
		return err
	}
	if err := e.childRemoved(l); err != nil {
		return e.wrap(l, i, err)
	}
	e.report(ChangeElemRemove, l.path, x, abi.Nil(), true)
	if r.removed || r.v.IsNil() {
		return nil
	}
	return e.setAdd(l, []abi.Value{r.v}, i)
}

// ---- subindexed lists ----

// listAdd is append and prepend (step i) on subindexed list l.
func (e *engine) listAdd(l *loc, i int) error {
	n := e.path[i]
	es := l.s.Elem()
	for j, x := range n.Items {
		if se := checkValue(es, x, locString(l.path)+fmt.Sprintf("[+%d]", j)); se != nil {
			return e.wrap(l, i, se)
		}
		if x.IsNil() && es.exploded() {
			return e.errAt(l, i, "the items of this list are subindexed %ss, which cannot be nil; add an empty %s", es.Type(), es.Type())
		}
	}
	if len(n.Items) == 0 {
		return nil
	}
	if err := e.ensureExists(l); err != nil {
		return e.wrap(l, i, err)
	}
	m, err := e.metaOf(l)
	if err != nil {
		return e.wrap(l, i, err)
	}
	m.dirty = true
	if n.Op == abi.OpPrepend {
		m.head -= int64(len(n.Items))
		m.size += int64(len(n.Items))
		for j, x := range n.Items {
			c := e.item(l, m, j)
			if err := e.explode(c, x, i); err != nil {
				return err
			}
			e.report(ChangeListInsert, c.path, abi.Nil(), x, false)
		}
		return nil
	}
	for _, x := range n.Items {
		c := e.item(l, m, int(m.size))
		m.size++
		if err := e.explode(c, x, i); err != nil {
			return err
		}
		e.report(ChangeListInsert, c.path, abi.Nil(), x, false)
	}
	return nil
}

// listItemXf applies path[i+1:] to item c of subindexed list l (navigated
// by step i: nth, first or last).
func (e *engine) listItemXf(l, c *loc, i int) error {
	if c.kind != nodeBlob {
		return e.xfAt(c, i+1)
	}
	old, _, err := e.loadBlob(c)
	if err != nil {
		return e.wrap(c, i, err)
	}
	m := e.mem(c)
	r, err := m.xf(old, c.s, i+1, nil)
	if err != nil || !r.changed {
		return err
	}
	if r.removed {
		if list, ok := e.deferred[string(l.key)]; ok {
			e.deferred[string(l.key)] = append(list, c.seq)
		} else if err := e.listRemoveAt(l, c.seq); err != nil {
			return e.wrap(c, i, err)
		}
		e.report(ChangeListRemove, c.path, old, abi.Nil(), true)
		return nil
	}
	enc, err := e.encodeBlob(c, r.v, i)
	if err != nil {
		return err
	}
	if err := e.set(c.key, enc); err != nil {
		return err
	}
	if r.fine {
		e.changes = append(e.changes, m.changes...)
	} else {
		e.report(ChangeReplace, c.path, old, r.v, true)
	}
	return nil
}

// listAllXf is all followed by path[i+1:] on subindexed list l. Removals
// are applied at the end in one compaction pass.
func (e *engine) listAllXf(l *loc, i int) error {
	m, err := e.metaOf(l)
	if err != nil {
		return e.wrap(l, i, err)
	}
	if e.deferred == nil {
		e.deferred = map[string][]int{}
	}
	lk := string(l.key)
	if _, nested := e.deferred[lk]; nested {
		return e.errAt(l, i, "the list is already being walked by an outer all()")
	}
	e.deferred[lk] = []int{}
	defer delete(e.deferred, lk)
	size := int(m.size)
	for o := 0; o < size; o++ {
		c := e.item(l, m, o)
		c.path[len(c.path)-1] = abi.Int(int64(o - len(e.deferred[lk])))
		if err := e.listItemXf(l, c, i); err != nil {
			return err
		}
	}
	removed := e.deferred[lk]
	if len(removed) == 0 {
		return nil
	}
	gone := make(map[int]bool, len(removed))
	for _, o := range removed {
		gone[o] = true
	}
	exploded := l.s.Elem().exploded()
	j := 0
	for o := 0; o < size; o++ {
		if gone[o] {
			continue
		}
		if o != j {
			if err := e.moveItem(l, m.head+int64(o), m.head+int64(j), exploded); err != nil {
				return e.wrap(l, i, err)
			}
		}
		j++
	}
	if err := e.deleteRange(e.seqKey(l, m.head+int64(j)), e.seqKey(l, m.head+int64(size))); err != nil {
		return err
	}
	m.size = int64(j)
	m.dirty = true
	return nil
}

// listRemoveAt removes the item at position idx of list l, moving the items
// on the shorter side of it by one.
func (e *engine) listRemoveAt(l *loc, idx int) error {
	m, err := e.metaOf(l)
	if err != nil {
		return err
	}
	exploded := l.s.Elem().exploded()
	n := int(m.size)
	if idx < n/2 {
		for j := idx - 1; j >= 0; j-- {
			if err := e.moveItem(l, m.head+int64(j), m.head+int64(j+1), exploded); err != nil {
				return err
			}
		}
		if err := e.deleteItem(e.seqKey(l, m.head), exploded); err != nil {
			return err
		}
		m.head++
	} else {
		for j := idx + 1; j < n; j++ {
			if err := e.moveItem(l, m.head+int64(j), m.head+int64(j-1), exploded); err != nil {
				return err
			}
		}
		if err := e.deleteItem(e.seqKey(l, m.head+int64(n-1)), exploded); err != nil {
			return err
		}
	}
	m.size--
	m.dirty = true
	return nil
}

func (e *engine) deleteItem(key []byte, exploded bool) error {
	if exploded {
		return e.deleteSubtree(key)
	}
	return e.del(key)
}

// moveItem moves the list item at sequence number from to sequence number
// to, overwriting what is there.
func (e *engine) moveItem(l *loc, from, to int64, exploded bool) error {
	fk, tk := e.seqKey(l, from), e.seqKey(l, to)
	if exploded {
		return e.moveSubtree(fk, tk)
	}
	raw, found, err := e.getRaw(fk)
	if err != nil {
		return err
	}
	if !found {
		return e.del(tk)
	}
	return e.set(tk, raw)
}

// moveSubtree copies every key of the subtree at from to the subtree at to,
// after clearing the latter. The source is left in place.
func (e *engine) moveSubtree(from, to []byte) error {
	// Pending metadata of the source must be in the batch before copying.
	keys := make([]string, 0)
	fromEnd := keyenc.TupleEnd(from)
	for k, m := range e.metas {
		if k >= string(from) && k < string(fromEnd) && m.dirty {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := e.flushMeta(k); err != nil {
			return err
		}
	}
	type kv struct{ k, v []byte }
	var kvs []kv
	it, err := e.r.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: fromEnd})
	if err != nil {
		return fmt.Errorf("storage: read: %w", err)
	}
	e.stats.seeks++
	for valid := it.First(); valid; valid = it.Next() {
		e.stats.keys++
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("storage: read: %w", err)
		}
		nk := append(slices.Clip(to), it.Key()[len(from):]...)
		kvs = append(kvs, kv{nk, slices.Clone(v)})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("storage: read: %w", err)
	}
	if err := e.deleteSubtree(to); err != nil {
		return err
	}
	for k := range e.metas {
		if k >= string(from) && k < string(fromEnd) || k >= string(to) && k < string(keyenc.TupleEnd(to)) {
			delete(e.metas, k) // re-read from the batch
		}
	}
	for _, x := range kvs {
		if err := e.set(x.k, x.v); err != nil {
			return err
		}
	}
	return nil
}
