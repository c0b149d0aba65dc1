package host

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

// stillWorks checks that the runtime serves a fresh instance of m after a
// failure.
func stillWorks(t *testing.T, m *Module) {
	t.Helper()
	in, err := m.Instantiate(context.Background(), initParams)
	if err != nil {
		t.Fatalf("a fresh instance after the failure: %v", err)
	}
	defer in.Close(context.Background())
	res, err := in.Process(context.Background(), batchOf(abi.String("fine"), abi.Int(2)), &memHandler{})
	if err != nil || len(res.Outcomes) != 2 {
		t.Fatalf("processing on a fresh instance after the failure: %v", err)
	}
}

func TestProcessFailures(t *testing.T) {
	cfg := testConfig(t)
	cfg.MemoryLimitPages = 512 // 32 MiB
	cfg.MaxEffectBytesPerCall = 64 << 10
	m := compile(t, newRuntime(t, cfg), "chaos")
	cfg.BatchTimeout = 300 * time.Millisecond
	short := compile(t, newRuntime(t, cfg), "chaos") // for the endless loop
	for _, tc := range []struct {
		cmd   string
		h     *memHandler
		big   bool // a batch over the 1 MiB inbox the guest accepts
		kind  ErrorKind
		parts []string
	}{
		{cmd: "loop", kind: KindTimeout, parts: []string{
			`host: module "chaos": squall_process: timeout: the call did not finish within its deadline of 300ms and was stopped`}},
		{cmd: "bomb", kind: KindOutOfMemory, parts: []string{
			"squall_process: out of memory: the guest tried to grow its memory to", "and the limit is 512 pages (32.0 MiB)"}},
		{cmd: "badptr", kind: KindTrap, parts: []string{
			"squall_process: trap: ABI violation: flush(ptr=4294967040, len=4096): [4294967040, 4294971136) does not lie within the guest memory of",
			"wasm stack trace:"}},
		{cmd: "query-badptr", kind: KindTrap, parts: []string{"ABI violation: query(out_ptr=4294967280, out_cap=1048576): [4294967280, 4296015856) does not lie within the guest memory of"}},
		{cmd: "badframe", kind: KindProtocol, parts: []string{
			"squall_process: ABI violation: flush: abi: effects frame: header at byte 0: version 9; ABI v1 frames have version 1"}},
		{cmd: "badframe-ignored", kind: KindProtocol, parts: []string{"flush: abi: effects frame: header at byte 4: declares 1 effects"}},
		{cmd: "out-of-order", kind: KindProtocol, parts: []string{"flush: abi: effects frame: effect 0: OUTCOME for item 1 before the OUTCOME of item 0"}},
		{cmd: "define", kind: KindProtocol, parts: []string{"DEFINE is allowed only in squall_init"}},
		{cmd: "no-outcome", kind: KindProtocol, parts: []string{"squall_process returned OK but items 0 to 1 have no OUTCOME"}},
		{cmd: "status7", kind: KindFailed, parts: []string{"squall_process returned status 7 without flushing an ERROR effect"}},
		{cmd: "panic", kind: KindTrap, parts: []string{
			"trap: panic: chaos: boom (wasm error: unreachable)", "\n\twasm stack trace:\n\t\t.runtime.abort(i32) i32", "guest stderr:", "goroutine 1"}},
		{cmd: "exit", kind: KindTrap, parts: []string{"the guest exited with code 3 (proc_exit)"}},
		{cmd: "quota", kind: KindQuota, parts: []string{
			"effects quota exceeded: the call flushed more than 65536 bytes of effects (Config.MaxEffectBytesPerCall)"}},
		{cmd: "query-in-order", h: &memHandler{queryFail: true}, kind: KindHost, parts: []string{
			"host failure: the handler failed: Handler.Query failed (returned no response)"}},
		{cmd: "fine", h: &memHandler{effectsErr: "disk on fire"}, kind: KindHost, parts: []string{
			"host failure: the handler failed: disk on fire"}},
		{cmd: "fine", big: true, kind: KindProtocol, parts: []string{
			"squall_inbox: ABI violation: squall_inbox(", ") returned 0: the guest could not allocate an inbox of"}},
	} {
		name := tc.cmd
		if tc.big {
			name += "-big"
		}
		if tc.h != nil {
			name += "-handler"
		}
		t.Run(name, func(t *testing.T) {
			m := m
			if tc.kind == KindTimeout {
				m = short
			}
			in := instantiate(t, m)
			h := tc.h
			if h == nil {
				h = &memHandler{}
			}
			b := batchOf(abi.String(tc.cmd), abi.Int(2))
			if tc.big {
				b.Items[1].Payload, _ = abi.Encode(abi.Bytes(make([]byte, 2<<20)))
			}
			start := time.Now()
			_, err := in.Process(context.Background(), b, h)
			guestErr(t, err, tc.kind, tc.parts...)
			if _, err := in.Process(context.Background(), batchOf(abi.Int(1)), &memHandler{}); !errors.Is(err, ErrClosed) {
				t.Errorf("the failed instance is still usable: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the failure took %v", d)
			}
			stillWorks(t, m)
		})
	}
}

