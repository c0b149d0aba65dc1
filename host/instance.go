package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host/internal/sandbox"
)

// Instance is a running guest module: its memory, its globals and the
// state of its language runtime. It processes one batch at a time and is
// not safe for concurrent use: give each instance to one goroutine (a
// partition's task). Close may be called from another goroutine to stop a
// running call.
//
// Any failed call closes the instance (see [MustDiscard]); start a fresh one
// from the Module.
type Instance struct {
	m     *Module
	tasks uint32
	def   *abi.ModuleDef

	mod                  api.Module
	mem                  api.Memory
	fnInit, fnInbox, fnP api.Function
	fnInitialize         api.Function
	stack                []uint64

	inboxPtr, inboxCap uint32

	clock          sandbox.Clock
	rand           sandbox.Rand
	limiter        *sandbox.Limiter
	stdout, stderr sandbox.Output

	frame []byte // batch frame encoding buffer
	qbuf  []byte // query frame copy
	resp  []byte // response encoding buffer

	call   callState
	closed atomic.Bool
	busy   atomic.Bool // a Process call is running
}

// phase says which export call is running, for the host functions.
type phase uint8

const (
	phaseIdle    phase = iota // _initialize, squall_inbox, or no call
	phaseInit                 // squall_init
	phaseProcess              // squall_process
)

// callState is the per-call state the host functions use.
type callState struct {
	ctx   context.Context
	phase phase
	name  string        // the export being called
	limit time.Duration // the call's deadline, for messages
	check *abi.CallCheck
	h     Handler
	batch *abi.BatchHeader

	parked      []byte
	effectBytes int
	logBytes    int
	logDropped  int

	// The first problem seen, which decides how the call fails.
	violation error // an ABI violation: KindProtocol
	hostErr   error // the Handler failed: KindHost
	quota     bool  // -EQUOTA: KindQuota
	errDetail *abi.ErrorDetail
	errItem   uint32 // the item field of the ERROR effect

	define   abi.Value
	defined  bool
	outcomes []ItemOutcome
	rejected []bool // per item: an effect of it was rejected

	flushes, effects, queries int

	// timedOut: the interrupt check stopped the call at its deadline.
	timedOut bool
}

// instKey is the context key under which host functions find the
// instance of the call.
type instKey struct{}

func instanceFrom(ctx context.Context) *Instance {
	in, _ := ctx.Value(instKey{}).(*Instance)
	return in
}

// interruptError stops a guest from a host function (the interrupt check
// or a host function called after Close): wazero recovers the panic and
// fails the call with it; failure classifies it by the instance's state.
type interruptError struct{}

func (*interruptError) Error() string { return "the call was interrupted" }

// tick stops the running call, by panicking with an *interruptError, when
// the instance or the runtime was closed, the caller's context ended or
// the call's deadline passed. The guest calls it through hostTick
// regularly (host/internal/interrupt), and host functions call it too.
func (in *Instance) tick() {
	c := &in.call
	switch {
	case in.closed.Load() || in.m.r.isClosed.Load():
	case c.ctx == nil:
		return
	case c.ctx.Err() != nil:
		c.timedOut = errors.Is(c.ctx.Err(), context.DeadlineExceeded)
	default:
		d, ok := c.ctx.Deadline()
		if !ok || time.Now().Before(d) {
			return
		}
		c.timedOut = true
	}
	panic(&interruptError{}) // lint:allow-panic stops the guest: wazero recovers it and fails the call
}

// inboxMin is the inbox capacity asked for before the first frame
// (ABI.md §3 rule 6).
const inboxMin = 64 << 10

