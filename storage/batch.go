package storage

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects the effects of one processing batch of one partition —
// PState transforms, depot appends and progress — and commits them
// atomically: after a crash either all of them are present or none, and
// readers see none of them before all of them.
//
// This is the engine's one seam for durability: a replicated store later
// proposes the same batch to a Raft group instead of committing it locally.
//
// A Batch reads its own writes. It is not safe for concurrent use, and at
// most one Batch per (module, partition) may be open at a time (the engine's
// single-writer rule), because transforms read then write. Depot appends
// are the exception: a Batch may append to any partition of any depot, and
// its records get their offsets at commit, in order with concurrent appends.
//
// A Batch ends with [Batch.Commit] or [Batch.Close]; after either, its
// methods return [ErrBatchDone].
type Batch struct {
	db   *DB
	pb   *pebble.Batch // indexed, so reads see the batch's own writes; nil once done
	req  commitReq     // the appends, and the request Commit queues
	done bool
}

// CommitResult is what a committed [Batch] reports.
type CommitResult struct {
	// Offsets holds the offset assigned to each of the batch's depot
	// appends, in the order of the Append calls.
	Offsets []uint64
}

// NewBatch starts an empty batch. On a closed DB the batch's methods return
// [ErrClosed].
func (db *DB) NewBatch() *Batch {
	b := &Batch{db: db, pb: db.pdb.NewIndexedBatch()}
	b.req.kind = reqBatch
	b.req.sync = true
	b.req.done = make(chan struct{}, 1)
	return b
}

// check reports whether the batch can still be used. Every method of Batch
// (in any file) calls it first.
func (b *Batch) check() error {
	if b.done {
		return ErrBatchDone
	}
	if b.db.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Append adds rec to the batch as an append to a partition of depot d; its
// offset is assigned at commit and reported in [CommitResult.Offsets]. A
// rejected record (a [*RecordError], whose Index is the number of earlier
// appends of the batch) leaves the batch as it was.
func (b *Batch) Append(d *Depot, partition uint32, rec Record) error {
	if err := b.check(); err != nil {
		return err
	}
	if d.db != b.db {
		return fmt.Errorf("storage: Batch.Append: depot %s/%s belongs to another DB", d.module, d.name)
	}
	if err := b.db.beginRead(); err != nil {
		return err
	}
	p, err := d.part(partition)
	b.db.endRead()
	if err != nil {
		return err
	}
	buf, err := b.req.addRecord(p, len(b.req.appends), &rec)
	if err != nil {
		return err
	}
	b.req.buf = buf
	return nil
}

// Commit makes everything the batch holds durable and visible, atomically,
// sharing a WAL sync with concurrent writers, and ends the batch. A batch
// with nothing in it commits without writing.
//
// When ctx ends while the batch is queued or being committed, Commit returns
// the context's error and the batch may still be committed; the engine must
// then treat the outcome as unknown (re-read progress).
func (b *Batch) Commit(ctx context.Context) (CommitResult, error) {
	if err := b.check(); err != nil {
		return CommitResult{}, err
	}
	b.done = true
	r := &b.req
	r.pb, b.pb = b.pb, nil
	if err := ctx.Err(); err != nil {
		_ = r.pb.Close()
		return CommitResult{}, err
	}
	if r.pb.Empty() && len(r.appends) == 0 {
		_ = r.pb.Close()
		return CommitResult{}, nil
	}
	if n := len(r.pb.Repr()) + len(r.buf); n > MaxBatchSize {
		_ = r.pb.Close()
		return CommitResult{}, fmt.Errorf("storage: commit batch: %w",
			&sizeError{what: "the batch", size: n, limit: MaxBatchSize, fix: "split the work into smaller batches"})
	}
	finished, err := b.db.submit(ctx, r)
	if !finished {
		return CommitResult{}, err // the committer owns r.pb now
	}
	if err != nil {
		return CommitResult{}, err
	}
	res := CommitResult{Offsets: r.offsets}
	r.offsets, r.buf, r.appends = nil, nil, nil
	return res, nil
}

// Close discards the batch if it was not committed. It is a no-op after
// Commit or Close.
func (b *Batch) Close() {
	if b.done {
		return
	}
	b.done = true
	_ = b.pb.Close()
	b.pb = nil
}
