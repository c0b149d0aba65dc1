package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/squall-run/squall/abi"
)

// Handler receives what a [Processor] produces while it processes one
// batch: the effects frames it flushes and the queries it runs. It is the
// host side of the guest ABI (ABI.md §7) with the frames already decoded.
// The wasm host (package host) calls it from its flush and query host
// functions; a native processor calls it directly. Its method set is the
// one package host declares, so an engine handler satisfies both.
//
// A Handler is valid only during the Process call it was passed to, and
// only on that call's goroutine.
type Handler interface {
	// Effects applies the effects of one flushed frame, in order, to the
	// batch being built (PState transforms immediately, so later queries
	// see them) and returns the effects it rejected; each rejection poisons
	// its item (ABI.md §7.1). The slice is the caller's; the handler copies
	// what it keeps.
	Effects(ctx context.Context, effects []abi.Effect) []abi.Rejection
	// Query runs the queries of one query frame against the local
	// partition as the batch sees it (read-your-writes) and returns one
	// result per query.
	Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse
}

// Processor runs the stages of one module: a wasm instance, or stage
// functions written in Go ([NativeModule]). The engine gives each task
// (module partition) its own Processor and calls it from the task's
// goroutine only, one batch at a time.
//
// Process processes the items of the batch in order, reporting every
// effect, including exactly one OUTCOME per item, through h. A nil error
// means the call completed (status OK). Any error means the call failed as
// a whole (a trap, a deadline, running out of memory, an ABI violation, a
// FAILED status): the engine discards everything the call staged, closes
// the Processor and retries the batch on a fresh one after a backoff
// (ABI.md §12.4). Process must return promptly once ctx is done.
type Processor interface {
	Process(ctx context.Context, batch *abi.BatchFrame, h Handler) error
	// Close releases the processor. The engine never uses it again.
	Close(ctx context.Context) error
}

// ProcessorFactory makes the Processor of one partition of a module. It is
// called from the partition's task goroutine when the task starts
// processing and again after every failed call. For wasm modules it
// instantiates the compiled module; for native modules see
// [NativeModule.Factory].
type ProcessorFactory func(ctx context.Context, partition uint32) (Processor, error)

// AckLevel is how long [Engine.AppendToDepot] waits.
type AckLevel = abi.AckLevel

// Ack levels (ABI.md §6.3, RAMA-NOTES §1).
const (
	// AckNone returns once the record is written, before it is durable.
	AckNone = abi.AckNone
	// AckAppendAck returns once the record is durable in the depot.
	AckAppendAck = abi.AckAppendAck
	// AckAck returns once the record is durable and every stream topology
	// of the module that reads the depot has processed it completely
	// (its whole processing tree, across hops), with the values those
	// topologies emitted as ack returns.
	AckAck = abi.AckAck
)

// Errors.
var (
	// ErrClosed is returned by work started on (or interrupted by) a closed
	// engine.
	ErrClosed = errors.New("engine: closed")
	// ErrNotFound matches errors naming a module, depot or PState that is
	// not deployed.
	ErrNotFound = errors.New("engine: not found")
	// ErrInvalid matches errors about a request that can never succeed as
	// given (a record that the depot's key path cannot navigate, an append
	// to a disallow depot, a bad deploy).
	ErrInvalid = errors.New("engine: invalid request")
)

// CallError is how the engine reports a failed Process call that the
// processor itself declared (an ERROR effect or a protocol violation), as
// opposed to the error Process returned.
type CallError struct {
	// Detail is the ERROR effect's detail, or a description of the
	// violation.
	Detail abi.ErrorDetail
	// Protocol is set when the processor broke the ABI's rules (effects of
	// items out of order, an item without an OUTCOME).
	Protocol bool
}

func (e *CallError) Error() string {
	if e.Protocol {
		return "engine: the processor broke the ABI: " + e.Detail.Message
	}
	if e.Detail.Kind != "" {
		return "engine: the call failed: " + e.Detail.Kind + ": " + e.Detail.Message
	}
	return "engine: the call failed: " + e.Detail.Message
}

// ProcessingError is returned by an ACK append whose record was appended
// (the result says where) but whose processing did not complete normally:
// some item of its processing tree was dead-lettered, or the engine closed
// first.
type ProcessingError struct {
	Module, Depot string
	Partition     uint32
	Offset        uint64
	// Failures says what failed, one line per failed item (at most a few).
	Failures []string
}

func (e *ProcessingError) Error() string {
	msg := fmt.Sprintf("engine: record %s/%s partition %d offset %d was appended but its processing failed", e.Module, e.Depot, e.Partition, e.Offset)
	for i, f := range e.Failures {
		if i == 0 {
			msg += ": " + f
		} else {
			msg += "; " + f
		}
	}
	return msg
}

// notFound builds an error matching ErrNotFound.
func notFound(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, args...)...)
}

// invalid builds an error matching ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