// newInstance instantiates m's compiled code with the sandbox of ABI.md §8.
func newInstance(ctx context.Context, m *Module, tasks uint32, t int64, seed uint64) (*Instance, error) {
	r := m.r
	in := &Instance{m: m, tasks: tasks, stack: make([]uint64, 1)}
	in.limiter = sandbox.NewLimiter(uint64(r.cfg.MemoryLimitPages) * 65536)
	in.stdout = sandbox.Output{Limit: r.cfg.MaxOutputBytesPerCall, Emit: in.outputLine("stdout", slog.LevelInfo)}
	in.stderr = sandbox.Output{Limit: r.cfg.MaxOutputBytesPerCall, Emit: in.outputLine("stderr", slog.LevelWarn)}
	in.clock.Reset(t)
	in.rand.Reset(seed)
	in.stdout.Begin()
	in.stderr.Begin()

	cfg := m.modCfg.WithStdout(&in.stdout).WithStderr(&in.stderr)
	ictx, cancel := context.WithTimeout(ctx, r.cfg.InitTimeout)
	defer cancel()
	ictx = context.WithValue(experimental.WithMemoryAllocator(ictx, in.limiter), instKey{}, in)
	in.call = callState{ctx: ictx, name: "instantiate", limit: r.cfg.InitTimeout}
	mod, err := r.rt.InstantiateModule(ictx, m.c.cm, cfg)
	if err != nil {
		return nil, in.failure(ctx, ictx, "instantiate", err)
	}
	in.mod = mod
	in.mem = mod.Memory()
	in.fnInbox = mod.ExportedFunction(abi.ExportInbox)
	in.fnInit = mod.ExportedFunction(abi.ExportInit)
	in.fnP = mod.ExportedFunction(abi.ExportProcess)
	if m.c.init {
		in.fnInitialize = mod.ExportedFunction(abi.ExportInitialize)
	}
	if in.mem == nil || in.fnInbox == nil || in.fnInit == nil || in.fnP == nil {
		// CheckInterface makes this unreachable; fail cleanly anyway.
		_ = in.Close(ctx)
		return nil, &GuestError{Kind: KindProtocol, Module: m.name, Call: "instantiate", Item: abi.NoItem,
			Msg: "the instance lacks its memory or a required export"}
	}
	return in, nil
}

// init runs _initialize (if exported), squall_inbox and squall_init with
// frame, under the init deadline, and returns the definition value.
func (in *Instance) init(ctx context.Context, frame *abi.InitFrame) (abi.Value, error) {
	limit := in.m.r.cfg.InitTimeout
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cctx = context.WithValue(cctx, instKey{}, in)
	in.call = callState{ctx: cctx, limit: limit}
	if in.fnInitialize != nil {
		in.call.name = abi.ExportInitialize
		in.begin(frame.TimeUnixNano, frame.Seed)
		if err := in.fnInitialize.CallWithStack(cctx, in.stack); err != nil {
			return abi.Value{}, in.failure(ctx, cctx, abi.ExportInitialize, err)
		}
		if err := in.end(ctx, cctx); err != nil {
			return abi.Value{}, err
		}
	}
	if err := in.ensureInbox(ctx, cctx, limit, abi.InitFrameSize, frame.TimeUnixNano, frame.Seed); err != nil {
		return abi.Value{}, err
	}
	b := frame.Append(make([]byte, 0, abi.InitFrameSize))
	if !in.mem.Write(in.inboxPtr, b) {
		return abi.Value{}, in.protocol(ctx, abi.ExportInit, "the inbox at %d no longer lies within the guest memory", in.inboxPtr)
	}
	in.call = callState{ctx: cctx, phase: phaseInit, name: abi.ExportInit, check: abi.NewInitCheck(), limit: limit}
	in.begin(frame.TimeUnixNano, frame.Seed)
	status, err := in.invoke(cctx, in.fnInit, uint32(len(b)))
	if err != nil {
		return abi.Value{}, in.failure(ctx, cctx, abi.ExportInit, err)
	}
	if err := in.end(ctx, cctx); err != nil {
		return abi.Value{}, err
	}
	if err := in.verdict(ctx, abi.ExportInit, abi.CallStatus(status)); err != nil {
		return abi.Value{}, err
	}
	return in.call.define, nil
}

