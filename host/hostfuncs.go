package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host/internal/interrupt"
	"github.com/squall-run/squall/host/internal/sandbox"
)

const i32 = api.ValueTypeI32

// instantiateHostModules instantiates squall_v1 (ABI.md §7) and WASI
// preview1 with the overrides ABI.md §8 needs.
func (r *Runtime) instantiateHostModules(ctx context.Context) error {
	b := r.rt.NewHostModuleBuilder(abi.ImportModule)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostFlush), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").Export(abi.ImportFlush)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostQuery), []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("req_ptr", "req_len", "out_ptr", "out_cap").Export(abi.ImportQuery)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostTake), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("out_ptr", "out_cap").Export(abi.ImportTake)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("host: instantiating %s: %w", abi.ImportModule, err)
	}

	t := r.rt.NewHostModuleBuilder(interrupt.ImportModule)
	t.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostTick), nil, []api.ValueType{i32}).Export(interrupt.ImportName)
	if _, err := t.Instantiate(ctx); err != nil {
		return fmt.Errorf("host: instantiating %s: %w", interrupt.ImportModule, err)
	}

	w := r.rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(w)
	// Later definitions replace wazero's: deterministic clocks and random
	// bytes per call, CPU-time clocks, and no sockets.
	w.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(wasiClockResGet), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("id", "result.resolution").Export("clock_res_get")
	w.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(wasiClockTimeGet), []api.ValueType{i32, api.ValueTypeI64, i32}, []api.ValueType{i32}).
		WithParameterNames("id", "precision", "result.timestamp").Export("clock_time_get")
	w.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(wasiRandomGet), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("buf", "buf_len").Export("random_get")
	for name, params := range map[string]int{"sock_accept": 3, "sock_recv": 6, "sock_send": 5, "sock_shutdown": 2} {
		ps := make([]api.ValueType, params)
		for i := range ps {
			ps[i] = i32
		}
		w.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(wasiNotSup), ps, []api.ValueType{i32}).Export(name)
	}
	if _, err := w.Instantiate(ctx); err != nil {
		return fmt.Errorf("host: instantiating %s: %w", wasi_snapshot_preview1.ModuleName, err)
	}
	return nil
}

// WASI preview1 errno values and clock ids.
const (
	wasiEFAULT  = 21
	wasiEINVAL  = 28
	wasiENOTSUP = 58

	clockRealtime       = 0
	clockMonotonic      = 1
	clockProcessCPUTime = 2
	clockThreadCPUTime  = 3
)

func wasiClockResGet(ctx context.Context, mod api.Module, stack []uint64) {
	switch uint32(stack[0]) {
	case clockRealtime, clockMonotonic, clockProcessCPUTime, clockThreadCPUTime:
	default:
		stack[0] = wasiEINVAL
		return
	}
	if !mod.Memory().WriteUint64Le(uint32(stack[1]), sandbox.ClockResolution) {
		stack[0] = wasiEFAULT
		return
	}
	stack[0] = 0
}

func wasiClockTimeGet(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceFrom(ctx)
	if in == nil {
		stack[0] = wasiEINVAL
		return
	}
	var v int64
	switch uint32(stack[0]) {
	case clockRealtime:
		v = in.clock.Realtime()
	case clockMonotonic, clockProcessCPUTime, clockThreadCPUTime:
		v = in.clock.Monotonic()
	default:
		stack[0] = wasiEINVAL
		return
	}
	if !mod.Memory().WriteUint64Le(uint32(stack[2]), uint64(v)) {
		stack[0] = wasiEFAULT
		return
	}
	stack[0] = 0
}

func wasiRandomGet(ctx context.Context, mod api.Module, stack []uint64) {
	in := instanceFrom(ctx)
	buf, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = wasiEFAULT
		return
	}
	if in == nil {
		stack[0] = wasiEINVAL
		return
	}
	_, _ = in.rand.Read(buf)
	stack[0] = 0
}

