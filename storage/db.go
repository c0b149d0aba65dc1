package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// FormatVersion is the on-disk format this binary reads and writes. It is
// written when a data directory is created and checked on every open; a
// change to the key layout or to a stored encoding bumps it.
const FormatVersion uint32 = 1

// Options configures [Open]. The zero value is usable.
type Options struct {
	// FS is the file system; nil means the OS file system. Tests use
	// vfs.NewMem() or an error-injecting FS.
	FS vfs.FS

	// Clock gives the append time stored with each depot record; nil means
	// time.Now. The committer reads it once per group commit, and the times
	// stored in one depot partition never decrease even when the clock
	// steps back.
	Clock func() time.Time
}

// DB is a node's durable store: one Pebble database holding every depot,
// PState and progress record of every module and partition on the node.
//
// Every write — a depot append, a [Batch] commit, a drop — goes through the
// DB's committer goroutine (group commit). It takes everything queued since
// it last looked, assigns depot offsets in queue order, merges it all into
// one Pebble batch and applies it, then hands the batch to the DB's syncer
// goroutine and goes on with the next group without waiting for the disk.
// The syncer waits for each group's WAL sync, in order — Pebble syncs
// everything written since its last sync at once, so concurrent groups share
// one fsync — then makes the group's depot offsets visible and acknowledges
// its writers. Both goroutines start in [Open] and stop in [DB.Close].
//
// Depot reads see a record only once it is durable, and offset N+1 never
// before N. PState keys and progress records are read from Pebble directly
// and, as with any Pebble commit with Sync, may be seen a moment before the
// WAL sync completes; a Batch's writes still appear all at once.
//
// A DB is safe for concurrent use. Work started after [DB.Close] fails with
// [ErrClosed].
type DB struct {
	dir   string
	pdb   *pebble.DB
	clock func() time.Time

	// closeMu is held shared by every operation that touches pdb outside the
	// committer, and exclusively by Close before it closes pdb.
	closeMu sync.RWMutex
	closed  atomic.Bool

	// snaps are the open snapshots (Close closes them first).
	snapMu sync.Mutex
	snaps  map[*Snapshot]struct{}

	// The commit queue. qmu guards queue, qclosed and failed.
	qmu     sync.Mutex
	queue   []*commitReq
	qclosed bool
	failed  error         // set by the committer when a Pebble commit fails
	kick    chan struct{} // buffered(1): work was queued
	stop    chan struct{} // closed by Close
	exited  chan struct{} // closed when the committer returns

	// The depot registry.
	depotsMu sync.Mutex
	depots   map[string]*Depot // by module "\x00" name

	c committer // owned by the committer goroutine
}

// Open opens (creating if needed) the store in dir, checks its format
// version and starts the DB's committer goroutine; [DB.Close] stops it.
func Open(dir string, opts Options) (*DB, error) {
	popts := &pebble.Options{FS: opts.FS, Logger: quietLogger{}}
	if popts.FS == nil {
		popts.FS = vfs.Default
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) || strings.Contains(err.Error(), "lock held")) {
		// Pebble's LOCK file is held: another process (or this one) has
		// the store open.
		return nil, fmt.Errorf("storage: open %s: the data directory is in use by another process (another squall on the same --data-dir?) or already open in this one: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	db := &DB{
		dir:    dir,
		pdb:    pdb,
		clock:  opts.Clock,
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		depots: make(map[string]*Depot),
	}
	if db.clock == nil {
		db.clock = time.Now
	}
	if err := db.checkFormat(); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	db.c.db = db
	go db.c.run()
	return db, nil
}

// quietLogger drops Pebble's informational messages (WAL replay and the
// like, printed on every open) and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(format string, args ...any) { pebble.DefaultLogger.Errorf(format, args...) }
func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