// ensureInbox asks the guest for an inbox of at least n bytes when the
// current one is smaller (ABI.md §3 rule 6).
func (in *Instance) ensureInbox(ctx, cctx context.Context, limit time.Duration, n int, t int64, seed uint64) error {
	if uint64(n) <= uint64(in.inboxCap) && in.inboxPtr != 0 {
		return nil
	}
	want := uint32(max(n, inboxMin))
	saved := in.call
	in.call = callState{ctx: cctx, name: abi.ExportInbox, limit: limit}
	in.begin(t, seed)
	ptr, err := in.invoke(cctx, in.fnInbox, want)
	if err != nil {
		return in.failure(ctx, cctx, abi.ExportInbox, err)
	}
	if err := in.end(ctx, cctx); err != nil {
		return err
	}
	if ptr == 0 {
		return in.protocol(ctx, abi.ExportInbox, "squall_inbox(%d) returned 0: the guest could not allocate an inbox of %d bytes", want, want)
	}
	if _, ok := in.mem.Read(ptr, want); !ok {
		return in.protocol(ctx, abi.ExportInbox, "squall_inbox(%d) returned %d, but [%d, %d) does not lie within the guest memory of %d bytes",
			want, ptr, ptr, uint64(ptr)+uint64(want), in.mem.Size())
	}
	in.inboxPtr, in.inboxCap = ptr, want
	in.call = saved
	return nil
}

// begin prepares the sandbox for a call whose frame has time t and seed.
func (in *Instance) begin(t int64, seed uint64) {
	in.clock.Reset(t)
	in.rand.Reset(seed)
	in.limiter.Clear()
	in.stdout.Begin()
	in.stderr.Begin()
}

// invoke calls fn(arg) and returns its i32 result.
func (in *Instance) invoke(ctx context.Context, fn api.Function, arg uint32) (uint32, error) {
	in.stack[0] = uint64(arg)
	if err := fn.CallWithStack(ctx, in.stack); err != nil {
		return 0, err
	}
	return uint32(in.stack[0]), nil
}

// end finishes the output of a call that returned, and fails it if a host
// function already decided so (a violation, a Handler error, a quota).
func (in *Instance) end(ctx, cctx context.Context) error {
	in.endOutput(cctx)
	c := &in.call
	switch {
	case c.violation != nil:
		return in.fail(ctx, &GuestError{Kind: KindProtocol, Call: c.name, Msg: c.violation.Error(), Err: c.violation})
	case c.hostErr != nil:
		return in.fail(ctx, &GuestError{Kind: KindHost, Call: c.name, Msg: "the handler failed: " + c.hostErr.Error(), Err: c.hostErr})
	case c.quota:
		return in.fail(ctx, &GuestError{Kind: KindQuota, Call: c.name, Msg: fmt.Sprintf(
			"the call flushed more than %d bytes of effects (Config.MaxEffectBytesPerCall); retry the batch in smaller pieces",
			in.m.r.cfg.MaxEffectBytesPerCall)})
	}
	return nil
}

// verdict checks how a call that returned status ends (ABI.md §6.4, §9.1).
func (in *Instance) verdict(ctx context.Context, name string, status abi.CallStatus) error {
	c := &in.call
	if c.errDetail != nil || status != abi.StatusOK {
		ge := &GuestError{Kind: KindFailed, Call: name, Detail: c.errDetail}
		switch {
		case in.limiter.Refused() > 0:
			ge.Kind, ge.Msg = KindOutOfMemory, in.oomMsg()
			if c.errDetail != nil {
				ge.Msg += "; the guest then reported: " + c.errDetail.Message
			}
		case c.errDetail != nil:
			ge.Msg = detailText(c.errDetail)
			if status == abi.StatusOK {
				ge.Msg += " (the guest flushed an ERROR and returned OK)"
			}
		default:
			ge.Msg = fmt.Sprintf("%s returned status %d without flushing an ERROR effect", name, status)
		}
		if c.errDetail == nil {
			ge.Output = in.stderr.Tail()
		}
		return in.fail(ctx, ge)
	}
	if err := c.check.End(status); err != nil {
		return in.fail(ctx, &GuestError{Kind: KindProtocol, Call: name, Msg: err.Error(), Err: err})
	}
	return nil
}

func detailText(d *abi.ErrorDetail) string {
	s := d.Message
	if d.Kind != "" {
		s = d.Kind + ": " + s
	}
	if d.Stack != "" {
		s += "\n" + d.Stack
	}
	return s
}