func wasiNotSup(_ context.Context, _ api.Module, stack []uint64) { stack[0] = wasiENOTSUP }

// trapError makes a host function trap: wazero recovers the panic and
// fails the guest's call with it (ABI.md §3 rule 1).
type trapError struct{ msg string }

func (e *trapError) Error() string { return e.msg }

// trap aborts the guest's call.
func trap(format string, args ...any) {
	panic(&trapError{msg: fmt.Sprintf(format, args...)}) // lint:allow-panic traps the guest: wazero recovers it and fails the call
}

// guestBytes returns the view of [ptr, ptr+n) of the guest's memory or traps.
func guestBytes(mod api.Module, fn, ptrName, lenName string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		trap("ABI violation: %s(%s=%d, %s=%d): [%d, %d) does not lie within the guest memory of %d bytes",
			fn, ptrName, ptr, lenName, n, ptr, uint64(ptr)+uint64(n), mod.Memory().Size())
	}
	return b
}

// callOf returns the instance and its call state, or a -ESTATE result when
// no call is running.
func callOf(ctx context.Context, fn string) (*Instance, *callState, int32) {
	in := instanceFrom(ctx)
	if in == nil {
		return nil, nil, int32(abi.ESTATE)
	}
	in.tick() // stop a call whose instance was closed or ran out of time
	c := &in.call
	if c.phase == phaseIdle {
		where := c.name
		if where == "" {
			where = "no export call"
		}
		return in, c, c.violate(abi.ESTATE, fmt.Errorf("%s called during %s; the host functions may be called only during squall_init and squall_process", fn, where))
	}
	return in, c, 0
}

// violate records an ABI violation (the first one wins) and returns code.
func (c *callState) violate(code abi.Errno, err error) int32 {
	if c.violation == nil {
		c.violation = err
	}
	return int32(code)
}

// hostTick is the interrupt check the host compiles into every module
// (host/internal/interrupt): the guest calls it once per budget of loop
// iterations and function calls. It stops a call that must stop, and
// returns the next budget. Being called, it also gives the Go scheduler
// and garbage collector the chance to stop the goroutine, which they
// cannot do while it runs native code.
func hostTick(ctx context.Context, _ api.Module, stack []uint64) {
	if in := instanceFrom(ctx); in != nil {
		in.tick()
	}
	stack[0] = interrupt.DefaultBudget
}

func hostFlush(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, n := uint32(stack[0]), uint32(stack[1])
	view := guestBytes(mod, "flush", "ptr", "len", ptr, n)
	in, c, rc := callOf(ctx, "flush")
	if c == nil || rc != 0 {
		stack[0] = uint64(uint32(rc))
		return
	}
	stack[0] = uint64(uint32(in.flush(c, view)))
}

func hostQuery(ctx context.Context, mod api.Module, stack []uint64) {
	reqPtr, reqLen, outPtr, outCap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	req := guestBytes(mod, "query", "req_ptr", "req_len", reqPtr, reqLen)
	out := guestBytes(mod, "query", "out_ptr", "out_cap", outPtr, outCap)
	in, c, rc := callOf(ctx, "query")
	if c == nil || rc != 0 {
		stack[0] = uint64(uint32(rc))
		return
	}
	stack[0] = uint64(uint32(in.query(c, req, out)))
}

func hostTake(ctx context.Context, mod api.Module, stack []uint64) {
	outPtr, outCap := uint32(stack[0]), uint32(stack[1])
	out := guestBytes(mod, "take", "out_ptr", "out_cap", outPtr, outCap)
	_, c, rc := callOf(ctx, "take")
	if c == nil || rc != 0 {
		stack[0] = uint64(uint32(rc))
		return
	}
	stack[0] = uint64(uint32(c.take(out)))
}

// take implements take (ABI.md §7.3).
func (c *callState) take(out []byte) int32 {
	if c.parked == nil {
		return int32(abi.ENOENT)
	}
	n := len(c.parked)
	if n <= len(out) {
		copy(out, c.parked)
		c.parked = nil
	}
	return int32(n)
}

