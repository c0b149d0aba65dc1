package storage

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/squall-run/squall/abi"
)

// Snapshot is a consistent, read-only view of every PState of the store as
// committed when it was taken: a commit made afterwards is invisible to
// it, whole. Query topologies read one snapshot per invocation, so they
// see a microbatch's changes on every partition or on none.
//
// A Snapshot is safe for concurrent use. Close it when done: it pins the
// data it sees. [DB.Close] closes the snapshots still open (their Selects
// then fail with [ErrClosed]).
type Snapshot struct {
	db   *DB
	mu   sync.RWMutex // Select holds it shared, Close exclusively
	snap *pebble.Snapshot
}

// NewSnapshot takes a snapshot of the committed data.
func (db *DB) NewSnapshot() (*Snapshot, error) {
	if err := db.beginRead(); err != nil {
		return nil, err
	}
	defer db.endRead()
	s := &Snapshot{db: db, snap: db.pdb.NewSnapshot()}
	db.snapMu.Lock()
	if db.snaps == nil {
		db.snaps = map[*Snapshot]struct{}{}
	}
	db.snaps[s] = struct{}{}
	db.snapMu.Unlock()
	return s, nil
}

// closeSnapshots closes every snapshot still open; DB.Close calls it
// before closing Pebble, which refuses to close with snapshots open.
func (db *DB) closeSnapshots() {
	db.snapMu.Lock()
	open := make([]*Snapshot, 0, len(db.snaps))
	for s := range db.snaps {
		open = append(open, s)
	}
	db.snapMu.Unlock()
	for _, s := range open {
		s.Close()
	}
}

// Select is [DB.Select] on the snapshot.
func (s *Snapshot) Select(ps *PState, partition uint32, p abi.Path) ([]abi.Value, error) {
	if err := checkPath(p, abi.ModeSelect, ps.id); err != nil {
		return nil, err
	}
	if err := s.db.beginRead(); err != nil {
		return nil, err
	}
	defer s.db.endRead()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.snap == nil {
		return nil, ErrClosed
	}
	e := newEngine(ps, partition, p, s.snap, nil)
	return e.selectAll()
}

// Close releases the snapshot. Close after Close does nothing.
func (s *Snapshot) Close() {
	s.mu.Lock()
	snap := s.snap
	s.snap = nil
	s.mu.Unlock()
	if snap != nil {
		_ = snap.Close()
		s.db.snapMu.Lock()
		delete(s.db.snaps, s)
		s.db.snapMu.Unlock()
	}
}