func (in *Instance) oomMsg() string {
	const mib = 1 << 20
	return fmt.Sprintf("the guest tried to grow its memory to %d pages (%.1f MiB) and the limit is %d pages (%.1f MiB); process smaller batches or raise Config.MemoryLimitPages",
		in.limiter.Refused()/65536, float64(in.limiter.Refused())/mib, in.limiter.Limit()/65536, float64(in.limiter.Limit())/mib)
}

// protocol fails the instance with an ABI violation found by the host
// outside a host function.
func (in *Instance) protocol(ctx context.Context, call, format string, args ...any) error {
	return in.fail(ctx, &GuestError{Kind: KindProtocol, Call: call, Msg: fmt.Sprintf(format, args...)})
}

// failure classifies an error returned by wazero for a call and fails the
// instance. ctx is the caller's context, cctx the call's.
func (in *Instance) failure(ctx, cctx context.Context, call string, err error) error {
	in.endOutput(cctx)
	c := &in.call
	ge := &GuestError{Call: call, Err: err, Output: in.stderr.Tail()}
	var exit *sys.ExitError
	var tr *trapError
	switch {
	case ctx.Err() != nil:
		ge.Kind, ge.Msg, ge.Err = KindCanceled, "the caller's context ended while the guest was running: "+ctx.Err().Error(), ctx.Err()
	case c.timedOut:
		ge.Kind = KindTimeout
		ge.Msg = fmt.Sprintf("the call did not finish within its deadline of %v and was stopped; the guest may loop forever, or the batch is too large for the deadline", c.limit)
	case in.closed.Load():
		ge.Kind, ge.Msg = KindCanceled, "the instance was closed while the guest was running"
	case in.m.r.isClosed.Load():
		ge.Kind, ge.Msg = KindCanceled, "the runtime was closed while the guest was running"
	case in.limiter.Refused() > 0:
		ge.Kind, ge.Msg = KindOutOfMemory, in.oomMsg()
	case c.violation != nil:
		ge.Kind, ge.Msg, ge.Err = KindProtocol, c.violation.Error()+" (the guest then stopped: "+firstLine(err.Error())+")", c.violation
	case c.hostErr != nil:
		ge.Kind, ge.Msg, ge.Err = KindHost, "the handler failed: "+c.hostErr.Error(), c.hostErr
	case errors.As(err, &tr):
		ge.Kind, ge.Msg = KindTrap, tr.msg
	case errors.As(err, &exit):
		ge.Kind = KindTrap
		ge.Msg = fmt.Sprintf("the guest exited with code %d (proc_exit)", exit.ExitCode())
		if p := panicLine(ge.Output); p != "" {
			ge.Msg += ": " + p
		}
	default:
		// A wasm trap (unreachable, out-of-bounds access, stack overflow);
		// a language runtime usually printed why just before.
		ge.Kind, ge.Msg = KindTrap, firstLine(err.Error())
		if p := panicLine(ge.Output); p != "" {
			ge.Msg = p + " (" + ge.Msg + ")"
		}
	}
	if ge.Kind == KindTrap || ge.Kind == KindOutOfMemory {
		ge.Stack = stackOf(err)
	}
	return in.fail(ctx, ge)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// stackOf returns the "wasm stack trace:" part of a wazero error.
func stackOf(err error) string {
	s := err.Error()
	if i := strings.Index(s, "wasm stack trace:"); i >= 0 {
		return s[i:]
	}
	return ""
}

// panicLine finds the line of a language runtime's crash report in the
// guest's stderr: Go's "panic: ..." or "fatal error: ...", Rust's
// "panicked at", Python's last traceback line.
func panicLine(out string) string {
	lines := strings.Split(out, "\n")
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "panic: ") || strings.HasPrefix(t, "fatal error: ") || strings.Contains(t, "panicked at") {
			return t
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(lines[i]); t != "" {
			return t
		}
	}
	return ""
}

// fail closes the instance and completes ge.
func (in *Instance) fail(ctx context.Context, ge *GuestError) error {
	ge.Module = in.m.name
	ge.Item = abi.NoItem
	if in.call.errDetail != nil {
		ge.Item = in.call.errItem
	}
	if in.call.check != nil {
		ge.Outcomes = in.call.check.Next()
	}
	in.call.phase = phaseIdle
	_ = in.Close(ctx)
	return ge
}

