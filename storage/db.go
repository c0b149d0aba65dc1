package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

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
}

// DB is a node's durable store: one Pebble database holding every depot,
// PState and progress record of every module and partition on the node.
//
// A DB is safe for concurrent use.
type DB struct {
	dir string
	pdb *pebble.DB
}

// Open opens (creating if needed) the store in dir and checks its format
// version.
func Open(dir string, opts Options) (*DB, error) {
	popts := &pebble.Options{FS: opts.FS}
	if popts.FS == nil {
		popts.FS = vfs.Default
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	db := &DB{dir: dir, pdb: pdb}
	if err := db.checkFormat(); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	return db, nil
}

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
			return fmt.Errorf("storage: %s holds data but no Squall format version; it is not a Squall data directory (or it is damaged)", db.dir)
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

// Close flushes nothing (every acknowledged write is already durable) and
// releases the store.
func (db *DB) Close() error {
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", db.dir, err)
	}
	return nil
}
