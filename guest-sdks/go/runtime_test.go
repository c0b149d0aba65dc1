package squall

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/squall-run/squall/guest-sdks/go/internal/rt"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// scriptHost records flushed frames and answers with scripted results.
type scriptHost struct {
	frames  [][]byte
	flushRC []int32 // results of successive flushes (0 when exhausted)
	queryRC int32   // result of queries, when not 0
	parked  []byte
}

func (h *scriptHost) Flush(frame []byte) int32 {
	h.frames = append(h.frames, append([]byte(nil), frame...))
	if len(h.flushRC) == 0 {
		return 0
	}
	rc := h.flushRC[0]
	h.flushRC = h.flushRC[1:]
	return rc
}

func (h *scriptHost) Query(req, out []byte) int32 {
	if h.queryRC != 0 {
		return h.queryRC
	}
	resp := wire.AppendHeader(nil, wire.KindResponse, 1)
	resp = wire.AppendU32(resp, 1)
	resp = wire.AppendU32(resp, 0)
	resp = append(resp, 0x07)
	copy(out, resp)
	return int32(len(resp))
}

func (h *scriptHost) Take(out []byte) int32 {
	if h.parked == nil {
		return wire.ENOENT
	}
	n := copy(out, h.parked)
	h.parked = nil
	return int32(n)
}

