package engine

import (
	"context"
	"fmt"

	"github.com/squall-run/squall/abi"
)

// callCore is the part of a call's Handler that stream ([call]),
// microbatch ([mbCall]) and query ([qCall]) calls share: the protocol
// check of the frames, why the call fails, the ERROR effect, and the
// effects every kind treats alike (LOG, ERROR, OUTCOME, and anything a
// poisoned item does after its poisoning). The kinds differ in how they
// apply the other effects of an item, where LOG effects go, and how they
// answer queries; they say so through [callKind].
type callCore struct {
	check *abi.CallCheck

	// fail makes the call fail whatever Process returns: a protocol
	// violation or, when internal is set, a store failure.
	fail     error
	internal bool
	errEff   *abi.ErrorDetail // the first ERROR effect
	logs     bool             // write LOG effects (the processor does not)
}

// itemState is what a call keeps for each of its items, whatever its kind.
type itemState struct {
	outcome  abi.Outcome
	closed   bool // its OUTCOME arrived
	rejected bool // the host rejected one of its effects: it is poisoned
	detail   abi.ErrorDetail
	hops     []hopOut
}

// hop records a HOP effect of the item to stage e.Target of a topology
// of nStages stages; origin is the partition ORIGIN names.
func (o *itemState) hop(m *module, e *abi.Effect, nStages int, origin uint32, choose func() uint32) (abi.Errno, string) {
	part, all, payload, code, msg := m.hopTarget(e, nStages, origin, choose)
	if code != 0 {
		return code, msg
	}
	o.hops = append(o.hops, hopOut{stage: e.Target, part: part, all: all, payload: payload})
	return 0, ""
}

// itemStates are the items of a call that keeps nothing else per item.
type itemStates []itemState

// at returns item i, or nil when there is no item i.
func (s itemStates) at(i uint32) *itemState {
	if int(i) >= len(s) {
		return nil
	}
	return &s[i]
}

// callKind is a call's Handler seen from its callCore: the part that
// depends on the kind of topology.
type callKind interface {
	Handler
	core() *callCore
	// item returns the state of item i, or nil when the call has no item i.
	item(i uint32) *itemState
	// applyItem applies an effect of a live (not poisoned) item other than
	// OUTCOME; a non-zero errno rejects it.
	applyItem(ctx context.Context, e *abi.Effect) (abi.Errno, string)
	// log writes a LOG effect to the operator log.
	log(ctx context.Context, e *abi.Effect)
}

// runCall runs one Process call of proc with handler h and returns why
// the call failed (nil when it completed). A panic of the processor fails
// the call instead of the task.
func runCall(ctx context.Context, proc Processor, frame *abi.BatchFrame, h callKind) (err error) {
	c := h.core()
	el, ok := proc.(EffectLogger)
	c.logs = !ok || !el.LogsEffects()
	defer func() {
		if r := recover(); r != nil {
			err = &CallError{Detail: abi.ErrorDetail{Kind: "panic", Message: fmt.Sprint(r)}}
		}
	}()
	return c.end(proc.Process(ctx, frame, h))
}

// end returns why the call failed, given what Process returned.
func (c *callCore) end(procErr error) error {
	switch {
	case procErr != nil:
		return procErr
	case c.fail != nil:
		return c.fail
	case c.errEff != nil:
		return &CallError{Detail: *c.errEff}
	}
	if err := c.check.End(abi.StatusOK); err != nil {
		return protocolError(err)
	}
	return nil
}

func protocolError(err error) *CallError {
	return &CallError{Protocol: true, Detail: abi.ErrorDetail{Kind: "protocol", Message: err.Error()}}
}

// failWith fails the call; the first failure is the one reported.
func (c *callCore) failWith(err error, internal bool) {
	if c.fail == nil {
		c.fail, c.internal = err, internal
	}
}

// effects is Handler.Effects of call h: it checks the frame, refuses it
// whole once the call fails, and otherwise applies its effects in order,
// poisoning the item of each rejected effect.
func (c *callCore) effects(ctx context.Context, effs []abi.Effect, h callKind) []abi.Rejection {
	if c.fail == nil {
		if err := c.check.Frame(&abi.EffectsFrame{Effects: effs}); err != nil {
			c.failWith(protocolError(err), false)
		}
	}
	if c.fail != nil {
		return refuseAll(effs, c.fail, c.internal)
	}
	var rej []abi.Rejection
	for i := range effs {
		e := &effs[i]
		code, msg := c.apply(ctx, e, h)
		if code == 0 {
			continue
		}
		rej = append(rej, abi.Rejection{Effect: i, Item: e.Item, Code: code, Message: msg})
		if e.Item != abi.NoItem {
			if out := h.item(e.Item); out != nil && !out.rejected {
				out.rejected = true
				out.detail = abi.ErrorDetail{Kind: code.String(), Message: e.Op.String() + ": " + msg}
			}
		}
	}
	return rej
}

// refuseAll rejects every item effect of a frame of a failing call.
func refuseAll(effs []abi.Effect, fail error, internal bool) []abi.Rejection {
	rej := make([]abi.Rejection, 0, len(effs))
	code := abi.ESTATE
	if internal {
		code = abi.EINTERNAL
	}
	for i := range effs {
		if it := effs[i].Item; it != abi.NoItem {
			rej = append(rej, abi.Rejection{Effect: i, Item: it, Code: code, Message: fail.Error()})
		}
	}
	return rej
}

// apply applies one effect; a non-zero errno rejects it.
func (c *callCore) apply(ctx context.Context, e *abi.Effect, h callKind) (abi.Errno, string) {
	switch e.Op {
	case abi.EffectLog:
		if c.logs {
			h.log(ctx, e)
		}
		return 0, ""
	case abi.EffectError:
		if c.errEff == nil {
			d := e.Detail
			c.errEff = &d
		}
		return 0, ""
	}
	out := h.item(e.Item) // CallCheck checked the index
	if e.Op == abi.EffectOutcome {
		out.closed = true
		out.outcome = e.Outcome()
		if !out.rejected {
			out.detail = e.Detail
		}
		return 0, ""
	}
	if out.rejected {
		return 0, "" // later effects of a poisoned item are ignored
	}
	return h.applyItem(ctx, e)
}
