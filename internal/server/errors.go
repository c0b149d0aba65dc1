package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/storage"
)

// This file is the one place where errors become Connect errors. Handlers
// return the errors of the engine, storage, host and apiconv packages, or
// the request errors below; [toConnect] picks the code and the message.

// notFoundError names a module, depot or PState that does not exist and
// lists those that do.
type notFoundError struct {
	kind, name string
	module     string // for depots and PStates
	have       []string
}

func (e *notFoundError) Error() string {
	var b strings.Builder
	if e.module != "" {
		fmt.Fprintf(&b, "module %q has no %s %q", e.module, e.kind, e.name)
	} else {
		fmt.Fprintf(&b, "%s %q is not deployed", e.kind, e.name)
	}
	if len(e.have) == 0 {
		if e.module == "" {
			b.WriteString("; no module is deployed (deploy one with `squall deploy FILE.wasm`)")
		} else {
			fmt.Fprintf(&b, "; it has no %ss", e.kind)
		}
	} else {
		fmt.Fprintf(&b, "; %ss: %s", e.kind, strings.Join(quoteAll(e.have), ", "))
	}
	return b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// existsError is a Deploy of a name already deployed.
type existsError struct{ module string }

func (e *existsError) Error() string {
	return fmt.Sprintf("module %q is already deployed; deploy under another name (header.module), or restart with a fresh data directory to replace it", e.module)
}

// failedModuleError is a request to a module that could not be restored.
type failedModuleError struct{ module, reason string }

func (e *failedModuleError) Error() string {
	return fmt.Sprintf("module %q failed to start on this node: %s", e.module, e.reason)
}

// busyError is an Update or Destroy of a module that is being deployed,
// updated or destroyed.
type busyError struct{ module string }

func (e *busyError) Error() string {
	return fmt.Sprintf("module %q is being deployed, updated or destroyed by another request; retry once it is done", e.module)
}

// definitionChangedError is an Update whose new artifact declares another
// definition than the running one.
type definitionChangedError struct {
	module string
	diff   []string // what differs, e.g. `PState "counts" changed`
}

func (e *definitionChangedError) Error() string {
	what := "its definition differs"
	if len(e.diff) > 0 {
		what = strings.Join(e.diff, ", ")
	}
	return fmt.Sprintf("module %q: the new artifact's definition differs from the running one (%s); "+
		"an update may only change code: changing depots, PStates or topologies needs `squall destroy %s --yes` "+
		"(which deletes its data) and a new deploy, until migrations are supported", e.module, what, e.module)
}

// requestError is a request the handler refuses with a given code.
type requestError struct {
	code connect.Code
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{code: connect.CodeInvalidArgument, msg: fmt.Sprintf(format, args...)}
}

func failedPrecondition(format string, args ...any) error {
	return &requestError{code: connect.CodeFailedPrecondition, msg: fmt.Sprintf(format, args...)}
}

func unimplemented(format string, args ...any) error {
	return &requestError{code: connect.CodeUnimplemented, msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &requestError{code: connect.CodeResourceExhausted, msg: fmt.Sprintf(format, args...)}
}

// processingFailure is an append whose record was appended but whose
// processing failed: it becomes an Aborted error with an
// AppendProcessingFailure detail.
type processingFailure struct {
	pe     *engine.ProcessingError
	detail *squallv1.AppendProcessingFailure
}

func (e *processingFailure) Error() string { return e.pe.Error() }

// prefixes are the package prefixes stripped from messages sent to
// clients (they name Go packages, not API concepts).
var prefixes = []string{"engine: not found: ", "engine: invalid request: ", "engine: ", "storage: ", "abi: ", "host: "}

func clean(msg string) string {
	for _, p := range prefixes {
		if strings.HasPrefix(msg, p) {
			return strings.TrimPrefix(msg, p)
		}
	}
	return msg
}

// toConnect maps err to a Connect error. Errors it does not know are
// logged with the procedure and answered as Internal without their text.
func toConnect(log *slog.Logger, procedure string, err error) *connect.Error {
	var (
		ce  *connect.Error
		re  *requestError
		nf  *notFoundError
		ex  *existsError
		fm  *failedModuleError
		be  *busyError
		dc  *definitionChangedError
		fe  *apiconv.FieldError
		ve  *protovalidate.ValidationError
		pf  *processingFailure
		im  *invalidModuleError
		spe *storage.PathError
		ape *abi.PathError
		qe  *engine.QueryError
	)
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.As(err, &re):
		return connect.NewError(re.code, errors.New(re.msg))
	case errors.As(err, &nf):
		return connect.NewError(connect.CodeNotFound, errors.New(nf.Error()))
	case errors.As(err, &ex):
		return connect.NewError(connect.CodeAlreadyExists, errors.New(ex.Error()))
	case errors.As(err, &be):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(be.Error()))
	case errors.As(err, &dc):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(dc.Error()))
	case errors.As(err, &fm):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(fm.Error()))
	case errors.As(err, &ve):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(validationMessage(ve)))
	case errors.As(err, &fe):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(fe.Error()))
	case errors.As(err, &pf):
		c := connect.NewError(connect.CodeAborted, errors.New(clean(pf.Error())+"; the record is in the depot: do not append it again blindly"))
		if d, derr := connect.NewErrorDetail(pf.detail); derr == nil {
			c.AddDetail(d)
		}
		return c
	case errors.As(err, &im):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("invalid module: "+moduleMessage(im.err)))
	case errors.As(err, &qe):
		switch qe.Code {
		case abi.EINVAL:
			return connect.NewError(connect.CodeInvalidArgument, errors.New(clean(qe.Error())))
		case abi.ETIMEDOUT:
			return connect.NewError(connect.CodeDeadlineExceeded, errors.New(clean(qe.Error())))
		}
		// The query's own code failed: not the node's fault, not the
		// request's; the message says which stage and why.
		return connect.NewError(connect.CodeAborted, errors.New(clean(qe.Error())))
	case errors.As(err, &spe):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("path: "+clean(spe.Error())))
	case errors.As(err, &ape):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("path: "+clean(ape.Error())))
	case errors.Is(err, engine.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New(clean(err.Error())))
	case errors.Is(err, engine.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(clean(err.Error())))
	case errors.Is(err, storage.ErrTooLarge):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(clean(err.Error())))
	case errors.Is(err, engine.ErrClosed), errors.Is(err, storage.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, errors.New("the node is shutting down; retry once it is back"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the request was canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request's deadline passed"))
	}
	log.Error("internal error", "procedure", procedure, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the node's log has the details"))
}

// moduleMessage renders a module's problems: every problem of an invalid
// definition, one per line.
func moduleMessage(err error) string {
	var de *abi.DefError
	if errors.As(err, &de) {
		lines := make([]string, len(de.Problems))
		for i, p := range de.Problems {
			lines[i] = p.Where + ": " + p.Msg
		}
		return fmt.Sprintf("its definition has %d problem(s):\n\t%s", len(lines), strings.Join(lines, "\n\t"))
	}
	var ie *abi.InterfaceError
	if errors.As(err, &ie) {
		return clean(ie.Error())
	}
	var ge *host.GuestError
	if errors.As(err, &ge) {
		return "the module failed while describing itself: " + clean(ge.Error())
	}
	return clean(err.Error())
}

// validationMessage lists every violation as "field: message".
func validationMessage(ve *protovalidate.ValidationError) string {
	var lines []string
	for _, v := range ve.Violations {
		field := protovalidate.FieldPathString(v.Proto.GetField())
		msg := v.Proto.GetMessage()
		if field != "" {
			msg = field + ": " + msg
		}
		lines = append(lines, msg)
	}
	if len(lines) == 0 {
		return "invalid request"
	}
	return strings.Join(lines, "; ")
}