// Close closes the instance and frees its memory. It may be called from
// another goroutine to stop a running call, and more than once.
func (in *Instance) Close(ctx context.Context) error {
	if in.closed.Swap(true) || in.mod == nil {
		return nil
	}
	return in.mod.Close(ctx)
}

// Module returns the module the instance runs.
func (in *Instance) Module() *Module { return in.m }

// MemoryBytes returns the size of the instance's linear memory: what the
// guest has grown it to, the memory an instance costs (benchmarks report
// it per language). Not to be called during a call from another goroutine.
func (in *Instance) MemoryBytes() uint64 {
	if in.mem == nil {
		return 0
	}
	return uint64(in.mem.Size())
}

// Process runs one batch (ABI.md §12.3): it writes the batch frame into the
// guest's inbox and calls squall_process under Config.BatchTimeout. While
// the guest runs, its flushed effects go to h.Effects and its queries to
// h.Query, in the order the guest makes them.
//
// On success the result has one outcome per item; commit the effects of
// the items that ended OK (or were poisoned) as ABI.md §12.3 says. On
// failure the error is a *GuestError, the instance is closed, and
// everything h applied during the call must be discarded. An invalid batch
// (a topology or stage the module does not define, an item that cannot be
// encoded) is reported without touching the instance.
func (in *Instance) Process(ctx context.Context, batch *abi.BatchFrame, h Handler) (*ProcessResult, error) {
	if in.closed.Load() {
		return nil, ErrClosed
	}
	if batch == nil || h == nil {
		return nil, errors.New("host: Process needs a batch and a handler")
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the instance stays usable
	}
	if !in.busy.CompareAndSwap(false, true) {
		return nil, errors.New("host: Process called while another Process call of the same Instance is running; an Instance serves one goroutine at a time")
	}
	defer in.busy.Store(false)
	if err := in.checkBatch(batch); err != nil {
		return nil, err
	}
	frame, err := batch.Append(in.frame[:0])
	if err != nil {
		return nil, fmt.Errorf("host: module %q: cannot encode the batch: %w", in.m.name, err)
	}
	if cap(frame) <= 4<<20 {
		in.frame = frame[:0] // keep moderate buffers for the next batch
	} else {
		in.frame = nil
	}
	hdr := &batch.Header
	cctx, cancel := context.WithTimeout(ctx, in.m.r.cfg.BatchTimeout)
	defer cancel()
	cctx = context.WithValue(cctx, instKey{}, in)

	limit := in.m.r.cfg.BatchTimeout
	if err := in.ensureInbox(ctx, cctx, limit, len(frame), hdr.TimeUnixNano, hdr.Seed); err != nil {
		return nil, err
	}
	if !in.mem.Write(in.inboxPtr, frame) {
		return nil, in.protocol(ctx, abi.ExportProcess, "the inbox at %d no longer lies within the guest memory", in.inboxPtr)
	}
	n := len(batch.Items)
	in.call = callState{
		ctx: cctx, phase: phaseProcess, name: abi.ExportProcess, h: h, batch: hdr, limit: limit,
		check:    abi.NewProcessCheck(uint32(n)),
		outcomes: make([]ItemOutcome, n), rejected: make([]bool, n),
	}
	in.begin(hdr.TimeUnixNano, hdr.Seed)
	status, err := in.invoke(cctx, in.fnP, uint32(len(frame)))
	in.call.parked = nil
	if err != nil {
		return nil, in.failure(ctx, cctx, abi.ExportProcess, err)
	}
	if err := in.end(ctx, cctx); err != nil {
		return nil, err
	}
	if err := in.verdict(ctx, abi.ExportProcess, abi.CallStatus(status)); err != nil {
		return nil, err
	}
	c := &in.call
	res := &ProcessResult{Outcomes: c.outcomes, Flushes: c.flushes, Effects: c.effects, Queries: c.queries, EffectBytes: c.effectBytes}
	in.call = callState{}
	return res, nil
}