// checkFormat writes the format version into a new store and checks it in an
// existing one.
func (db *DB) checkFormat() error {
	v, closer, err := db.pdb.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		it, err := db.pdb.NewIter(nil)
		if err != nil {
			return fmt.Errorf("storage: open %s: %w", db.dir, err)
		}
		empty := !it.First()
		if err := it.Close(); err != nil {
			return fmt.Errorf("storage: open %s: %w", db.dir, err)
		}
		if !empty {
			return fmt.Errorf("%w: %s holds data but no Squall format version record (or the record was lost); open an empty directory or one Squall created", ErrNotSquallDir, db.dir)
		}
		if err := db.pdb.Set(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("storage: write format version to %s: %w", db.dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("storage: read format version of %s: %w", db.dir, err)
	}
	defer closer.Close()
	if len(v) != 4 {
		return fmt.Errorf("storage: %s has a malformed format version record (%d bytes); the directory is damaged", db.dir, len(v))
	}
	if got := binary.BigEndian.Uint32(v); got != FormatVersion {
		return &FormatError{Dir: db.dir, Found: got, Want: FormatVersion}
	}
	return nil
}

// FormatError reports a data directory written in a format this binary does
// not read.
type FormatError struct {
	Dir         string
	Found, Want uint32
}

func (e *FormatError) Error() string {
	if e.Found > e.Want {
		return fmt.Sprintf("storage: %s was written by a newer Squall (format version %d; this binary reads %d): upgrade the squall binary", e.Dir, e.Found, e.Want)
	}
	return fmt.Sprintf("storage: %s uses format version %d; this binary reads %d: migrate it with the Squall release that introduced version %d", e.Dir, e.Found, e.Want, e.Want)
}

// beginRead makes sure the store stays open until the matching endRead.
// Every read of pdb outside the committer is bracketed by the two; it fails
// with [ErrClosed] once Close has started.
func (db *DB) beginRead() error {
	db.closeMu.RLock()
	if db.closed.Load() {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// endRead ends what beginRead started.
func (db *DB) endRead() { db.closeMu.RUnlock() }

// Close stops the committer and releases the store. Writes the committer has
// already taken into a group finish (and are acknowledged as usual); writes
// still queued fail with [ErrClosed] and are not written. Close waits for the
// committer goroutine and for reads in progress. Every acknowledged durable
// write is already on disk, so Close flushes nothing. Close after Close
// returns [ErrClosed].
//
// Close must not run while a [Batch] is reading (Batch.Select,
// Batch.Transform): a Batch reads the store without the guard that DB reads
// take. Once Close has begun, Batch methods fail with [ErrClosed].
func (db *DB) Close() error {
	db.qmu.Lock()
	if db.qclosed {
		db.qmu.Unlock()
		return ErrClosed
	}
	db.qclosed = true
	pending := db.queue
	db.queue = nil
	db.qmu.Unlock()
	for _, r := range pending {
		r.finish(ErrClosed)
	}
	close(db.stop)
	<-db.exited

	db.closed.Store(true)
	db.closeMu.Lock() // waits for reads in progress
	defer db.closeMu.Unlock()
	db.closeSnapshots()
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", db.dir, err)
	}
	return nil
}

// DropPartition deletes every depot record, PState and progress record of
// one partition of module, durably. Depots stay declared and the partition
// starts again at offset 0. The caller must make sure nothing else writes to
// the partition meanwhile (no Batch of it is open).
func (db *DB) DropPartition(module string, partition uint32) error {
	if err := ValidateName("module name", module); err != nil {
		return err
	}
	p := partitionPrefix(nil, module, partition)
	return db.drop(&commitReq{kind: reqDrop, sync: true, dropModule: module, dropPart: partition,
		dropRanges: [][2][]byte{{p, prefixEnd(p)}}, done: make(chan struct{}, 1)})
}

// DropModule deletes every partition and all metadata of module, durably.
// Its depots stay declared and start again at offset 0. The caller must make
// sure nothing else writes to the module meanwhile.
func (db *DB) DropModule(module string) error {
	if err := ValidateName("module name", module); err != nil {
		return err
	}
	parts := modulePrefix(module)
	meta := append(append([]byte{spaceModule}, module...), 0)
	return db.drop(&commitReq{kind: reqDrop, sync: true, dropModule: module, dropAll: true,
		dropRanges: [][2][]byte{{parts, prefixEnd(parts)}, {meta, prefixEnd(meta)}}, done: make(chan struct{}, 1)})
}

func (db *DB) drop(r *commitReq) error {
	_, err := db.submit(context.Background(), r)
	return err
}
