package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns that matches one of these
// under [errors.Is] carries a message naming the object involved and what to
// do about it; the sentinels are for programs, the messages for people.
var (
	// ErrClosed is returned by every operation on a closed [DB], and by
	// appends and commits that were still queued when the DB was closed
	// (they were not written).
	ErrClosed = errors.New("storage: the store is closed")

	// ErrFailed is returned by every write after a write to Pebble failed.
	// What reached the disk is unknown, so the store refuses further writes;
	// close it and open it again (recovery replays the write-ahead log).
	// (Pebble itself treats a failed WAL write or sync as fatal and exits
	// the process; ErrFailed covers the commit errors it returns.)
	ErrFailed = errors.New("storage: an earlier write failed; close and reopen the store")

	// ErrNotFound matches [*NotFoundError]: a depot (or other named object)
	// that was not declared.
	ErrNotFound = errors.New("storage: not found")

	// ErrTrimmed matches an [*OffsetError] for an offset below the first
	// retained offset of a depot partition.
	ErrTrimmed = errors.New("storage: offset trimmed")

	// ErrOutOfRange matches an [*OffsetError] for an offset past the next
	// offset of a depot partition.
	ErrOutOfRange = errors.New("storage: offset out of range")

	// ErrTooLarge matches errors for a record larger than [MaxRecordSize]
	// or a single append or batch larger than [MaxBatchSize].
	ErrTooLarge = errors.New("storage: too large")

	// ErrBatchDone is returned by the methods of a [Batch] that was already
	// committed or closed.
	ErrBatchDone = errors.New("storage: the batch was already committed or closed; start a new one with DB.NewBatch")

	// ErrNotSquallDir is matched by the error [Open] returns for a directory
	// that holds a Pebble database without a Squall format version.
	ErrNotSquallDir = errors.New("storage: not a Squall data directory")
)

// NotFoundError reports a named object that does not exist. It matches
// [ErrNotFound].
type NotFoundError struct {
	Kind   string // "depot", "pstate", ...
	Module string
	Name   string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("storage: module %q has no %s %q; declare it first (DB.%s)", e.Module, e.Kind, e.Name, declarer(e.Kind))
}

func declarer(kind string) string {
	switch kind {
	case "depot":
		return "Depot"
	case "pstate":
		return "PState"
	}
	return kind
}

// Is reports whether target is [ErrNotFound].
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// OffsetError reports a read of a depot partition at an offset that is not
// retained: below the first retained offset (it matches [ErrTrimmed]; read
// from First instead) or past the next offset (it matches [ErrOutOfRange]).
type OffsetError struct {
	Module, Depot string
	Partition     uint32
	Offset        uint64 // the offset asked for
	First, Next   uint64 // the partition's bounds when the read failed
}

func (e *OffsetError) Error() string {
	if e.Offset < e.First {
		return fmt.Sprintf("storage: depot %s/%s partition %d: offset %d was trimmed; the first retained offset is %d",
			e.Module, e.Depot, e.Partition, e.Offset, e.First)
	}
	return fmt.Sprintf("storage: depot %s/%s partition %d: offset %d is past the end; the next offset is %d",
		e.Module, e.Depot, e.Partition, e.Offset, e.Next)
}

// Is reports whether target is [ErrTrimmed] or [ErrOutOfRange], whichever
// applies.
func (e *OffsetError) Is(target error) bool {
	if e.Offset < e.First {
		return target == ErrTrimmed
	}
	return target == ErrOutOfRange
}

// RecordError reports a record rejected by an append: malformed MessagePack
// (Err is then an *abi.DecodeError, whose Offset is the byte offset within
// the field) or a record larger than [MaxRecordSize] (Err matches
// [ErrTooLarge]). Nothing of an append with a rejected record is written.
type RecordError struct {
	Module, Depot string
	Partition     uint32
	Index         int    // the record's position in the append (or in the batch's appends)
	Field         string // "key", "value", or "" for the whole record
	Err           error
}

func (e *RecordError) Error() string {
	where := fmt.Sprintf("storage: depot %s/%s partition %d record %d", e.Module, e.Depot, e.Partition, e.Index)
	if e.Field != "" {
		where += " " + e.Field
	}
	return where + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// sizeError is the Err of a [RecordError] or of a failed append or commit
// that is too large. It matches [ErrTooLarge].
type sizeError struct {
	what        string
	size, limit int
	fix         string
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("%s is %d bytes; the limit is %d: %s", e.what, e.size, e.limit, e.fix)
}

func (e *sizeError) Is(target error) bool { return target == ErrTooLarge }
