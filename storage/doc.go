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
// # PStates and paths
//
// A [PState] is declared with a [Schema]: maps, sets, lists and fixed-key
// records ([RecordOf]) of leaf types, nested, any collection optionally
// [Schema.Subindexed]. Reads ([DB.Select], [DB.SelectOne], and the same on
// a [Batch], which sees its own writes) and writes ([Batch.Transform]) take
// an [abi.Path] of navigators ending, for writes, in a terminal. Paths run
// here, next to the data: a subindexed collection stores each element under
// its own key with its size in a counter, so a sortedRange of 100 elements
// out of 10 million reads about 100 keys, and a transform reports the
// [Change]s it made for reactive queries. Plain (inline) values are
// navigated in memory by the same engine ([SelectValue], [TransformValue]).
//
// # Durability
//
// An append or batch is acknowledged only after its write-ahead-log entry is
// synced; concurrent committers share one sync (group commit). The key layout
// and format version are documented in layout.go and RATIONALE.md.
package storage
