package storage

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
)

// PState is a declared PState of a module: its name and its validated
// [Schema]. It is a descriptor, not a handle on data: read a partition of it
// with [DB.Select] (committed data) or [Batch.Select] (including the batch's
// own writes), and write it with [Batch.Transform].
//
// # Storage model
//
// Every key of a PState partition starts with the partition's PState prefix
// P (see layout.go); below it, keys are tuples of order-preserving encoded
// values (package keyenc):
//
//   - A top-level map stores each top-level key k at P keyenc(k).
//   - A top-level leaf, or a record with no subindexed field, is one value at
//     P.
//   - A subindexed map or set at prefix Q stores each element e at
//     Q keyenc(e) (the value, or nothing for a set) and its size at Q 0x00,
//     so view(size) is one read and sortedRange is one seek plus one step per
//     element.
//   - A subindexed list at Q stores item i at Q keyenc(head+i) and
//     [head, size] at Q 0x00: append, prepend, first, last and nth are O(1);
//     removing item i moves the items on its shorter side by one (O(min(i,
//     size-i)) writes).
//   - A record with a subindexed field is exploded: each field f at
//     Q keyenc(f), and a marker at Q 0x00.
//   - Everything else — inline maps, sets, lists, records and leaves — is one
//     canonical MessagePack blob (at most [MaxValueSize] bytes) at its key,
//     read and rewritten whole, navigated in memory (see [TransformValue]).
//
// # Semantics
//
// Paths behave as on plain values (see [SelectValue] and [TransformValue]),
// Specter style: nil navigates like an empty collection and means absent
// (setting nil in a map or set removes the entry; list items may be nil);
// key navigates to nil for an absent key, mustKey nowhere; all, mapVals,
// mapKeys, first, last, sortedRange and filter apply the rest of a transform
// to every value they reach, in key order (ascending, or descending after a
// reverse range); incr counts nil as 0. The differences are about cost:
//
//   - key+set and key+remove on the top-level map or a record field write
//     without reading, so their [Change] does not know the old value.
//   - A subindexed collection is not returned whole by a select: navigate
//     into it. A sortedRange of one is returned as a map or set.
//   - view(size) is O(1) on subindexed collections, O(n) on the top-level
//     map (no size is kept, so that writes need not read).
//   - A transform that walks a subindexed collection (all, mapVals, mapKeys,
//     a range) first collects the keys it walks, so it holds them in memory.
//
// A PState is immutable and safe for concurrent use.
type PState struct {
	module, name string
	id           string // module/name, for messages
	schema       Schema
	rootKind     nodeKind
}

// NewPState declares PState name of module with schema. It checks both
// names with [ValidateName] and the schema with [Schema.Validate],
// reporting every schema problem at once.
func NewPState(module, name string, schema Schema) (*PState, error) {
	if err := ValidateName("module name", module); err != nil {
		return nil, err
	}
	if err := ValidateName("PState name", name); err != nil {
		return nil, err
	}
	if err := schema.Validate(); err != nil {
		return nil, &DeclareError{PState: module + "/" + name, Err: err}
	}
	return &PState{module: module, name: name, id: module + "/" + name, schema: schema, rootKind: kindOf(schema, true)}, nil
}

// DeclareError reports a PState that cannot be declared; Err is the
// [SchemaErrors] listing every problem of its schema.
type DeclareError struct {
	PState string // module/name
	Err    error
}

// Error renders the PState and its schema problems.
func (e *DeclareError) Error() string {
	return "storage: PState " + e.PState + ": " + strings.TrimPrefix(e.Err.Error(), "storage: ")
}

// Unwrap returns the schema errors.
func (e *DeclareError) Unwrap() error { return e.Err }

// Module returns the name of the PState's module.
func (ps *PState) Module() string { return ps.module }

// Name returns the PState's name.
func (ps *PState) Name() string { return ps.name }

// Schema returns the PState's schema.
func (ps *PState) Schema() Schema { return ps.schema }

// String returns "module/name".
func (ps *PState) String() string { return ps.id }

// Select runs a select path on one partition of ps as committed, and returns
// every value the path navigates to, in order (maps and sets in key order).
// The returned slice and values belong to the caller.
// It reads a consistent snapshot. Navigating to a whole subindexed
// collection is an error (navigate into it: all, mapVals, sortedRange, view);
// a sortedRange of one is returned as a map or set. Errors are [*PathError]s
// (or [ErrClosed]).
//
// Select is safe for concurrent use, also with commits.
func (db *DB) Select(ps *PState, partition uint32, p abi.Path) ([]abi.Value, error) {
	if err := checkPath(p, abi.ModeSelect, ps.id); err != nil {
		return nil, err
	}
	if err := db.beginRead(); err != nil {
		return nil, err
	}
	defer db.endRead()
	var r pebble.Reader = db.pdb
	if !singleRead(ps, p) {
		snap := db.pdb.NewSnapshot()
		defer snap.Close()
		r = snap
	}
	e := newEngine(ps, partition, p, r, nil)
	return e.selectAll()
}

