package client

import (
	"errors"
	"strings"

	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/internal/apiconv"
)

// Sentinels that [*Error] values match with [errors.Is], by Connect code.
var (
	// ErrNotFound: no such module, depot or PState (the message lists
	// those that exist).
	ErrNotFound = errors.New("squall: not found")
	// ErrInvalidArgument: the request is malformed, a value has the wrong
	// type, a path does not fit the PState's schema, or an artifact is not
	// a valid module.
	ErrInvalidArgument = errors.New("squall: invalid argument")
	// ErrAlreadyExists: a module of that name is deployed.
	ErrAlreadyExists = errors.New("squall: already exists")
	// ErrFailedPrecondition: the request cannot run in the current state
	// (for example SelectOne of a path that navigates to 0 or 2 values).
	ErrFailedPrecondition = errors.New("squall: failed precondition")
	// ErrUnauthenticated: the token is missing or wrong.
	ErrUnauthenticated = errors.New("squall: unauthenticated")
	// ErrProcessingFailed: an append's record is in the depot but a
	// topology failed to process it (the [*Error] has an
	// [AppendFailure]), or a stage of an invoked query failed.
	ErrProcessingFailed = errors.New("squall: processing failed")
	// ErrDeadlineExceeded: the request (a query invocation, say) ran past
	// its deadline.
	ErrDeadlineExceeded = errors.New("squall: deadline exceeded")
	// ErrTooLarge: a request or artifact is above the node's limits.
	ErrTooLarge = errors.New("squall: too large")
	// ErrUnavailable: the node cannot be reached or is shutting down;
	// retrying later may succeed.
	ErrUnavailable = errors.New("squall: unavailable")
	// ErrUnimplemented: the node does not support this call yet.
	ErrUnimplemented = errors.New("squall: unimplemented")
)

var sentinels = map[connect.Code]error{
	connect.CodeNotFound:           ErrNotFound,
	connect.CodeInvalidArgument:    ErrInvalidArgument,
	connect.CodeAlreadyExists:      ErrAlreadyExists,
	connect.CodeFailedPrecondition: ErrFailedPrecondition,
	connect.CodeUnauthenticated:    ErrUnauthenticated,
	connect.CodeAborted:            ErrProcessingFailed,
	connect.CodeResourceExhausted:  ErrTooLarge,
	connect.CodeUnavailable:        ErrUnavailable,
	connect.CodeUnimplemented:      ErrUnimplemented,
	connect.CodeDeadlineExceeded:   ErrDeadlineExceeded,
}

// Error is an error returned by a node (or a request the client refused
// to send). Match it with [errors.Is] against the sentinels, or
// [errors.As] it to read the code and details.
type Error struct {
	// Code is the Connect code.
	Code connect.Code
	// Message is the node's message: what is wrong and what to fix.
	Message string
	// Failure is set for an append whose processing failed
	// ([ErrProcessingFailed]).
	Failure *AppendFailure
	cause   error
}

// AppendFailure describes an appended record whose processing failed: the
// record is in the depot at Partition and Offset.
type AppendFailure struct {
	Partition uint32
	Offset    uint64
	// AckReturns are the ack returns of the topologies that succeeded.
	AckReturns map[string]abi.Value
	// Failures are the failure messages (topology, stage and cause).
	Failures []string
}

func (e *Error) Error() string {
	msg := e.Code.String() + ": " + e.Message
	if h := e.Hint(); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

// Hint suggests what to do about errors whose message cannot know it (a
// node that cannot be reached); it is "" for others.
func (e *Error) Hint() string {
	switch {
	case e.Code == connect.CodeUnavailable && (strings.Contains(e.Message, "connection refused") || strings.Contains(e.Message, "no such host") || strings.Contains(e.Message, "dial")):
		return "is a node running at this address? start one with `squall dev`"
	case e.Code == connect.CodeUnauthenticated && strings.Contains(e.Message, "Authorization"):
		return "pass the node's token: --token or SQUALL_TOKEN, client.WithToken"
	}
	return ""
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && s == target
}

// Unwrap returns the underlying *connect.Error (nil for errors the client
// made itself).
func (e *Error) Unwrap() error { return e.cause }

// wrap turns a Connect error into an *Error; other errors are returned as
// they are.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	e := &Error{Code: ce.Code(), Message: ce.Message(), cause: ce}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if f, ok := v.(*squallv1.AppendProcessingFailure); ok {
			rets, _ := apiconv.ValueMapFromProto("ack_returns", f.GetAckReturns())
			e.Failure = &AppendFailure{Partition: f.GetPartition(), Offset: f.GetOffset(), AckReturns: rets, Failures: f.GetFailures()}
		}
	}
	return e
}
