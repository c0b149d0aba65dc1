package squalltest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/rt"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

// Option configures a [Harness].
type Option func(*options)

type options struct {
	define      func(*squall.ModuleBuilder)
	batchSize   int
	maxAttempts int
	seed        uint64
	start       time.Time
	quiet       bool
	manual      bool
	maxBatches  int
}

// Module runs the module defined by define instead of the one registered
// with squall.Define.
func Module(define func(m *squall.ModuleBuilder)) Option {
	return func(o *options) { o.define = define }
}

// BatchSize sets how many items a batch holds at most (default 16). A
// batch runs items of one topology on one partition, in order; later
// items see the transforms of earlier ones.
func BatchSize(n int) Option { return func(o *options) { o.batchSize = max(n, 1) } }

// MaxAttempts sets how many failed deliveries dead-letter an item
// (default 8, as the host).
func MaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = max(n, 1) } }

// Seed sets the seed of the batches (random depots, shuffle hops,
// Ctx.Rand). The default is fixed, so runs are reproducible.
func Seed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// StartTime sets the time of the first batch; each batch is 1 ms later.
func StartTime(t time.Time) Option { return func(o *options) { o.start = t } }

// Quiet stops echoing the module's logs to the test log.
func Quiet() Option { return func(o *options) { o.quiet = true } }

// Manual makes Append only queue records: nothing runs until
// [Harness.Run], so that several records can be processed together.
func Manual() Option { return func(o *options) { o.manual = true } }

// Harness is an in-memory Squall host for one module, for native unit
// tests: no wasm, no server. It runs the module's definition, routes
// appends through depot partitioners and hops through hop partitioners
// with the host's key hashing, runs the stages in batches with the same
// frames, ordering, outcomes and retries as the host, and applies
// transforms to in-memory PStates with the host's path semantics.
// Failures of the SDK's protocol (an invalid frame, a failed call) fail
// the test.
//
// A Harness is not safe for concurrent use.
type Harness struct {
	t     testing.TB
	opts  options
	tasks uint32

	inst     rt.Instance
	def      *definition
	defBytes []byte
	call     *call
	clock    int64
	rnd      *rand.Rand

	depots  [][][]squall.Value // [depot][partition] records
	pstates [][]*pstore        // [pstate][partition]
	queues  [][][]*pending     // [topology][partition]
	batchID map[[2]int]uint64
	mbs     map[int]*mbState // microbatch topologies, by index

	dead  []DeadLetter
	logs  []Log
	stats Stats
}

// Stats counts what a harness processed.
type Stats struct {
	Batches     int // squall_process calls
	Items       int // items delivered (records and hops, retries included)
	Retries     int // items that ended RETRY
	DeadLetters int // items dead-lettered
}

// New starts a harness with the given number of partitions (a power of two
// on a real deployment), for the module registered with squall.Define in
// the test's package (or the one of the [Module] option). It fails the
// test when the definition is invalid, with every problem the host would
// report. t may be nil outside tests (examples); failures then panic.
func New(t testing.TB, partitions int, opts ...Option) *Harness {
	if t != nil {
		t.Helper()
	}
	o := options{batchSize: 16, maxAttempts: 8, seed: 0x5eed, start: time.Unix(1_700_000_000, 0), maxBatches: 200_000}
	for _, opt := range opts {
		opt(&o)
	}
	h := &Harness{t: t, opts: o, tasks: uint32(max(partitions, 1)), clock: o.start.UnixNano(),
		rnd: rand.New(rand.NewPCG(o.seed, 0x517cc1b727220a95)), batchID: map[[2]int]uint64{}}
	if partitions < 1 {
		h.fatalf("squalltest.New: %d partitions; a module has at least 1", partitions)
	}
	h.start()
	return h
}

func (h *Harness) fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if h.t == nil {
		panic("squalltest: " + msg)
	}
	h.t.Helper()
	h.t.Fatal(msg)
}

func (h *Harness) define() any {
	if h.opts.define != nil {
		return h.opts.define
	}
	return nil
}