// effectsOf lists "OP item flags" of every effect flushed.
func (h *scriptHost) effects() []string {
	var out []string
	names := wire.OpNames
	for _, f := range h.frames {
		for p := 8; p < len(f); {
			size := int(binary.LittleEndian.Uint32(f[p:]))
			item := int32(binary.LittleEndian.Uint32(f[p+8:]))
			out = append(out, names[f[p+4]]+" "+itoa(int(item))+" "+itoa(int(f[p+5])))
			p += 12 + size
		}
	}
	return out
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func testModule(stage StageFunc) func(*ModuleBuilder) {
	return func(m *ModuleBuilder) {
		d := m.Depot("d", Random())
		m.PState("$$p", MapOf(IntT, IntT))
		t := m.Stream("t")
		t.Source(d, t.Stage("s", stage))
		t.Stage("other", func(*Ctx, Value) error { return nil })
	}
}

func start(t *testing.T, define any, host rt.Host) rt.Instance {
	t.Helper()
	inst := rt.NewInstance(define, host)
	inbox := inst.Inbox(64 << 10)
	n := copy(inbox, []byte{1, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if st := inst.Init(n); st != 0 {
		t.Fatalf("init status %d", st)
	}
	return inst
}

// batch writes a batch of records (one per payload) for topology topo and
// stage index stage.
func batch(inst rt.Instance, topo, stage uint16, payloads ...[]byte) int {
	b := wire.AppendHeader(nil, wire.KindBatch, uint32(len(payloads)))
	b = wire.AppendU64(b, 1)
	b = wire.AppendU32(b, 0)
	b = wire.AppendU32(b, 0)
	b = wire.AppendU16(b, topo)
	b = append(b, make([]byte, 6+16)...)
	for _, p := range payloads {
		b = wire.AppendU32(b, uint32(len(p)))
		b = append(b, wire.ItemRecord, 0)
		b = wire.AppendU16(b, stage)
		b = wire.AppendU16(b, 0)
		b = append(b, make([]byte, 2+4+8+8)...)
		b = append(b, p...)
	}
	return copy(inst.Inbox(len(b)), b)
}

func TestRuntimeHostFailure(t *testing.T) {
	var errs []error
	host := &scriptHost{}
	inst := start(t, testModule(func(ctx *Ctx, v Value) error {
		errs = append(errs, ctx.Transform(&PState{name: "$$p"}, Key(1).Set(1)))
		_, err := ctx.SelectOne(&PState{name: "$$p"}, Key(1))
		errs = append(errs, err, ctx.Emit(1))
		return err
	}), host)
	host.frames = nil
	host.flushRC = []int32{wire.EINTERNAL}
	if st := inst.Process(batch(inst, 0, 0, []byte{1}, []byte{2})); st != wire.StatusFailed {
		t.Fatalf("status %d", st)
	}
	var fe *failingError
	if errs[0] != nil || !errors.As(errs[1], &fe) || !errors.As(errs[2], &fe) {
		t.Fatalf("errors %v", errs)
	}
	if len(errs) != 3 || len(host.frames) != 1 {
		t.Fatalf("the batch went on after the host failed: %v, %d frames", errs, len(host.frames))
	}
}

func TestRuntimeQueryFailure(t *testing.T) {
	host := &scriptHost{queryRC: wire.EINTERNAL}
	inst := start(t, testModule(func(ctx *Ctx, v Value) error {
		ctx.Log(LogInfo, "reading")
		_, err := ctx.Select(&PState{name: "$$p"}, Key(1))
		return err
	}), host)
	host.frames = nil
	if st := inst.Process(batch(inst, 0, 0, []byte{1}, []byte{2})); st != wire.StatusFailed {
		t.Fatalf("status %d", st)
	}
	if got := strings.Join(host.effects(), ", "); got != "LOG 0 1, ERROR 0 0" {
		t.Fatalf("effects %s", got)
	}
}

func TestRuntimeABIErrors(t *testing.T) {
	host := &scriptHost{}
	inst := start(t, testModule(func(*Ctx, Value) error { return nil }), host)
	for _, c := range []struct {
		name string
		n    func() int
		want []string
	}{
		{"unknown topology", func() int { return batch(inst, 5, 0, []byte{1}) }, []string{"ERROR -1 0"}},
		{"unknown stage", func() int { return batch(inst, 0, 9, []byte{1}) }, []string{"ERROR 0 0"}},
		{"bad frame", func() int { return copy(inst.Inbox(4), []byte{1, 2, 0, 0}) }, []string{"ERROR -1 0"}},
		{"too long", func() int { return 1 << 30 }, []string{"ERROR -1 0"}},
		{"ok", func() int { return batch(inst, 0, 1, []byte{1}, []byte{0xc1}) }, []string{"OUTCOME 0 0", "OUTCOME 1 1"}},
	} {
		host.frames = nil
		st := inst.Process(c.n())
		if got := strings.Join(host.effects(), ", "); got != strings.Join(c.want, ", ") || (st == 0) != (c.name == "ok") {
			t.Errorf("%s: status %d, effects %s, want %v", c.name, st, got, c.want)
		}
	}
}

func TestRuntimeDefinitionErrors(t *testing.T) {
	for _, c := range []struct {
		define any
		want   string
	}{
		{func(m *ModuleBuilder) { m.Depot("", Random()) }, "a name cannot be empty"},
		{func(m *ModuleBuilder) { panic("no") }, "panicked: no"},
	} {
		host := &scriptHost{}
		inst := rt.NewInstance(c.define, host)
		n := copy(inst.Inbox(32), make([]byte, 32))
		if st := inst.Init(n); st != wire.StatusFailed {
			t.Fatalf("bad init frame: status %d", st)
		}
		init := []byte{1, 1, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		host.frames = nil
		copy(inst.Inbox(32), init)
		if st := inst.Init(32); st != wire.StatusFailed || !strings.Contains(string(host.frames[0]), c.want) {
			t.Errorf("status %d, frames %q, want %q", st, host.frames, c.want)
		}
	}
	saved := registered
	defer func() { registered = saved }()
	registered.fn, registered.count = nil, 0
	Define(func(*ModuleBuilder) {})
	Define(func(*ModuleBuilder) {})
	host := &scriptHost{}
	inst := rt.NewInstance(nil, host)
	copy(inst.Inbox(32), []byte{1, 1, 0, 0, 1, 0, 0, 0, 4})
	if st := inst.Init(32); st != wire.StatusFailed || !strings.Contains(string(host.frames[0]), "called 2 times") {
		t.Fatalf("Define twice: %d %q", st, host.frames)
	}
}

func TestCtxMisuse(t *testing.T) {
	var leaked *Ctx
	var errs []error
	other := &ModuleBuilder{}
	foreignStage := other.Stream("x").Stage("y", nil)
	inst := start(t, func(m *ModuleBuilder) {
		d := m.Depot("d", Random())
		p := m.PState("$$p", IntT)
		t1, t2 := m.Stream("t1"), m.Stream("t2")
		s2 := t2.Stage("s2", func(*Ctx, Value) error { return nil })
		t2.Source(d, s2)
		t1.Source(d, t1.Stage("s", func(ctx *Ctx, v Value) error {
			leaked = ctx
			errs = append(errs,
				ctx.Hop(s2, 1, 1),           // another topology
				ctx.Hop(nil, 1, 1),          // nil
				ctx.Hop(foreignStage, 1, 1), // another module
				ctx.Append(nil, 1),
				ctx.Append(&Depot{name: "nope"}, 1),
				ctx.Transform(nil, P().Set(1)),
				ctx.Transform(p, P()),
				ctx.HopDirect(ctx.Stage(), 4, 1),
				ctx.Append(d, make(chan int)),
				ctx.Append(d, 1, AckLevel(3)),
				ctx.Transform(p, P().Set(String("\xff"))),
			)
			_, err := ctx.Select(p, P().Set(1))
			errs = append(errs, err)
			return nil
		}))
	}, &scriptHost{})
	if st := inst.Process(batch(inst, 0, 0, []byte{1})); st != 0 {
		t.Fatalf("status %d", st)
	}
	for i, err := range errs {
		if err == nil || !IsPoison(err) {
			t.Errorf("%d: %v", i, err)
		}
	}
	if err := leaked.Emit(1); err == nil || !strings.Contains(err.Error(), "after its stage returned") {
		t.Fatalf("leaked Ctx: %v", err)
	}
}

func TestLargeEffect(t *testing.T) {
	var got error
	host := &scriptHost{}
	inst := start(t, func(m *ModuleBuilder) {
		d := m.Depot("d", Random())
		tp := m.Stream("t")
		tp.Source(d, tp.Stage("s", func(ctx *Ctx, v Value) error {
			for range 3 {
				if err := ctx.Append(d, make([]byte, 40<<10)); err != nil {
					return err
				}
			}
			got = ctx.Append(d, make([]byte, 16<<20))
			return nil
		}))
	}, host)
	host.frames = nil
	if st := inst.Process(batch(inst, 0, 0, []byte{1})); st != 0 {
		t.Fatalf("status %d", st)
	}
	if got == nil || !IsPoison(got) || !strings.Contains(got.Error(), "exceeds the ABI's 16 MiB") {
		t.Fatalf("16 MiB record: %v", got)
	}
	if len(host.frames) != 2 {
		t.Fatalf("%d frames; a flush at 64 KiB was expected", len(host.frames))
	}
	for _, f := range host.frames {
		if len(f) > 64<<10+41<<10 {
			t.Fatalf("frame of %d bytes", len(f))
		}
	}
}

func TestInbox(t *testing.T) {
	inst := rt.NewInstance(func(*ModuleBuilder) {}, &scriptHost{})
	a := inst.Inbox(10)
	if len(a) < 10 {
		t.Fatal("small inbox")
	}
	if b := inst.Inbox(5); &b[0] != &a[0] {
		t.Fatal("the inbox moved")
	}
	if c := inst.Inbox(1 << 20); len(c) < 1<<20 {
		t.Fatal("no growth")
	}
	if inst.Inbox(-1) != nil || inst.Inbox(wire.MaxBatchFrame+1) != nil {
		t.Fatal("bad sizes")
	}
}

func TestErrnoValues(t *testing.T) {
	for _, c := range []struct {
		got  Errno
		want int32
	}{{EINVAL, wire.EINVAL}, {EBADID, wire.EBADID}, {EWRONGPART, wire.EWRONGPART}, {EINTERNAL, wire.EINTERNAL},
		{EPATH, wire.EPATH}, {ESCHEMA, wire.ESCHEMA}, {EMULTI, wire.EMULTI}} {
		if int32(c.got) != c.want {
			t.Errorf("%s = %d, want %d", c.got, c.got, c.want)
		}
	}
}

// BenchmarkProcess measures the guest side of a batch of 100 records,
// each a hop, a transform and an OUTCOME.
func BenchmarkProcess(b *testing.B) {
	host := &scriptHost{}
	var p *PState
	var next *Stage
	inst := rt.NewInstance(func(m *ModuleBuilder) {
		d := m.Depot("d", Random())
		p = m.PState("$$p", MapOf(StringT, IntT))
		t := m.Stream("t")
		t.Source(d, t.Stage("s", func(ctx *Ctx, v Value) error {
			if err := ctx.Hop(next, v.Field("user"), v); err != nil {
				return err
			}
			return ctx.Transform(p, Key(v.Field("user")).Incr(1))
		}))
		next = t.Stage("next", func(*Ctx, Value) error { return nil })
	}, host)
	copy(inst.Inbox(32), []byte{1, 1, 0, 0, 1, 0, 0, 0, 4})
	if inst.Init(32) != 0 {
		b.Fatal("init")
	}
	rec, _ := Encode(MustValueOf(map[string]any{"user": "alice", "text": "the quick brown fox"}))
	payloads := make([][]byte, 100)
	for i := range payloads {
		payloads[i] = rec
	}
	n := batch(inst, 0, 0, payloads...)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		host.frames = host.frames[:0]
		if inst.Process(n) != 0 {
			b.Fatal("process")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/item")
}

func BenchmarkEncodeDecode(b *testing.B) {
	v := MustValueOf(map[string]any{"user": "alice", "tags": []string{"a", "b", "c"}, "n": 12345, "f": 1.5})
	b.ReportAllocs()
	for range b.N {
		enc, _ := Encode(v)
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

func TestTypedNilError(t *testing.T) {
	host := &scriptHost{}
	inst := start(t, testModule(func(*Ctx, Value) error {
		var e *nilErr
		return e
	}), host)
	host.frames = nil
	if st := inst.Process(batch(inst, 0, 0, []byte{1})); st != 0 {
		t.Fatalf("status %d", st)
	}
	if got := strings.Join(host.effects(), ", "); got != "OUTCOME 0 2" || !strings.Contains(string(host.frames[0]), "Error method panicked") {
		t.Fatalf("effects %s %q", got, host.frames)
	}
}
