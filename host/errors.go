package host

import (
	"errors"
	"strconv"
	"strings"

	"github.com/squall-run/squall/abi"
)

// ErrorKind classifies a failed guest call, so that the engine can decide
// what to do (ABI.md §12.4). Every kind means the same for the instance:
// it is closed; start a fresh one.
type ErrorKind uint8

// Kinds of [GuestError].
const (
	// KindTrap: the guest trapped (a language panic, unreachable, an
	// out-of-bounds access, a bad pointer passed to a host function) or
	// called proc_exit. Retry the batch on a fresh instance after a
	// backoff; from the second attempt, isolate items.
	KindTrap ErrorKind = iota + 1
	// KindTimeout: the call ran past its deadline (Config.BatchTimeout or
	// InitTimeout) and was stopped: an endless loop, or a batch too big for
	// the deadline. Retry with a smaller batch.
	KindTimeout
	// KindOutOfMemory: the guest tried to grow its memory past
	// Config.MemoryLimitPages. Retry with a smaller batch; a single item
	// that needs more memory than the limit will keep failing.
	KindOutOfMemory
	// KindProtocol: the guest broke the ABI (a malformed or out-of-order
	// frame, a host function called at the wrong time, a bad inbox, OK
	// returned without every OUTCOME). An SDK bug: retrying may not help.
	KindProtocol
	// KindFailed: the guest reported the failure itself: it flushed an
	// ERROR effect or returned a status other than OK. GuestError.Detail
	// has its error detail and Item the item it names.
	KindFailed
	// KindQuota: the guest flushed more effects in one call than
	// Config.MaxEffectBytesPerCall. Retry the batch in smaller pieces; a
	// single item over the quota should be poisoned.
	KindQuota
	// KindHost: the Handler failed (it rejected an effect with EINTERNAL,
	// returned no query response, or panicked); not the guest's fault.
	// Retry after a backoff.
	KindHost
	// KindDefinition: the module definition flushed by squall_init is
	// invalid (Describe; Err is an *abi.DefError listing every problem), or
	// an instance defined the module differently from Describe (the
	// definition is not deterministic).
	KindDefinition
	// KindCanceled: the caller's context was canceled, or the instance was
	// closed, while the guest was running.
	KindCanceled
)

var kindNames = [...]string{"", "trap", "timeout", "out of memory", "ABI violation", "failed",
	"effects quota exceeded", "host failure", "invalid definition", "canceled"}

// String returns a short name, such as "trap".
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// GuestError reports a failed call into a guest instance. After it the
// instance is closed: start a fresh one with [Module.Instantiate].
//
//	var ge *host.GuestError
//	if errors.As(err, &ge) && ge.Kind == host.KindTimeout { ... }
type GuestError struct {
	// Kind classifies the failure.
	Kind ErrorKind
	// Module is the module's name as given to Compile.
	Module string
	// Call is what the host was doing: "instantiate", "_initialize",
	// "squall_inbox", "squall_init" or "squall_process".
	Call string
	// Msg says what happened, in one sentence.
	Msg string
	// Item is the batch item the guest named in its ERROR effect, or
	// abi.NoItem.
	Item uint32
	// Outcomes is the number of items whose OUTCOME the guest had flushed
	// when the call failed: items before it completed (a hint for
	// isolating a bad item).
	Outcomes uint32
	// Detail is the guest's ERROR detail (KindFailed), or nil.
	Detail *abi.ErrorDetail
	// Stack is the wasm stack trace of a trap, as wazero reports it.
	Stack string
	// Output is the end of what the guest wrote to stderr during the call:
	// language runtimes print panics and stack traces there.
	Output string
	// Err is the underlying error: wazero's, an *abi.FrameError (a
	// malformed or out-of-order frame), an *abi.DefError (an invalid
	// definition), the context's error, or nil.
	Err error
}

// Error renders `host: module "m": squall_process: trap: <Msg>`, followed
// by the wasm stack trace and the guest's stderr output, indented, when
// there are some.
func (e *GuestError) Error() string {
	var b strings.Builder
	b.WriteString("host: module ")
	b.WriteString(strconv.Quote(e.Module))
	b.WriteString(": ")
	if e.Call != "" {
		b.WriteString(e.Call)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Stack != "" {
		b.WriteString("\n\t")
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(e.Stack), "\n", "\n\t"))
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString("\n\tguest stderr:\n\t\t")
		b.WriteString(strings.ReplaceAll(out, "\n", "\n\t\t"))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *GuestError) Unwrap() error { return e.Err }

// ErrClosed is returned by calls on an Instance that was closed, by a
// failure or by Close.
var ErrClosed = errors.New("host: the instance is closed")

// ErrInvalidModule is the category of every error of Runtime.Compile that
// is the module's fault (not WebAssembly, does not compile, does not match
// the ABI); test with errors.Is. An *abi.InterfaceError in the chain lists
// the ABI problems.
var ErrInvalidModule = errors.New("invalid module")

// MustDiscard reports whether err means the Instance that returned it is
// closed: a *GuestError, or ErrClosed. Start a fresh instance from the
// Module (cheap: the compiled code is shared). Other errors (an invalid
// argument) leave the instance usable.
func MustDiscard(err error) bool {
	var ge *GuestError
	return errors.As(err, &ge) || errors.Is(err, ErrClosed)
}

// moduleError is an error of Compile.
type moduleError struct {
	module string
	msg    string
	cause  error
}

func (e *moduleError) Error() string {
	s := "host: module " + strconv.Quote(e.module) + ": "
	if e.msg != "" {
		s += e.msg
		if e.cause != nil {
			s += ": "
		}
	}
	if e.cause != nil {
		s += e.cause.Error()
	}
	return s
}

func (e *moduleError) Unwrap() error        { return e.cause }
func (e *moduleError) Is(target error) bool { return target == ErrInvalidModule }