// start runs the definition on a deploy-time instance, checks it as the
// host does, then starts the instance that processes, which must define
// the same module.
func (h *Harness) start() {
	describe := rt.NewInstance(h.define(), hostOf(h))
	def := h.runInit(describe, wire.InitDescribe)
	if err := rt.CheckDefinition(def); err != nil {
		h.fatalf("the module definition is invalid: %v", err)
	}
	v, _ := squall.Decode(def)
	h.def = parseDefinition(v)
	h.defBytes = def
	h.inst = rt.NewInstance(h.define(), hostOf(h))
	if again := h.runInit(h.inst, 0); !bytes.Equal(again, def) {
		v2, _ := squall.Decode(again)
		h.fatalf("the module's definition is not deterministic: a second instance defined\n%s\nafter\n%s", v2, v)
	}
	h.depots = make([][][]squall.Value, len(h.def.depots))
	for i := range h.depots {
		h.depots[i] = make([][]squall.Value, h.tasks)
	}
	h.pstates = make([][]*pstore, len(h.def.pstates))
	for i, ps := range h.def.pstates {
		h.pstates[i] = make([]*pstore, h.tasks)
		for p := range h.pstates[i] {
			h.pstates[i][p] = newPStore(ps.schema)
		}
	}
	h.queues = make([][][]*pending, len(h.def.topos))
	for i := range h.queues {
		h.queues[i] = make([][]*pending, h.tasks)
	}
}

// runInit calls squall_init and returns the definition flushed.
func (h *Harness) runInit(inst rt.Instance, flags uint16) []byte {
	c := &call{init: true, check: callCheck{init: true}}
	h.call = c
	frame := appendInit(nil, flags, 1, h.tasks, h.clock, h.rnd.Uint64())
	inbox := inst.Inbox(64 << 10)
	if len(inbox) < len(frame) {
		h.fatalf("squall_inbox(65536) returned %d bytes", len(inbox))
	}
	copy(inbox, frame)
	status := inst.Init(len(frame))
	h.call = nil
	h.endCall(c, "squall_init", status)
	return c.define
}

// endCall fails the test when a call failed or broke the protocol.
func (h *Harness) endCall(c *call, what string, status int32) {
	if c.violation != nil {
		h.fatalf("%s broke the ABI (an SDK bug): %v", what, c.violation)
	}
	if c.errDetail != nil {
		msg := c.errDetail.Message
		if c.errDetail.Stack != "" {
			msg += "\n" + c.errDetail.Stack
		}
		h.fatalf("%s failed (%s): %s", what, c.errDetail.Kind, msg)
	}
	if status != wire.StatusOK {
		h.fatalf("%s returned status %d without an ERROR (an SDK bug)", what, status)
	}
	if err := c.check.end(status); err != nil {
		h.fatalf("%s broke the ABI (an SDK bug): %v", what, err)
	}
}

// Partitions returns the number of partitions.
func (h *Harness) Partitions() int { return int(h.tasks) }

// Definition returns the module definition the module flushed, in its ABI
// form.
func (h *Harness) Definition() squall.Value {
	v, _ := squall.Decode(h.defBytes)
	return v
}

// Stats returns what the harness processed so far.
func (h *Harness) Stats() Stats { return h.stats }

// Appended is a record appended with [Harness.Append].
type Appended struct {
	Depot     string
	Partition int
	Offset    int64
	Record    squall.Value
	root      *root
}

// AckReturn returns the value the named topology emitted for the record
// (with Ctx.Emit, during the record's processing and its hops), and
// whether it emitted one.
func (a *Appended) AckReturn(topology string) (squall.Value, bool) {
	v, ok := a.root.ackReturns[topology]
	return v, ok
}

// AckReturns returns every topology's ack return for the record.
func (a *Appended) AckReturns() map[string]squall.Value {
	out := make(map[string]squall.Value, len(a.root.ackReturns))
	for k, v := range a.root.ackReturns {
		out[k] = v
	}
	return out
}

// root is the processing tree of an appended record.
type root struct {
	ackReturns map[string]squall.Value
}

