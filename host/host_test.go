package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/squall-run/squall/abi"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memHandler is a minimal engine: it records the effects it is given
// (except those of poisoned items), rejects APPENDs to depots >= 2 and
// TRANSFORMs of the key "reject", and answers SELECT_ONE of the key "big"
// with bigValue.
type memHandler struct {
	effects    []abi.Effect
	queries    int
	bigValue   abi.Value
	effectsErr string // fail Effects with EINTERNAL
	queryFail  bool   // fail Query
	poisoned   map[uint32]bool
}

func (h *memHandler) Effects(ctx context.Context, effects []abi.Effect) []abi.Rejection {
	if h.effectsErr != "" {
		return []abi.Rejection{{Effect: 0, Code: abi.EINTERNAL, Message: h.effectsErr}}
	}
	if h.poisoned == nil {
		h.poisoned = map[uint32]bool{}
	}
	var rs []abi.Rejection
	for i, e := range effects {
		if e.Op == abi.EffectLog || e.Op == abi.EffectError || h.poisoned[e.Item] {
			continue
		}
		reject := func(code abi.Errno, msg string) {
			rs = append(rs, abi.Rejection{Effect: i, Code: code, Message: msg})
			h.poisoned[e.Item] = true
		}
		switch e.Op {
		case abi.EffectAppend:
			if e.Target >= 2 {
				reject(abi.EBADID, fmt.Sprintf("depot %d does not exist", e.Target))
				continue
			}
		case abi.EffectTransform:
			if p, err := abi.ParsePath(e.Value); err == nil && len(p) > 0 && abi.Equal(p[0].Arg, abi.String("reject")) {
				reject(abi.EPATH, `the key "reject" is refused`)
				continue
			}
		}
		h.effects = append(h.effects, e)
	}
	return rs
}

func (h *memHandler) Query(ctx context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	h.queries++
	if h.queryFail {
		return nil
	}
	resp := &abi.QueryResponse{}
	for _, qu := range q.Queries {
		p, err := abi.ParsePath(qu.Path)
		switch {
		case err != nil:
			resp.Results = append(resp.Results, abi.Result{Status: int32(abi.EPATH), Message: err.Error()})
		case len(p) == 1 && abi.Equal(p[0].Arg, abi.String("big")):
			resp.Results = append(resp.Results, abi.Result{Status: abi.ResultOK, Value: h.bigValue})
		default:
			resp.Results = append(resp.Results, abi.Result{Status: abi.ResultNotFound})
		}
	}
	return resp
}

// ops lists the ops of the recorded effects, "APPEND TRANSFORM OUTCOME".
func (h *memHandler) ops() string {
	s := make([]string, len(h.effects))
	for i, e := range h.effects {
		s[i] = e.Op.String()
	}
	return strings.Join(s, " ")
}

const batchTime = int64(1_700_000_000_000_000_000)

// batchOf builds a batch of topology 0 on partition 0 whose items are
// records of depot 0 with the given values.
func batchOf(vals ...abi.Value) *abi.BatchFrame {
	b := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: 7, TimeUnixNano: batchTime, Seed: 42}}
	for i, v := range vals {
		enc, err := abi.Encode(v)
		if err != nil {
			panic(err)
		}
		b.Items = append(b.Items, abi.BatchItem{Kind: abi.ItemRecord, Depot: 0, Offset: uint64(i), EventTimeUnixNano: batchTime, Payload: enc})
	}
	return b
}

var initParams = InitParams{Tasks: 4, TimeUnixNano: batchTime, Seed: 1}