func TestOutputOverLimit(t *testing.T) {
	cfg := testConfig(t)
	logs := &recordingHandler{}
	cfg.Logger = slogNew(logs)
	cfg.MaxOutputBytesPerCall = 10_000
	r := newRuntime(t, cfg)
	in := instantiate(t, compile(t, r, "chaos"))
	if _, err := in.Process(context.Background(), batchOf(abi.String("flood")), &memHandler{}); err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	n := 0
	for _, l := range logs.lines {
		if strings.HasPrefix(l, "INFO yyyy") {
			n++
		}
	}
	logs.mu.Unlock()
	if n != 10 {
		t.Errorf("%d stdout lines logged, want 10 (10,000 bytes of 1001-byte lines)", n)
	}
	if !logs.has("WARN guest stdout over its limit: 991000 bytes dropped (Config.MaxOutputBytesPerCall is 10000) module=chaos source=host") {
		t.Errorf("no note about dropped output in:\n%.2000s", logs)
	}
}

func TestInitFailures(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "badinit")
	for _, tc := range []struct {
		tasks uint32
		kind  ErrorKind
		parts []string
	}{
		{2, KindTrap, []string{`host: module "badinit": squall_init: trap: panic: badinit: cannot define the module (wasm error: unreachable)`}},
		{4, KindDefinition, []string{"squall_init: invalid definition: abi: module definition has 3 problems:",
			`depots[1].name: duplicate depot name "in" (also depots[0])`, `topologies[0].sources[1].depot: unknown depot "clicks"`}},
		{16, KindFailed, []string{"squall_init: failed: ConfigError: missing setting"}},
		{32, KindProtocol, []string{"squall_init returned OK without flushing a DEFINE"}},
		{64, KindProtocol, []string{"query called during squall_init; queries are allowed only during squall_process"}},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			_, err := m.Describe(ctx, InitParams{Tasks: tc.tasks})
			ge := guestErr(t, err, tc.kind, tc.parts...)
			if tc.kind == KindDefinition {
				var de *abi.DefError
				if !errors.As(err, &de) || len(de.Problems) < 2 {
					t.Errorf("want an *abi.DefError with every problem, got %#v", ge.Err)
				}
			}
		})
	}
	// A definition that depends on the init frame is caught at instance
	// start.
	if _, err := m.Describe(ctx, InitParams{Tasks: 8, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Instantiate(ctx, InitParams{Tasks: 8, Seed: 2})
	guestErr(t, err, KindDefinition, "the module's definition is not deterministic", `described {"name": "m1", "depots": [`, `now {"name": "m2", "depots": [`)
	if _, err := m.Instantiate(ctx, InitParams{Tasks: 1, Seed: 1}); err == nil {
		t.Errorf("an instance whose definition differs from the described one started")
	}
}

func TestCloseStopsARunningCall(t *testing.T) {
	cfg := testConfig(t)
	cfg.BatchTimeout = time.Minute
	r := newRuntime(t, cfg)
	m := compile(t, r, "chaos")
	in := instantiate(t, m)
	go func() {
		time.Sleep(100 * time.Millisecond)
		in.Close(context.Background())
	}()
	_, err := in.Process(context.Background(), batchOf(abi.String("loop")), &memHandler{})
	guestErr(t, err, KindCanceled, "the instance was closed while the guest was running")

	ctx, cancel := context.WithCancel(context.Background())
	in = instantiate(t, m)
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err = in.Process(ctx, batchOf(abi.String("loop")), &memHandler{})
	guestErr(t, err, KindCanceled, "the caller's context ended while the guest was running: context canceled")
	stillWorks(t, m)
}

type panickyHandler struct{ nopHandler }

func (panickyHandler) Effects(context.Context, []abi.Effect) []abi.Rejection { panic("engine bug") }

func TestHandlerPanicIsNotAGuestTrap(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "echo")
	_, err := instantiate(t, m).Process(context.Background(), batchOf(abi.Int(1)), panickyHandler{})
	guestErr(t, err, KindHost, "host failure: the handler failed: Handler.Effects panicked: engine bug")
	stillWorks(t, m)
}

func TestOversizedResultBecomesETOOBIG(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 64 MiB result")
	}
	resp := &abi.QueryResponse{Results: []abi.Result{
		{Status: abi.ResultOK, Value: abi.Int(1)},
		{Status: abi.ResultOK, Value: abi.Bytes(make([]byte, abi.MaxResponseFrame))},
		{Status: abi.ResultNotFound},
	}}
	b, err := encodeResponse(nil, resp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := abi.DecodeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 3 || got.Results[0].Status != abi.ResultOK || got.Results[1].Status != int32(abi.ETOOBIG) ||
		!strings.Contains(got.Results[1].Message, "past 64 MiB") || got.Results[2].Status != abi.ResultNotFound {
		t.Errorf("results %+v", got.Results)
	}
}