// Append appends record (converted with squall.ValueOf) to the named depot
// as a client would, routed by the depot's partitioner, and runs every
// topology until nothing is left to do (unless the harness is [Manual]).
func (h *Harness) Append(depot string, record any) *Appended {
	if h.t != nil {
		h.t.Helper()
	}
	di := h.def.depotIndex(depot)
	if di < 0 {
		h.fatalf("Append: no depot %q; the module declares %s", depot, h.def.depotNames())
	}
	v, err := squall.ValueOf(record)
	if err != nil {
		h.fatalf("Append to %s: %v", depot, err)
	}
	if _, err := squall.Encode(v); err != nil {
		h.fatalf("Append to %s: %v", depot, err)
	}
	d := h.def.depots[di]
	if d.kind == "disallow" {
		h.fatalf("Append: depot %q is Disallow: only its topologies append to it (with squall.Local)", depot)
	}
	if d.kind == "tick" {
		h.fatalf("Append: depot %q is a tick depot: the host appends to it; use Tick", depot)
	}
	p := h.route(d, v, h.rnd)
	r := &root{ackReturns: map[string]squall.Value{}}
	off := h.appendRecord(di, p, v, r)
	if !h.opts.manual {
		h.Run()
	}
	return &Appended{Depot: depot, Partition: p, Offset: off, Record: v, root: r}
}

// route picks the depot partition of a record appended without Local.
func (h *Harness) route(d depotDef, v squall.Value, rnd *rand.Rand) int {
	switch d.kind {
	case "random":
		return rnd.IntN(int(h.tasks))
	}
	key := v
	if len(d.key) > 0 {
		vs, err := selectValue(v, nil, d.key, d.keyText, false)
		key = squall.Nil()
		if err == nil && len(vs) > 0 {
			key = vs[0]
		}
	}
	p, _ := KeyPartition(key, int(h.tasks))
	return p
}

// appendRecord appends to a depot partition and queues the record for the
// topologies that read the depot.
func (h *Harness) appendRecord(depot, partition int, v squall.Value, r *root) int64 {
	recs := &h.depots[depot][partition]
	off := int64(len(*recs))
	*recs = append(*recs, v)
	payload, _ := squall.Encode(v)
	for ti, t := range h.def.topos {
		for _, src := range t.sources {
			if src.depot != depot {
				continue
			}
			h.queues[ti][partition] = append(h.queues[ti][partition], &pending{
				kind: wire.ItemRecord, stage: uint16(src.stage), depot: uint16(depot), sourcePartition: uint32(partition),
				offset: uint64(off), eventTime: h.clock, payload: payload, root: r, origin: partition,
			})
		}
	}
	return off
}

// Run processes queued records and hops, in batches, until none is left.
// Batches go round-robin over topologies and partitions.
func (h *Harness) Run() {
	if h.t != nil {
		h.t.Helper()
	}
	for n := 0; ; {
		progressed := false
		for ti, t := range h.def.topos {
			if t.kind == "microbatch" && h.runMicrobatch(ti) {
				progressed = true
				if n++; n > h.opts.maxBatches {
					h.fatalf("the topologies did not settle after %d batches; does a stage hop in a loop?", h.opts.maxBatches)
				}
			}
		}
		for p := 0; p < int(h.tasks); p++ {
			for ti := range h.queues {
				if h.def.topos[ti].kind == "microbatch" {
					continue
				}
				q := h.queues[ti][p]
				if len(q) == 0 {
					continue
				}
				k := min(len(q), h.opts.batchSize)
				h.queues[ti][p] = q[k:]
				h.process(ti, p, q[:k])
				progressed = true
				if n++; n > h.opts.maxBatches {
					h.fatalf("the topologies did not settle after %d batches; does a stage hop in a loop?", h.opts.maxBatches)
				}
			}
		}
		if !progressed {
			return
		}
	}
}

// pending is an item waiting for a batch.
type pending struct {
	kind            uint8
	stage           uint16
	depot           uint16
	attempt         uint16
	sourcePartition uint32
	offset          uint64
	eventTime       int64
	payload         []byte
	root            *root
	origin          int
	record          *pending // in a microbatch: the source record it descends from
}

// process runs one batch and commits it.
func (h *Harness) process(ti, p int, items []*pending) {
	h.commit(h.runCall(ti, p, items))
}

