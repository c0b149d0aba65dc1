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
// that blocks should respect it.
type Handler interface {
	// Effects applies effects in order: they are APPEND, HOP, TRANSFORM,
	// EMIT and OUTCOME effects of the batch's items, in item order (the
	// host has checked the frame and the order rules of ABI.md §6.4, and
	// writes LOG effects and handles ERROR itself). Apply TRANSFORMs to the
	// batch's view at once, so that later queries see them; on an OUTCOME
	// other than OK, discard what the item staged (and undo its transforms
	// in the view).
	//
	// To reject an effect that does not fit the data (a value that breaks
	// the PState schema, a path that does not fit, a key of another
	// partition), return a Rejection whose Effect is its index in effects,
	// with a negative Code (EPATH, ESCHEMA, EWRONGPART, ...) and a Message
	// saying what to fix. A rejection poisons the effect's item: discard
	// what it staged, ignore its remaining effects in this slice; the host
	// passes none of its later effects. The host has already rejected what
	// does not fit the module definition (unknown depot, PState, stage or
	// emit stream; DIRECT partition >= tasks; a non-LOCAL APPEND to a
	// "disallow" depot; a TRANSFORM of a global PState off partition 0) and
	// tells you by passing, in the place of the rejected effect, an OUTCOME
	// POISON of its item whose detail has kind "rejected".
	//
	// effects and their values stay valid after the call: keep them.
	// A non-nil error (a storage failure) fails the call with KindHost; the
	// guest sees -EINTERNAL.
	Effects(ctx context.Context, effects []abi.Effect) ([]abi.Rejection, error)

	// Query runs the queries of q against the local partition (the
	// committed state plus the effects applied in this call by items that
	// are still open or ended OK) and returns one result per query, in
	// order. Per-query problems are results with a negative status
	// (EBADID, EPATH, EWRONGPART, EMULTI); results that would push the
	// response past abi.MaxResponseFrame are replaced by ETOOBIG by the
	// host. q is valid only during the call. A non-nil error fails the call
	// with KindHost; the guest sees -EINTERNAL.
	Query(ctx context.Context, q *abi.QueryFrame) (*abi.QueryResponse, error)
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
	// Rejected reports that the host or the Handler rejected one of the
	// item's effects (Detail.Kind is "rejected", Detail.Message the reason),
	// overriding the guest's own OUTCOME.
	Rejected bool
}
