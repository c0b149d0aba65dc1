package squall

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// How an item ends (the ABI's OUTCOME codes).
type outcome uint8

const (
	outcomeOK     outcome = wire.OutcomeOK
	outcomePoison outcome = wire.OutcomePoison
	outcomeRetry  outcome = wire.OutcomeRetry
)

// classified is implemented by errors that say how their item ends. The
// outermost one in an error's chain decides.
type classified interface {
	error
	squallOutcome() (outcome, string) // the outcome and the error kind
}

type markedError struct {
	err     error
	outcome outcome
}

func (e *markedError) Error() string { return e.err.Error() }
func (e *markedError) Unwrap() error { return e.err }
func (e *markedError) squallOutcome() (outcome, string) {
	if e.outcome == outcomePoison {
		return outcomePoison, "poison"
	}
	return outcomeRetry, "retry"
}

// Poison marks err as permanent: the item can never succeed (bad input, a
// bug for this record), so it goes to the topology's dead-letter log at
// once instead of being retried. Poison(nil) is nil.
//
//	if !ok {
//		return squall.Poison(fmt.Errorf("record has no user: %s", rec))
//	}
func Poison(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, outcome: outcomePoison}
}

// Poisonf is Poison(fmt.Errorf(format, args...)).
func Poisonf(format string, args ...any) error {
	return Poison(fmt.Errorf(format, args...))
}

// Retryable marks err as transient: the item is delivered again later
// (with [Ctx.Attempt] one higher), up to the host's maximum number of
// attempts, after which it is dead-lettered with the last error. Plain
// errors are retried too; Retryable says so explicitly and overrides a
// poison classification deeper in the chain (such as a [*QueryError]).
// Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &markedError{err: err, outcome: outcomeRetry}
}

// IsPoison reports whether err makes an item poison: it was marked with
// [Poison], or it is deterministic (a rejected effect, a path or schema
// error, input that does not decode) and not marked [Retryable] above
// that.
func IsPoison(err error) bool {
	o, _ := classify(err)
	return o == outcomePoison
}

// classify returns how an item that failed with err ends, and the error
// kind for the dead letter.
func classify(err error) (o outcome, kind string) {
	defer func() {
		if recover() != nil { // an Unwrap or As method that panics
			o, kind = outcomeRetry, "error"
		}
	}()
	var c classified
	if errors.As(err, &c) {
		return c.squallOutcome()
	}
	return outcomeRetry, "error"
}

// ErrNotFound is returned by [Ctx.SelectOne] when the path navigates to no
// value (a MustKey on an absent key, a Filter that does not match). A Key
// on an absent key navigates to nil, which is a value.
var ErrNotFound = errors.New("squall: selectOne: the path navigated to no value")

// Errno is a negative error code of the ABI, carried by a [*QueryError]
// or a [*RejectedError].
type Errno int32

// Error codes a stage can see.
const (
	EINVAL     Errno = -1  // an invalid effect (such as a non-Local append to a Disallow depot)
	EBADID     Errno = -3  // no such depot, PState or stage
	EWRONGPART Errno = -5  // the key belongs to another partition
	EINTERNAL  Errno = -8  // the host failed; retried
	EPATH      Errno = -9  // the path does not fit the data
	ESCHEMA    Errno = -10 // the value does not fit the schema
	EMULTI     Errno = -11 // SelectOne found several values
	ETIMEDOUT  Errno = -12 // an invoked query ran past its deadline
	EFAILED    Errno = -13 // an invoked query failed
)

// String returns the code's name, such as "EPATH".
func (e Errno) String() string { return wire.ErrnoName(int32(e)) }

// QueryError is a query the host answered with an error.
type QueryError struct {
	PState  string
	Path    string
	Code    Errno
	Message string
}

func (e *QueryError) Error() string {
	return "squall: query " + e.PState + " " + e.Path + ": " + e.Code.String() + ": " + e.Message
}

// A query error is deterministic (the same query fails the same way)
// unless the host failed.
func (e *QueryError) squallOutcome() (outcome, string) {
	if e.Code == EINTERNAL {
		return outcomeRetry, "query"
	}
	return outcomePoison, "query"
}

// RejectedError is returned by every Ctx method of an item after the host
// rejected one of the item's effects (an append, hop or transform that
// does not fit the module or the data): the host has made the item poison
// and ignores its further effects.
type RejectedError struct {
	Code    Errno
	Message string
}

func (e *RejectedError) Error() string {
	return "squall: the host rejected an effect of this item: " + e.Code.String() + ": " + e.Message
}

func (e *RejectedError) squallOutcome() (outcome, string) { return outcomePoison, "rejected" }

// InputError reports an item input that a [Typed] stage could not convert
// to its type; the item is poison.
type InputError struct {
	Stage string
	Err   error
}

func (e *InputError) Error() string {
	return "squall: stage " + strconv.Quote(e.Stage) + ": input: " + trimSquall(e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

func (e *InputError) squallOutcome() (outcome, string) { return outcomePoison, "input" }

// errFailing is returned by Ctx methods once a host function has failed:
// the whole call is failing and the batch will be retried.
type failingError struct{ code int32 }

func (e *failingError) Error() string {
	return "squall: the host failed the call (" + wire.ErrnoName(e.code) + "); the batch will be retried"
}

func (e *failingError) squallOutcome() (outcome, string) { return outcomeRetry, "host" }

// panicError is a panic in a stage, recovered.
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string { return "panic: " + fmt.Sprint(e.value) }

func (e *panicError) Unwrap() error {
	if err, ok := e.value.(error); ok {
		return err
	}
	return nil
}

// A panic retries, unless it panicked with a classified error (such as
// panic(squall.Poison(err))).
func (e *panicError) squallOutcome() (outcome, string) {
	if err, ok := e.value.(error); ok {
		var c classified
		if errors.As(err, &c) {
			o, _ := c.squallOutcome()
			return o, "panic"
		}
	}
	return outcomeRetry, "panic"
}