// runCall runs one batch of a topology; the caller commits it.
func (h *Harness) runCall(ti, p int, items []*pending) *call {
	key := [2]int{ti, p}
	h.batchID[key]++
	batchID := h.batchID[key]
	if st := h.mbs[ti]; st != nil {
		batchID = st.next // a microbatch: its number, on every partition
	}
	h.clock += int64(time.Millisecond)
	seed := h.rnd.Uint64()
	hdr := batchHeader{batchID: batchID, partition: uint32(p), topology: uint16(ti), timeUnixNano: h.clock, seed: seed}
	bitems := make([]batchItem, len(items))
	for i, it := range items {
		bitems[i] = batchItem{kind: it.kind, stage: it.stage, depot: it.depot, attempt: it.attempt,
			sourcePartition: it.sourcePartition, offset: it.offset, eventTimeUnixNano: it.eventTime, payload: it.payload}
		if it.kind == wire.ItemHop {
			bitems[i].depot = wire.NoDepot
		}
	}
	frame := appendBatch(nil, hdr, bitems)
	c := &call{topology: ti, partition: p, items: items, state: make([]itemState, len(items)),
		check: callCheck{items: uint32(len(items))}, rnd: rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))}
	inbox := h.inst.Inbox(len(frame))
	if len(inbox) < len(frame) {
		h.fatalf("squall_inbox(%d) returned %d bytes", len(frame), len(inbox))
	}
	copy(inbox, frame)
	h.call = c
	status := h.inst.Process(len(frame))
	h.call = nil
	if c.violation != nil || c.errDetail != nil || status != wire.StatusOK {
		c.undoAll()
	}
	h.endCall(c, fmt.Sprintf("squall_process (topology %q, partition %d)", h.def.topos[ti].name, p), status)
	h.stats.Batches++
	h.stats.Items += len(items)
	return c
}

// commit applies the outcome of every item of a successful call.
func (h *Harness) commit(c *call) {
	t := c.topo(h)
	for i, it := range c.items {
		st := &c.state[i]
		out, d := st.outcome, st.detail
		if st.rejected != nil {
			out, d = wire.OutcomePoison, *st.rejected
		}
		switch out {
		case wire.OutcomeOK:
			for _, a := range st.appends {
				r := it.root
				if a.ack != int(squall.Ack) {
					r = &root{ackReturns: map[string]squall.Value{}}
				}
				h.appendRecord(a.depot, a.partition, a.record, r)
			}
			for _, hop := range st.hops {
				payload, _ := squall.Encode(hop.payload)
				for _, dest := range hop.partitions {
					h.queues[c.topology][dest] = append(h.queues[c.topology][dest], &pending{
						kind: wire.ItemHop, stage: hop.stage, depot: wire.NoDepot, sourcePartition: uint32(c.partition),
						eventTime: h.clock, payload: payload, root: it.root, origin: it.origin,
					})
				}
			}
			for _, v := range st.emits {
				it.root.ackReturns[t.name] = v
			}
		case wire.OutcomePoison:
			h.deadLetter(c, it, d)
		case wire.OutcomeRetry:
			h.stats.Retries++
			if int(it.attempt)+1 >= h.opts.maxAttempts {
				d.Message = fmt.Sprintf("%s (after %d attempts)", d.Message, int(it.attempt)+1)
				h.deadLetter(c, it, d)
				continue
			}
			next := *it
			next.attempt++
			h.queues[c.topology][c.partition] = append(h.queues[c.topology][c.partition], &next)
		}
	}
}

// DeadLetter is an item that was poisoned, or failed too many times.
type DeadLetter struct {
	Topology  string
	Stage     string
	Partition int
	// Kind is "record" for a depot record, "hop" for a hop delivery.
	Kind string
	// Depot and Offset locate a record.
	Depot  string
	Offset int64
	// Input is the record or hop payload.
	Input squall.Value
	// Attempts is how many times it was delivered.
	Attempts int
	// Error says why: Kind is "poison", "panic", "rejected", "query",
	// "input", "error" or "retry"; Stack is set for panics.
	Error ErrorDetail
}

// ErrorDetail is the error of a dead letter.
type ErrorDetail struct {
	Kind, Message, Stack string
}

func (h *Harness) deadLetter(c *call, it *pending, d detail) {
	t := h.def.topos[c.topology]
	v, _ := squall.Decode(it.payload)
	dl := DeadLetter{Topology: t.name, Stage: t.stages[it.stage], Partition: c.partition, Kind: "hop",
		Input: v, Attempts: int(it.attempt) + 1, Error: ErrorDetail(d)}
	if it.kind == wire.ItemRecord {
		dl.Kind, dl.Depot, dl.Offset = "record", h.def.depots[it.depot].name, int64(it.offset)
	}
	h.dead = append(h.dead, dl)
	h.stats.DeadLetters++
}

// DeadLetters returns the items dead-lettered so far, in order.
func (h *Harness) DeadLetters() []DeadLetter { return append([]DeadLetter(nil), h.dead...) }