// flush implements flush (ABI.md §7.1) on the frame at view.
func (in *Instance) flush(c *callState, view []byte) int32 {
	c.parked = nil
	c.flushes++
	if len(view) > abi.MaxEffectsFrame {
		return c.violate(abi.ETOOBIG, fmt.Errorf("flush: the effects frame is %d bytes; the limit is %d (abi.MaxEffectsFrame)", len(view), abi.MaxEffectsFrame))
	}
	if c.effectBytes+len(view) > in.m.r.cfg.MaxEffectBytesPerCall {
		c.quota = true
		return int32(abi.EQUOTA)
	}
	// Copy: the effects are kept after the guest reuses its buffer.
	f, err := abi.DecodeEffects(slices.Clone(view))
	if err != nil {
		var fe *abi.FrameError
		code := abi.EINVAL
		if errors.As(err, &fe) {
			code = fe.Errno()
		}
		return c.violate(code, fmt.Errorf("flush: %w", err))
	}
	if err := c.check.Frame(f); err != nil {
		return c.violate(abi.ESTATE, fmt.Errorf("flush: %w", err))
	}
	c.effectBytes += len(view)
	c.effects += len(f.Effects)
	for i := range f.Effects {
		e := &f.Effects[i]
		switch e.Op {
		case abi.EffectLog:
			in.logEffect(c, e)
		case abi.EffectError:
			if c.errDetail == nil {
				d := e.Detail
				c.errDetail, c.errItem = &d, e.Item
			}
		case abi.EffectDefine:
			c.define, c.defined = e.Value, true
		case abi.EffectOutcome:
			if !c.rejected[e.Item] {
				c.outcomes[e.Item] = ItemOutcome{Outcome: e.Outcome(), Detail: e.Detail}
			}
		}
	}
	if c.phase != phaseProcess {
		return 0
	}
	rs, err := in.handleEffects(c, f.Effects)
	if err != nil {
		c.hostErr = err
		return int32(abi.EINTERNAL)
	}
	if len(rs) == 0 {
		return 0
	}
	for i := range rs {
		r := &rs[i]
		if r.Effect < 0 || r.Effect >= len(f.Effects) || r.Code >= 0 {
			c.hostErr = fmt.Errorf("Handler.Effects returned an invalid rejection %+v for a frame of %d effects (Effect must index the frame, Code must be a negative errno)", *r, len(f.Effects))
			return int32(abi.EINTERNAL)
		}
		if r.Code == abi.EINTERNAL {
			c.hostErr = errors.New(r.Message)
			return int32(abi.EINTERNAL)
		}
		r.Item = f.Effects[r.Effect].Item
		if r.Item != abi.NoItem && int(r.Item) < len(c.rejected) && !c.rejected[r.Item] {
			c.rejected[r.Item] = true
			c.outcomes[r.Item] = ItemOutcome{Outcome: abi.OutcomePoison, Rejected: true,
				Detail: abi.ErrorDetail{Kind: "rejected", Message: r.Code.String() + ": " + r.Message}}
		}
	}
	parked, err := abi.Encode(abi.RejectionsValue(rs))
	if err != nil {
		c.hostErr = fmt.Errorf("encoding rejections: %w", err)
		return int32(abi.EINTERNAL)
	}
	c.parked = parked
	return int32(len(rs))
}

// handleEffects calls the Handler, turning a panic into an error so that
// a bug in the engine is not reported as a guest trap.
func (in *Instance) handleEffects(c *callState, effects []abi.Effect) (rs []abi.Rejection, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Handler.Effects panicked: %v", p)
		}
	}()
	return c.h.Effects(c.ctx, effects), nil
}

func (in *Instance) handleQuery(c *callState, q *abi.QueryFrame) (resp *abi.QueryResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Handler.Query panicked: %v", p)
		}
	}()
	return c.h.Query(c.ctx, q), nil
}

