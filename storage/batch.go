package storage

import "github.com/cockroachdb/pebble/v2"

// Batch collects the effects of one processing batch of one partition —
// PState transforms, depot appends and progress — and commits them
// atomically: after a crash either all of them are present or none.
//
// This is the engine's one seam for durability: a replicated store later
// proposes the same batch to a Raft group instead of committing it locally.
//
// A Batch reads its own writes. It is not safe for concurrent use, and at
// most one Batch per (module, partition) may be open at a time (the engine's
// single-writer rule), because transforms read then write.
type Batch struct {
	db *DB
	pb *pebble.Batch // indexed, so reads see the batch's own writes
}

// NewBatch starts an empty batch.
func (db *DB) NewBatch() *Batch {
	return &Batch{db: db, pb: db.pdb.NewIndexedBatch()}
}
