// Package storage is Squall's durable state on Pebble: depots (partitioned
// append-only logs), PStates (partitioned, schema-checked nested indexes
// queried and updated by paths) and the progress records of topologies, all
// in one Pebble database per node.
//
// # Usage
//
// Open a [DB] on a data directory. Declare depots and PStates, append to
// depots, read PStates with paths, and commit the effects of one processing
// batch — PState transforms, depot appends, progress — atomically with a
// [Batch].
//
// # Your responsibilities
//
// At most one [Batch] per (module, partition) may be in flight at a time:
// transforms read, then write, and rely on being the partition's single
// writer. The engine guarantees this by running each partition on one task.
//
// # Durability
//
// An append or batch is acknowledged only after its write-ahead-log entry is
// synced; concurrent committers share one sync (group commit). The key layout
// and format version are documented in layout.go and RATIONALE.md.
package storage