// checkBatch checks the batch against the module definition.
func (in *Instance) checkBatch(b *abi.BatchFrame) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("host: module %q: invalid batch: %s", in.m.name, fmt.Sprintf(format, args...))
	}
	if b.Header.Partition >= in.tasks {
		return fail("partition %d, but the instance was started with %d tasks", b.Header.Partition, in.tasks)
	}
	var name string
	var stages int
	if b.Header.Flags&abi.BatchQuery != 0 {
		// A query invocation (ABI.md §15.5): the topology field indexes
		// the queries, and only a 1.1 guest may be sent one.
		if in.m.c.minor < 1 {
			return fail("a query batch, but the module declares ABI 1.%d", in.m.c.minor)
		}
		if int(b.Header.Topology) >= len(in.def.Queries) {
			return fail("query %d, but the module defines %d queries", b.Header.Topology, len(in.def.Queries))
		}
		q := &in.def.Queries[b.Header.Topology]
		name, stages = "query "+q.Name, len(q.Stages)
	} else {
		if int(b.Header.Topology) >= len(in.def.Topologies) {
			return fail("topology %d, but the module defines %d topologies", b.Header.Topology, len(in.def.Topologies))
		}
		t := &in.def.Topologies[b.Header.Topology]
		name, stages = "topology "+t.Name, len(t.Stages)
	}
	for i := range b.Items {
		if s := b.Items[i].Stage; int(s) >= stages {
			return fail("item %d names stage %d, but %s has %d stages", i, s, name, stages)
		}
		if it := &b.Items[i]; it.Kind == abi.ItemRecord && int(it.Depot) >= len(in.def.Depots) {
			return fail("item %d names depot %d, but the module defines %d depots", i, it.Depot, len(in.def.Depots))
		}
	}
	return nil
}

// outputLine returns the Emit function of a stdout or stderr Output.
func (in *Instance) outputLine(stream string, level slog.Level) func(string, bool) {
	return func(line string, truncated bool) {
		attrs := in.logAttrs(stream, abi.NoItem)
		if truncated {
			attrs = append(attrs, slog.Bool("truncated", true))
		}
		in.m.r.logger.LogAttrs(in.logCtx(), level, line, attrs...)
	}
}

func (in *Instance) logCtx() context.Context {
	if in.call.ctx != nil {
		return in.call.ctx
	}
	return context.Background()
}

// logAttrs tags a log record of the current call.
func (in *Instance) logAttrs(source string, item uint32) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("module", in.m.name), slog.String("source", source))
	if in.call.name != "" {
		attrs = append(attrs, slog.String("call", in.call.name))
	}
	if b := in.call.batch; b != nil {
		attrs = append(attrs, slog.Uint64("partition", uint64(b.Partition)), slog.Uint64("topology", uint64(b.Topology)),
			slog.Uint64("batch", b.BatchID), slog.Uint64("attempt", uint64(b.Attempt)))
	}
	if item != abi.NoItem {
		attrs = append(attrs, slog.Uint64("item", uint64(item)))
	}
	return attrs
}

// endOutput flushes partial output lines and notes dropped output.
func (in *Instance) endOutput(cctx context.Context) {
	for _, o := range []struct {
		name string
		out  *sandbox.Output
	}{{"stdout", &in.stdout}, {"stderr", &in.stderr}} {
		if d := o.out.End(); d > 0 {
			in.m.r.logger.LogAttrs(cctx, slog.LevelWarn,
				"guest "+o.name+" over its limit: "+strconv.Itoa(d)+" bytes dropped (Config.MaxOutputBytesPerCall is "+
					strconv.Itoa(in.m.r.cfg.MaxOutputBytesPerCall)+")", in.logAttrs("host", abi.NoItem)...)
		}
	}
	if c := &in.call; c.logDropped > 0 {
		in.m.r.logger.LogAttrs(cctx, slog.LevelWarn,
			"guest LOG effects over their limit: "+strconv.Itoa(c.logDropped)+" bytes dropped (Config.MaxLogBytesPerCall is "+
				strconv.Itoa(in.m.r.cfg.MaxLogBytesPerCall)+")", in.logAttrs("host", abi.NoItem)...)
		c.logDropped = 0
	}
}