// SelectOne is [DB.Select] for a path that must navigate to exactly one
// value (nil included, as for an absent key); any other count is an error
// that says how many there were.
func (db *DB) SelectOne(ps *PState, partition uint32, p abi.Path) (abi.Value, error) {
	vs, err := db.Select(ps, partition, p)
	return one(ps, p, vs, err)
}

// Select is [DB.Select] on what the batch sees: the committed data and the
// batch's own writes.
func (b *Batch) Select(ps *PState, partition uint32, p abi.Path) ([]abi.Value, error) {
	if err := checkPath(p, abi.ModeSelect, ps.id); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	e := newEngine(ps, partition, p, b.pb, nil)
	return e.selectAll()
}

// SelectOne is [DB.SelectOne] on what the batch sees.
func (b *Batch) SelectOne(ps *PState, partition uint32, p abi.Path) (abi.Value, error) {
	vs, err := b.Select(ps, partition, p)
	return one(ps, p, vs, err)
}

func one(ps *PState, p abi.Path, vs []abi.Value, err error) (abi.Value, error) {
	if err != nil {
		return abi.Nil(), err
	}
	if len(vs) != 1 {
		return abi.Nil(), &PathError{PState: ps.id, Path: p.String(), Step: -1,
			Msg: fmt.Sprintf("selectOne needs exactly one value, the path navigated to %d; use select for zero or more (path %s)", len(vs), p)}
	}
	return vs[0], nil
}

// Transform runs a transform path (ending with a terminal: set, remove,
// incr, append, prepend or merge) on one partition of ps. Its writes go into
// the batch, atomic with the rest of it, and later reads through the batch
// see them. It returns the concrete changes it made, in order (see
// [Change]). Every written value is checked against the schema.
//
// A transform that fails leaves the batch as it was before the call. Errors
// are [*PathError]s (or [ErrBatchDone] / [ErrClosed]).
func (b *Batch) Transform(ps *PState, partition uint32, p abi.Path) ([]Change, error) {
	if err := checkPath(p, abi.ModeTransform, ps.id); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	n0, c0 := b.pb.Len(), b.pb.Count()
	e := newEngine(ps, partition, p, b.pb, b.pb)
	changes, err := e.transform()
	if err != nil {
		if b.pb.Count() != c0 {
			if rerr := b.rollbackTo(n0, c0); rerr != nil {
				return nil, fmt.Errorf("%w (and undoing its partial writes failed: %v; discard the batch)", err, rerr)
			}
		}
		return nil, err
	}
	return changes, nil
}

// rollbackTo replaces the batch's Pebble batch with one holding only its
// first n0 bytes (c0 operations): what it held before a failed transform.
// It copies the batch, so it is O(batch size), on the error path only.
func (b *Batch) rollbackTo(n0 int, c0 uint32) error {
	const headerLen = 12 // pebble batch header: seqnum (8) and count (4), little endian
	nb := b.db.pdb.NewIndexedBatch()
	if n0 > headerLen && c0 > 0 {
		repr := make([]byte, n0)
		copy(repr, b.pb.Repr()[:n0])
		binary.LittleEndian.PutUint64(repr[0:8], 0)
		binary.LittleEndian.PutUint32(repr[8:12], c0)
		tmp := b.db.pdb.NewBatch()
		if err := tmp.SetRepr(repr); err != nil {
			_ = nb.Close()
			return err
		}
		if err := nb.Apply(tmp, nil); err != nil {
			_ = nb.Close()
			return err
		}
		_ = tmp.Close()
	}
	_ = b.pb.Close()
	b.pb = nb
	return nil
}

// singleRead reports whether a select of p on ps reads at most one key
// (a point lookup), so it needs no snapshot for consistency.
func singleRead(ps *PState, p abi.Path) bool {
	switch ps.rootKind {
	case nodeBlob:
		return true
	case nodeRootMap:
		return len(p) > 0 && (p[0].Op == abi.OpKey || p[0].Op == abi.OpMustKey) && !ps.schema.Val().exploded()
	}
	return false
}