func compile(t testing.TB, r *Runtime, name string) *Module {
	t.Helper()
	m, err := r.Compile(context.Background(), name, fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func instantiate(t testing.TB, m *Module) *Instance {
	t.Helper()
	in, err := m.Instantiate(context.Background(), initParams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	return in
}

// guestErr asserts that err is a *GuestError of kind with a message that
// contains every part.
func guestErr(t *testing.T, err error, kind ErrorKind, parts ...string) *GuestError {
	t.Helper()
	var ge *GuestError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T), want a *GuestError of kind %s", err, err, kind)
	}
	t.Logf("%v", err)
	if ge.Kind != kind {
		t.Fatalf("kind %s, want %s; error:\n%v", ge.Kind, kind, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not contain %q:\n%v", p, err)
		}
	}
	if !MustDiscard(err) {
		t.Errorf("MustDiscard(%v) = false", err)
	}
	return ge
}

func TestEchoProcess(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "echo")
	def, err := m.Describe(ctx, initParams)
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "echo" || len(def.Depots) != 2 || def.Topologies[0].Stages[1] != "next" {
		t.Fatalf("definition %+v", def)
	}
	in := instantiate(t, m)
	h := &memHandler{}
	res, err := in.Process(ctx, batchOf(abi.Int(1), abi.String("x"), abi.Map(abi.MapEntry{Key: abi.String("k"), Val: abi.Bool(true)})), h)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.ops(), strings.Repeat("APPEND TRANSFORM OUTCOME ", 3); got != strings.TrimSpace(want) {
		t.Errorf("effects %q, want %q", got, want)
	}
	if !abi.Equal(h.effects[3].Value, abi.String("x")) || h.effects[3].Item != 1 {
		t.Errorf("second APPEND %+v", h.effects[3])
	}
	if len(res.Outcomes) != 3 || res.Flushes != 1 || res.Effects != 9 || res.Queries != 0 {
		t.Errorf("result %+v", res)
	}
	for i, o := range res.Outcomes {
		if o.Outcome != abi.OutcomeOK || o.Rejected {
			t.Errorf("outcome %d: %+v", i, o)
		}
	}
	// The instance keeps serving batches.
	for i := 0; i < 3; i++ {
		if _, err := in.Process(ctx, batchOf(abi.Int(int64(i))), &memHandler{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEchoOutcomesAndRejections(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	in := instantiate(t, compile(t, r, "echo"))
	h := &memHandler{}
	res, err := in.Process(ctx, batchOf(abi.String("poison"), abi.String("retry"), abi.String("bad-depot"),
		abi.String("reject-me"), abi.Int(5)), h)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome  abi.Outcome
		rejected bool
		msg      string
	}{
		{abi.OutcomePoison, false, "bad record"},
		{abi.OutcomeRetry, false, "try later"},
		{abi.OutcomePoison, true, "EBADID: depot 9 does not exist"},
		{abi.OutcomePoison, true, `EPATH: the key "reject" is refused`},
		{abi.OutcomeOK, false, ""},
	}
	for i, w := range want {
		o := res.Outcomes[i]
		if o.Outcome != w.outcome || o.Rejected != w.rejected || !strings.Contains(o.Detail.Message, w.msg) {
			t.Errorf("item %d: %+v, want %v rejected=%v %q", i, o, w.outcome, w.rejected, w.msg)
		}
	}
	// The guest saw the rejections (it flushed its own POISON after
	// taking them, or the call would have failed); the handler kept none of
	// a rejected item's effects.
	if got, want := h.ops(), "OUTCOME OUTCOME APPEND TRANSFORM OUTCOME"; got != want {
		t.Errorf("effects %q, want %q", got, want)
	}
}

func TestEchoQueryAndTake(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	in := instantiate(t, compile(t, r, "echo"))
	big := abi.String(strings.Repeat("b", 1000))
	h := &memHandler{bigValue: big}
	res, err := in.Process(ctx, batchOf(abi.Int(1), abi.String("query-big")), h)
	if err != nil {
		t.Fatal(err)
	}
	if res.Queries != 1 || h.queries != 1 {
		t.Fatalf("queries: result %d, handler %d", res.Queries, h.queries)
	}
	var emit *abi.Effect
	for i := range h.effects {
		if h.effects[i].Op == abi.EffectEmit {
			emit = &h.effects[i]
		}
	}
	if emit == nil {
		t.Fatalf("no EMIT in %s", h.ops())
	}
	size, _ := emit.Value.Index(0).AsInt()
	status, _ := emit.Value.Index(1).AsInt()
	if size <= 16 || status != 0 || !abi.Equal(emit.Value.Index(2), big) {
		t.Errorf("EMIT %v: want a size > 16 (parked and taken), status 0 and the big value", emit.Value)
	}
}

func TestEchoLogs(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	logs := &recordingHandler{}
	cfg.Logger = slog.New(logs)
	r := newRuntime(t, cfg)
	in := instantiate(t, compile(t, r, "echo"))
	b := batchOf(abi.String("log"))
	b.Header.Partition = 3
	if _, err := in.Process(ctx, b, &memHandler{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`WARN hello from echo module=echo source=log call=squall_process partition=3 topology=0 batch=7 attempt=0 item=0`,
		`INFO echo stdout line module=echo source=stdout call=squall_process partition=3`,
		`WARN echo stderr line module=echo source=stderr call=squall_process partition=3`,
	} {
		if !logs.has(want) {
			t.Errorf("no log record starting %q in:\n%s", want, logs)
		}
	}
}

func TestEchoGuestFailure(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "echo")
	in := instantiate(t, m)
	_, err := in.Process(ctx, batchOf(abi.Int(1), abi.String("fail")), &memHandler{})
	ge := guestErr(t, err, KindFailed, `host: module "echo": squall_process: failed: boom: echo failed on purpose`)
	if ge.Item != 1 || ge.Detail == nil || ge.Detail.Kind != "boom" || ge.Outcomes != 1 {
		t.Errorf("GuestError %+v", ge)
	}
	if _, err := in.Process(ctx, batchOf(abi.Int(1)), &memHandler{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Process after a failure: %v, want ErrClosed", err)
	}
	if _, err := instantiate(t, m).Process(ctx, batchOf(abi.Int(1)), &memHandler{}); err != nil {
		t.Errorf("a fresh instance: %v", err)
	}
}

func TestProcessInvalidBatch(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	in := instantiate(t, compile(t, r, "echo"))
	for _, tc := range []struct {
		name string
		edit func(*abi.BatchFrame)
		want string
	}{
		{"partition", func(b *abi.BatchFrame) { b.Header.Partition = 4 }, "partition 4, but the instance was started with 4 tasks"},
		{"topology", func(b *abi.BatchFrame) { b.Header.Topology = 1 }, "topology 1, but the module defines 1 topologies"},
		{"stage", func(b *abi.BatchFrame) { b.Items[0].Stage = 2 }, `item 0 names stage 2, but topology core has 2 stages`},
		{"empty payload", func(b *abi.BatchFrame) { b.Items[0].Payload = nil }, "empty payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batchOf(abi.Int(1))
			tc.edit(b)
			_, err := in.Process(ctx, b, &memHandler{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || MustDiscard(err) {
				t.Errorf("error %v, want one containing %q that keeps the instance", err, tc.want)
			}
		})
	}
	if _, err := in.Process(ctx, batchOf(abi.Int(1)), &memHandler{}); err != nil {
		t.Fatal(err)
	}
}

// emitted returns the value of the first EMIT the handler saw.
func emitted(t *testing.T, h *memHandler) abi.Value {
	t.Helper()
	for _, e := range h.effects {
		if e.Op == abi.EffectEmit {
			return e.Value
		}
	}
	t.Fatalf("no EMIT in %s", h.ops())
	return abi.Value{}
}

func TestDeterministicClockAndRandom(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "echo")
	run := func(in *Instance, seed uint64) abi.Value {
		b := batchOf(abi.String("clock"))
		b.Header.Seed = seed
		h := &memHandler{}
		if _, err := in.Process(ctx, b, h); err != nil {
			t.Fatal(err)
		}
		return emitted(t, h)
	}
	first := run(instantiate(t, m), 42)
	t0, _ := first.Index(0).AsInt()
	t1, _ := first.Index(1).AsInt()
	now, _ := first.Index(3).AsInt()
	if t0 != batchTime || t1 != batchTime+1000 || now < t1 || now > t1+100_000 {
		t.Errorf("clock readings %v: want the batch time %d, +1µs per read", first, batchTime)
	}
	// A retry on a fresh instance, and a later batch on a used one, see the
	// same clocks and random bytes.
	used := instantiate(t, m)
	run(used, 7)
	for name, got := range map[string]abi.Value{"fresh": run(instantiate(t, m), 42), "used": run(used, 42)} {
		if !abi.Equal(got, first) {
			t.Errorf("%s instance: %v, want %v", name, got, first)
		}
	}
	other := run(instantiate(t, m), 43)
	if abi.Equal(other.Index(2), first.Index(2)) {
		t.Errorf("seeds 42 and 43 gave the same random bytes %v", other.Index(2))
	}
}

// recordingHandler is a slog.Handler that keeps records as text lines.
type recordingHandler struct {
	mu    sync.Mutex
	lines []string
}

func slogNew(h slog.Handler) *slog.Logger { return slog.New(h) }

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	h.mu.Lock()
	h.lines = append(h.lines, s)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }
func (h *recordingHandler) has(prefix string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
func (h *recordingHandler) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}

func TestReadOnlyMount(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Mounts = []Mount{{HostDir: dir, GuestPath: "/assets"}}
	r := newRuntime(t, cfg)
	in := instantiate(t, compile(t, r, "echo"))
	h := &memHandler{}
	if _, err := in.Process(context.Background(), batchOf(abi.String("read-asset")), h); err != nil {
		t.Fatal(err)
	}
	v := emitted(t, h)
	data, _ := v.Index(0).AsBytes()
	readErr, _ := v.Index(1).AsString()
	if string(data) != "hello, guest" || readErr != "" {
		t.Errorf("read %q, error %q", data, readErr)
	}
	for i, what := range []string{"WriteFile", "open O_RDONLY|O_CREATE", "open O_RDONLY|O_TRUNC", "Remove", "Mkdir"} {
		e, _ := v.Index(2).Index(i).AsString()
		t.Logf("%s: %s", what, e)
		if e == "nil" || !strings.Contains(e, "Read-only file system") {
			t.Errorf("%s on a read-only mount: error %q, want EROFS", what, e)
		}
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(filepath.Join(dir, "hello.txt")); len(entries) != 1 || string(b) != "hello, guest" {
		t.Errorf("the guest changed the mount: %d entries, hello.txt is %q", len(entries), b)
	}
}

func TestProcessWithADoneContext(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	in := instantiate(t, compile(t, r, "echo"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := in.Process(ctx, batchOf(abi.Int(1)), &memHandler{}); !errors.Is(err, context.Canceled) || MustDiscard(err) {
		t.Fatalf("error %v, want context.Canceled keeping the instance", err)
	}
	if _, err := in.Process(context.Background(), batchOf(abi.Int(1)), &memHandler{}); err != nil {
		t.Fatal(err)
	}
}
