// Package engine is Squall's single-node topology executor: stream
// topologies, microbatch topologies, query topologies and tick depots. It wires
// the store (package storage) to the processors that run module code: wasm
// instances from package host ([WasmFactory]), or Go functions through
// [NativeModule], which produce the same abi.Effects through the same
// [Handler] and serve as the baseline wasm is measured against.
//
// # Model
//
// [Engine.Deploy] starts a module: its depots, dead-letter depot and
// PStates are declared in the store, its task count (a power of two) and
// definition are recorded on first deploy, and one task per partition
// starts. A task is one goroutine that owns its partition's [Processor]
// and is the single writer of the partition's PStates and progress, so a
// stage's read-modify-write sequences are atomic. Tasks talk to each
// other only through their inboxes (hop deliveries and tree reports),
// which is what a cluster later replaces with node-to-node messages.
//
// [Engine.AppendToDepot] routes a record with the depot's partitioner
// (hash of the key the depot's key path selects, per ABI.md §4.3; random;
// disallow), appends it durably (AckNone: without waiting for the sync)
// and wakes the partition's task. There is no polling: a task sleeps until
// an append, a message, a retry's due time or a stop wakes it.
//
// # Batches
//
// A task loops over its topologies. For each it collects a batch (ABI.md
// §12.3): an isolated retry alone, or due retries, then hop deliveries,
// then the next records of the topology's sources in offset order, within
// MaxBatchItems, MaxBatchBytes and MaxInflight (records whose trees are
// not complete). It builds an abi.BatchFrame and calls Processor.Process
// with a [Handler] bound to a fresh storage.Batch:
//
//   - TRANSFORM runs at once on the batch (read-your-writes for later
//     queries of the call), after checking that the path's first key
//     belongs to this partition (EWRONGPART) and that a global PState is
//     written on partition 0 only;
//   - APPEND is added to the batch, routed by the depot's partitioner or
//     LOCAL; random choices and SHUFFLE hops derive from the batch seed;
//   - HOP, EMIT and OUTCOME are kept per item until the commit; LOG goes to
//     the logger at once; ERROR fails the call;
//   - queries read the batch.
//
// When every item ended OK, one storage.Batch.Commit makes their effects,
// the dead letters and the topology's progress durable together: the one
// seam through which a processed batch leaves the engine (DESIGN.md §8; a
// Raft proposal replaces the commit later). Only then are hops routed,
// trees updated and ACK appenders answered.
//
// # Processing trees and progress
//
// Every depot record read starts a processing tree per (topology, source),
// tracked at the task that read it, Storm-style: each item has a random
// 64-bit id; the tree holds the XOR of the ids of its items created but not
// done; an item that is done reports its id XOR the ids of the items it
// created (hops, including one per partition for ALL, and links to
// records it appended with ACK). The XOR is zero exactly when the tree is
// complete, whatever order the reports arrive in. A source's progress —
// its low offset (every record below it has a complete tree), the offsets
// above it still in flight (up to 256 listed) and its read position — is
// written with storage.Batch.SetProgress in the same batch as the state
// that completed its trees, or in a progress-only commit when a tree
// completes through a report from another task. After a crash the task
// resumes at the low offset and processes again exactly the records whose
// trees were not complete: stream topologies are at-least-once, and a
// record whose tree was complete (in particular one whose tree never left
// its partition, since its state and its progress commit together) is
// processed exactly once.
//
// # Failures
//
// A failed call (an error from Process: trap, deadline, out of memory,
// protocol violation, ERROR effect, a panic) discards everything it staged
// and the Processor; the batch is retried on a fresh one after an
// exponential backoff with jitter from the seeded source (ABI.md §12.4),
// and from its second failure its items are delivered one at a time, so a
// bad item cannot stop the partition. Each failed delivery counts towards
// the item's MaxAttempts; then it is dead-lettered.
//
// An item that ends POISON, or one of whose effects the handler rejected,
// is dead-lettered ([DeadLetterDepot], a [DeadLetter] record with the
// payload, the error and the attempt count) and the rest of the batch
// proceeds. An item that ends RETRY goes back to the task after a backoff
// with its attempt count raised, until MaxAttempts. The store batch has no
// savepoints, so when a failed item wrote to it (a transform or append)
// the batch is discarded and the call re-run without the failed items
// (guests are deterministic: the others produce the same effects); when
// the failed items wrote nothing the batch commits as it is. Nothing
// acknowledged is lost: a record's progress passes it only once its tree
// is committed, dead letters included.
//
// # Microbatch topologies, query topologies, tick depots
//
// A microbatch topology (ABI.md §15.2) is run by its own goroutine, an
// mbRunner, not by the tasks: microbatch N covers every source's records
// on every partition after where N-1 ended; their items and the hops they
// send run on the runner's processor, every effect staged in one store
// batch, committed with every partition's progress record in one write
// only when every item ended OK (microbatch.go). A failure retries the
// whole microbatch, then pauses the topology ([Engine.Topologies] reports
// it); a poisoned item dead-letters its source record. PStates carry an
// owner so that no stream task writes what a microbatch reads and writes.
// [Engine.Invoke] runs a query topology (§15.4) on the caller's goroutine
// over one store snapshot, on processors borrowed from the module's pool
// (query.go). A tick depot gets a record on partition 0 every period from
// a goroutine of its module (tick.go). AGGREGATE effects are applied by
// effects.go, shared by the three kinds of calls.
//
// # Stopping
//
// [Engine.Close] drains: tasks stop reading new records, finish the trees
// in flight and commit their progress, so a restart replays nothing; when
// its context ends first it stops the tasks where they are. Every goroutine
// the engine starts is a task, a microbatch runner or a tick depot's,
// owned by its module and stopped by Close; microbatch runners and ticks
// stop as soon as draining starts (a microbatch is all or nothing, so
// stopping between two loses nothing).
//
// [Engine.Undeploy] does the same for one module and removes it; the
// module's data and recorded definition stay, so deploying the same
// definition again (with new code: any ProcessorFactory) resumes it.
// [Engine.Destroy] undeploys a module and deletes its data, recorded
// definition included, so that the name can be deployed afresh.
package engine
