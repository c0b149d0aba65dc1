package host

import (
	"context"

	"github.com/squall-run/squall/abi"
)

// Handler is the engine's side of one Process call: it applies the
// effects the guest flushes and answers its queries, against the batch's
// view of storage (ABI.md §6.3, §6.5, §7).
//
// The host calls a Handler sequentially, only while Process runs, from the
// goroutine that called Process. A Handler must not call back into the
// Instance. ctx is Process's context with the batch deadline; a Handler
// that blocks should respect it. A panic in a Handler fails the call with
// KindHost (it is not reported as the guest's trap).
type Handler interface {
	// Effects applies the effects of one flushed frame, all of them, in
	// the order the guest flushed them. The host has decoded the frame and
	// checked it against ABI.md §6.4 (item order, one OUTCOME per item,
	// ops allowed in squall_process) before the call; a frame that breaks
	// a rule never reaches the Handler. The host also writes LOG effects to
	// Config.Logger (within Config.MaxLogBytesPerCall) and fails the call
	// on ERROR effects itself; a Handler may ignore both.
	//
	// Apply TRANSFORMs to the batch's view at once, so that later queries
	// see them; on an OUTCOME other than OK, discard what the item staged.
	// To reject an effect that does not fit the definition or the data
	// (EBADID, EWRONGPART, EPATH, ESCHEMA, EINVAL; ABI.md §7.1), return a
	// Rejection whose Effect is its index in effects, with a negative Code
	// and a Message saying what to fix. A rejection poisons the effect's
	// item: discard what it staged and ignore its later effects (they are
	// still passed, up to its OUTCOME). The host reports the item as POISON
	// in ProcessResult whatever OUTCOME the guest flushes.
	//
	// A Rejection with Code EINTERNAL means the Handler failed (a storage
	// error): the guest's flush returns -EINTERNAL and the call fails with
	// KindHost, the Rejection's Message in the error.
	//
	// effects and their values stay valid after the call: a Handler may
	// keep them.
	Effects(ctx context.Context, effects []abi.Effect) []abi.Rejection

	// Query runs the queries of q against the local partition (the
	// committed state plus the effects applied in this call by items that
	// are still open or ended OK) and returns one result per query, in
	// order. Per-query problems are results with a negative status
	// (EBADID, EPATH, EWRONGPART, EMULTI, EINTERNAL); results that would
	// push the response past abi.MaxResponseFrame are replaced by ETOOBIG
	// by the host. A nil response means the Handler failed: the guest's
	// query returns -EINTERNAL and the call fails with KindHost. q is valid
	// only during the call.
	Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse
}

// ProcessResult is what a successful Process call produced, besides the
// effects the Handler applied.
type ProcessResult struct {
	// Outcomes has one entry per item of the batch, in order.
	Outcomes []ItemOutcome
	// Flushes, Effects and Queries count the guest's flush calls, the
	// effects it flushed (all ops) and its query calls.
	Flushes, Effects, Queries int
	// EffectBytes is the size of the effects frames flushed.
	EffectBytes int
}

// ItemOutcome is how processing one item ended.
type ItemOutcome struct {
	// Outcome is the guest's OUTCOME, or OutcomePoison when an effect of
	// the item was rejected.
	Outcome abi.Outcome
	// Detail is the error detail of a POISON or RETRY outcome.
	Detail abi.ErrorDetail
	// Rejected reports that the Handler rejected one of the item's effects
	// (Detail.Kind is "rejected", Detail.Message the errno and the
	// Handler's message), overriding the guest's own OUTCOME.
	Rejected bool
}