// logEffect writes a LOG effect to the logger within the per-call quota.
func (in *Instance) logEffect(c *callState, e *abi.Effect) {
	text := e.Text
	truncated := false
	if len(text) > sandbox.MaxLineBytes {
		cut := sandbox.MaxLineBytes
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text, truncated = text[:cut], true
	}
	if c.logBytes+len(text) > in.m.r.cfg.MaxLogBytesPerCall {
		c.logDropped += len(text)
		return
	}
	c.logBytes += len(text)
	var level slog.Level
	switch e.LogLevel() {
	case abi.LogDebug:
		level = slog.LevelDebug
	case abi.LogInfo:
		level = slog.LevelInfo
	case abi.LogWarn:
		level = slog.LevelWarn
	default:
		level = slog.LevelError
	}
	attrs := in.logAttrs("log", e.Item)
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	in.m.r.logger.LogAttrs(c.ctx, level, sandbox.ValidText([]byte(text)), attrs...)
}

// query implements query (ABI.md §7.2).
func (in *Instance) query(c *callState, req, out []byte) int32 {
	c.parked = nil
	c.queries++
	if c.phase != phaseProcess {
		return c.violate(abi.ESTATE, errors.New("query called during squall_init; queries are allowed only during squall_process"))
	}
	if len(req) > abi.MaxQueryFrame {
		return c.violate(abi.ETOOBIG, fmt.Errorf("query: the query frame is %d bytes; the limit is %d (abi.MaxQueryFrame)", len(req), abi.MaxQueryFrame))
	}
	in.qbuf = append(in.qbuf[:0], req...)
	q, err := abi.DecodeQuery(in.qbuf)
	if err != nil {
		var fe *abi.FrameError
		code := abi.EINVAL
		if errors.As(err, &fe) {
			code = fe.Errno()
		}
		return c.violate(code, fmt.Errorf("query: %w", err))
	}
	resp, err := in.handleQuery(c, q)
	switch {
	case err != nil:
	case resp == nil:
		err = errors.New("Handler.Query failed (returned no response)")
	case len(resp.Results) != len(q.Queries):
		err = fmt.Errorf("Handler.Query returned %d results for %d queries", len(resp.Results), len(q.Queries))
	}
	if err != nil {
		c.hostErr = err
		return int32(abi.EINTERNAL)
	}
	b, err := encodeResponse(in.resp[:0], resp)
	if err != nil {
		c.hostErr = fmt.Errorf("Handler.Query returned a response that cannot be encoded: %w", err)
		return int32(abi.EINTERNAL)
	}
	if cap(b) <= 4<<20 {
		in.resp = b
	} else {
		in.resp = nil
	}
	if len(b) <= len(out) {
		copy(out, b)
	} else {
		c.parked = b
	}
	return int32(len(b))
}

// encodeResponse encodes resp; results that would push it past
// abi.MaxResponseFrame become ETOOBIG (ABI.md §6.6).
func encodeResponse(dst []byte, resp *abi.QueryResponse) ([]byte, error) {
	b, err := resp.Append(dst)
	if err == nil || !errors.Is(err, abi.ErrTooLarge) {
		return b, err
	}
	fixed := &abi.QueryResponse{Results: make([]abi.Result, len(resp.Results))}
	size := abi.ResponseHeaderSize
	for i, res := range resp.Results {
		one, err := (&abi.QueryResponse{Results: []abi.Result{res}}).Append(nil)
		n := len(one) - abi.ResponseHeaderSize
		if err != nil && !errors.Is(err, abi.ErrTooLarge) {
			return dst, err
		}
		if err != nil || size+n > abi.MaxResponseFrame {
			msg := "the result would push the response past " + strconv.Itoa(abi.MaxResponseFrame>>20) + " MiB; select less (a sortedRange, a view count) or page through it"
			res = abi.Result{Status: int32(abi.ETOOBIG), Message: msg}
			n = abi.ResultHeaderSize + len(msg)
		}
		fixed.Results[i] = res
		size += n
	}
	return fixed.Append(dst)
}