// Log is a line the module logged with Ctx.Log.
type Log struct {
	Level     string // DEBUG, INFO, WARN or ERROR
	Text      string
	Topology  string
	Partition int
	Stage     string // the stage of the item, or "" for a line of no item
}

// Logs returns the lines the module logged so far.
func (h *Harness) Logs() []Log { return append([]Log(nil), h.logs...) }

// Depot returns the records of one partition of a depot, in order.
func (h *Harness) Depot(depot string, partition int) []squall.Value {
	di := h.def.depotIndex(depot)
	if di < 0 {
		h.fatalf("Depot: no depot %q; the module declares %s", depot, h.def.depotNames())
	}
	h.checkPartition(partition)
	return append([]squall.Value(nil), h.depots[di][partition]...)
}

func (h *Harness) checkPartition(p int) {
	if p < 0 || p >= int(h.tasks) {
		h.fatalf("partition %d does not exist; the harness has %d", p, h.tasks)
	}
}

// PState returns the whole content of one partition of a PState: for a
// top-level map, the map of the partition's keys (nil when empty).
func (h *Harness) PState(pstate string, partition int) squall.Value {
	pi := h.pstateIndex(pstate)
	h.checkPartition(partition)
	return h.pstates[pi][partition].value()
}

func (h *Harness) pstateIndex(name string) int {
	pi := h.def.pstateIndex(name)
	if pi < 0 {
		h.fatalf("no PState %q; the module declares %s", name, h.def.pstateNames())
	}
	return pi
}

// TrySelect reads a PState as a client does: a path that starts with a key
// of a top-level map runs on the partition that owns the key; a global
// PState is read on partition 0. Other paths must name their partition
// (SelectPartition). Errors carry the host's messages.
func (h *Harness) TrySelect(pstate string, path squall.Path) ([]squall.Value, error) {
	pi := h.pstateIndex(pstate)
	p, err := h.clientPartition(pi, path)
	if err != nil {
		return nil, err
	}
	return h.selectOn(pi, p, path)
}

func (h *Harness) clientPartition(pi int, path squall.Path) (int, error) {
	ps := h.def.pstates[pi]
	if ps.global {
		return 0, nil
	}
	pv, err := path.Value()
	if err != nil {
		return 0, err
	}
	steps, _, err := pathSteps(pv, squall.SelectMode)
	if err != nil {
		return 0, err
	}
	if k, ok := firstKey(steps); ok && ps.schema.t() == "map" {
		return KeyPartition(k, int(h.tasks))
	}
	if h.tasks == 1 {
		return 0, nil
	}
	return 0, fmt.Errorf("squalltest: select %s %s: the path does not start with a key of the top-level map, so it names no partition; use SelectPartition", ps.name, path)
}

func (h *Harness) selectOn(pi, p int, path squall.Path) ([]squall.Value, error) {
	pv, err := path.Value()
	if err != nil {
		return nil, err
	}
	steps, text, err := pathSteps(pv, squall.SelectMode)
	if err != nil {
		return nil, fmt.Errorf("squalltest: select %s: %v", h.def.pstates[pi].name, hostPathError(err, text))
	}
	vs, err := h.pstates[pi][p].sel(steps, text)
	if err != nil {
		return nil, fmt.Errorf("squalltest: select %s: %v", h.def.pstates[pi].name, err)
	}
	return vs, nil
}

// TrySelectOne is TrySelect for a path that navigates to exactly one
// value; none is squall.ErrNotFound.
func (h *Harness) TrySelectOne(pstate string, path squall.Path) (squall.Value, error) {
	vs, err := h.TrySelect(pstate, path)
	return one(vs, err, path)
}

func one(vs []squall.Value, err error, path squall.Path) (squall.Value, error) {
	switch {
	case err != nil:
		return squall.Nil(), err
	case len(vs) == 0:
		return squall.Nil(), squall.ErrNotFound
	case len(vs) > 1:
		return squall.Nil(), fmt.Errorf("squalltest: selectOne %s navigated to %d values", path, len(vs))
	}
	return vs[0], nil
}

// Select is TrySelect that fails the test on error.
func (h *Harness) Select(pstate string, path squall.Path) []squall.Value {
	if h.t != nil {
		h.t.Helper()
	}
	vs, err := h.TrySelect(pstate, path)
	if err != nil {
		h.fatalf("%v", err)
	}
	return vs
}

// SelectOne is TrySelectOne that fails the test on error.
//
//	n, _ := h.SelectOne("$$counts", squall.Key("the")).AsInt()
func (h *Harness) SelectOne(pstate string, path squall.Path) squall.Value {
	if h.t != nil {
		h.t.Helper()
	}
	v, err := h.TrySelectOne(pstate, path)
	if err != nil {
		h.fatalf("%v", err)
	}
	return v
}

// SelectPartition runs a select path on one partition of a PState.
func (h *Harness) SelectPartition(pstate string, partition int, path squall.Path) []squall.Value {
	if h.t != nil {
		h.t.Helper()
	}
	pi := h.pstateIndex(pstate)
	h.checkPartition(partition)
	vs, err := h.selectOn(pi, partition, path)
	if err != nil {
		h.fatalf("%v", err)
	}
	return vs
}

// KeyPartition returns the partition that owns key in this harness.
func (h *Harness) KeyPartition(key any) int {
	v, err := squall.ValueOf(key)
	if err != nil {
		h.fatalf("KeyPartition: %v", err)
	}
	p, err := KeyPartition(v, int(h.tasks))
	if err != nil {
		h.fatalf("KeyPartition: %v", err)
	}
	return p
}

// ---- the module definition, as the host reads it ----

type definition struct {
	depots  []depotDef
	pstates []pstateDef
	topos   []topoDef
	queries []topoDef // query topologies (ABI 1.1)
}

type depotDef struct {
	name, kind string
	key        []step
	keyText    string
}

type pstateDef struct {
	name   string
	schema *schema
	global bool
	owner  string
}

type topoDef struct {
	name    string
	kind    string // stream, microbatch or query
	stages  []string
	sources []sourceDef
	args    []string // queries
}

type sourceDef struct{ depot, stage int }

func str(v squall.Value, k string) string { s, _ := v.Field(k).AsString(); return s }

// parseDefinition reads a definition that squall.CheckDefinition accepts.
func parseDefinition(v squall.Value) *definition {
	d := &definition{}
	for _, dv := range v.Field("depots").Items() {
		part := dv.Field("partitioner")
		dd := depotDef{name: str(dv, "name"), kind: str(part, "kind")}
		if kv := part.Field("key"); !kv.IsNil() {
			dd.key, dd.keyText, _ = pathSteps(kv, squall.SelectMode)
		}
		d.depots = append(d.depots, dd)
	}
	for _, pv := range v.Field("pstates").Items() {
		g, _ := pv.Field("global").AsBool()
		d.pstates = append(d.pstates, pstateDef{name: str(pv, "name"), schema: parseSchema(pv.Field("schema")), global: g, owner: str(pv, "owner")})
	}
	for _, qv := range v.Field("queries").Items() {
		q := topoDef{name: str(qv, "name"), kind: "query"}
		for _, s := range qv.Field("stages").Items() {
			name, _ := s.AsString()
			q.stages = append(q.stages, name)
		}
		for _, a := range qv.Field("args").Items() {
			name, _ := a.AsString()
			q.args = append(q.args, name)
		}
		d.queries = append(d.queries, q)
	}
	for _, tv := range v.Field("topologies").Items() {
		t := topoDef{name: str(tv, "name"), kind: str(tv, "kind")}
		for _, s := range tv.Field("stages").Items() {
			name, _ := s.AsString()
			t.stages = append(t.stages, name)
		}
		for _, s := range tv.Field("sources").Items() {
			t.sources = append(t.sources, sourceDef{depot: d.depotIndex(str(s, "depot")), stage: indexOf(t.stages, str(s, "stage"))})
		}
		d.topos = append(d.topos, t)
	}
	return d
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

func (d *definition) depotIndex(name string) int {
	for i, dp := range d.depots {
		if dp.name == name {
			return i
		}
	}
	return -1
}

func (d *definition) pstateIndex(name string) int {
	for i, p := range d.pstates {
		if p.name == name {
			return i
		}
	}
	return -1
}

func quoted(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	sort.Strings(q)
	return strings.Join(q, ", ")
}

func (d *definition) depotNames() string {
	var n []string
	for _, dp := range d.depots {
		n = append(n, dp.name)
	}
	return quoted(n)
}

func (d *definition) pstateNames() string {
	var n []string
	for _, p := range d.pstates {
		n = append(n, p.name)
	}
	return quoted(n)
}
