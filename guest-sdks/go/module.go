package squall

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
)

// Define registers the module's definition: a function that declares its
// depots, PStates and stream topologies with their stages. Call it once,
// from an init function of the module's main package. The SDK runs the
// function when the host starts an instance (and squalltest when it starts
// a harness); it must declare the same things every time (the host checks
// that every instance flushes the same definition), and depend on nothing
// but its own code.
//
//	func init() {
//		squall.Define(func(m *squall.ModuleBuilder) {
//			events := m.Depot("events", squall.HashBy(squall.Key("user")))
//			...
//		})
//	}
func Define(fn func(m *ModuleBuilder)) {
	registered.count++
	if registered.fn == nil {
		registered.fn = fn
	}
}

var registered struct {
	fn    func(*ModuleBuilder)
	count int
}

// A ModuleBuilder declares a module. The order of declarations gives the
// ids the host uses, so it must not depend on anything but the code.
type ModuleBuilder struct {
	name    string
	depots  []*Depot
	pstates []*PState
	topos   []*Topology
	queries []*Topology // query topologies (ABI 1.1)
	misuse  []DefProblem
}

// Name sets the name the module asks to be deployed as (optional: the
// deploy request may give one).
func (m *ModuleBuilder) Name(name string) { m.name = name }

func (m *ModuleBuilder) misused(where, msg string) {
	m.misuse = append(m.misuse, DefProblem{Where: where, Msg: msg})
}

// A Depot is a declared depot: a durable, partitioned, append-only log of
// records. Topologies read it through [Topology.Source]; stages append to
// it with [Ctx.Append].
type Depot struct {
	name  string
	index int
	part  DepotPartitioner
	mb    *ModuleBuilder
}

// Name returns the depot's name.
func (d *Depot) Name() string { return d.name }

// DepotPartitioner says how a depot routes records appended from outside
// a topology (and [Ctx.Append] without [Local]) to a partition.
type DepotPartitioner struct {
	kind   string
	key    Path
	millis int64 // tick depots
}

// HashBy routes a record to the partition that owns a key selected from
// it by a select path: HashBy(squall.Key("user")) routes {"user": "bob",
// ...} by "bob". The first value the path navigates to is the key (nil
// when none); HashBy(squall.P()) hashes the whole record.
func HashBy(key Path) DepotPartitioner { return DepotPartitioner{kind: "hash", key: key} }

// HashRecord routes a record by the hash of the whole record.
func HashRecord() DepotPartitioner { return DepotPartitioner{kind: "hash"} }

// Random routes each record to a random partition.
func Random() DepotPartitioner { return DepotPartitioner{kind: "random"} }

// Disallow refuses appends from clients: only topologies append, with
// [Local].
func Disallow() DepotPartitioner { return DepotPartitioner{kind: "disallow"} }

// Depot declares a depot.
func (m *ModuleBuilder) Depot(name string, p DepotPartitioner) *Depot {
	d := &Depot{name: name, index: len(m.depots), part: p, mb: m}
	if err := p.key.Validate(SelectMode); err != nil && p.key.Err() != nil {
		m.misused(at("depots", d.index)+".partitioner.key", trimSquall(err))
	}
	m.depots = append(m.depots, d)
	return d
}

// A PState is a declared PState: a durable, partitioned index with a
// schema, read with [Ctx.Select] and [Ctx.SelectOne] and written with
// [Ctx.Transform].
type PState struct {
	name   string
	index  int
	schema Schema
	global bool
	owner  *Topology // the one topology that writes it (ABI 1.1), or nil
}

// Name returns the PState's name.
func (p *PState) Name() string { return p.name }

// Schema returns the PState's schema.
func (p *PState) Schema() Schema { return p.schema }

// PStateOption is an option of [ModuleBuilder.PState].
type PStateOption interface{ applyPState(*PState) }

type globalOpt struct{}

func (globalOpt) applyPState(p *PState) { p.global = true }

// Global keeps the PState on partition 0 only: stages read and write it
// after a [Ctx.HopGlobal].
func Global() PStateOption { return globalOpt{} }

// PState declares a PState. Names of PStates conventionally start with $$.
func (m *ModuleBuilder) PState(name string, schema Schema, opts ...PStateOption) *PState {
	p := &PState{name: name, index: len(m.pstates), schema: schema}
	for _, o := range opts {
		o.applyPState(p)
	}
	m.pstates = append(m.pstates, p)
	return p
}

// A Topology is a declared stream topology: named stages that run for each
// record of its source depots, and for each hop sent to them.
type Topology struct {
	name    string
	index   int
	mb      *ModuleBuilder
	stages  []*Stage
	sources []source

	kind       string // "stream", "microbatch" or "query"
	maxRecords int64
	intervalMS int64
	args       []string // query topologies
}

type source struct {
	depot *Depot
	stage *Stage
	start Value // nil: the beginning; "end" or an offset (ABI 1.1)
}

// Name returns the topology's name.
func (t *Topology) Name() string { return t.name }

// Stream declares a stream topology: records are processed one by one, at
// least once, with their effects committed atomically with the progress.
func (m *ModuleBuilder) Stream(name string) *Topology {
	t := &Topology{name: name, index: len(m.topos), mb: m, kind: "stream"}
	m.topos = append(m.topos, t)
	return t
}

// StageFunc is the code of a stage: an ordinary synchronous function of
// the item's input (a depot record, or a hop's payload). It returns nil
// when the item is done; an error makes the item fail (see [Poison] and
// [Retryable]) and discards the effects it asked for.
type StageFunc func(ctx *Ctx, input Value) error

// A Stage is a named step of a topology.
type Stage struct {
	name  string
	index int
	topo  *Topology
	fn    StageFunc
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.name }

// Topology returns the stage's topology.
func (s *Stage) Topology() *Topology { return s.topo }

// Stage declares a stage of the topology. Stages run where the work is
// sent: on a source record's partition, or where a hop delivers. A stage
// that hops to a stage declared after it refers to it through a variable:
//
//	var count *squall.Stage
//	split := t.Stage("split", func(ctx *squall.Ctx, in squall.Value) error {
//		return ctx.Hop(count, word, 1)
//	})
//	count = t.Stage("count", ...)
func (t *Topology) Stage(name string, fn StageFunc) *Stage {
	s := &Stage{name: name, index: len(t.stages), topo: t, fn: fn}
	if fn == nil {
		t.mb.misused(at(at(t.section(), t.index)+".stages", s.index), "stage "+strconv.Quote(name)+" has no function")
	}
	t.stages = append(t.stages, s)
	return s
}

// Source makes every record appended to depot start at stage. Options
// ([StartFromEnd], [StartFromOffset]) say where the source starts on the
// topology's first deploy; by default, at the first record still stored.
func (t *Topology) Source(depot *Depot, stage *Stage, opts ...SourceOption) {
	w := at(at(t.section(), t.index)+".sources", len(t.sources))
	if t.kind == "query" {
		t.mb.misused(w, "a query topology has no sources: clients and stages invoke it")
	}
	switch {
	case depot == nil:
		t.mb.misused(w+".depot", "the depot is nil")
	case depot.mb != t.mb:
		t.mb.misused(w+".depot", "depot "+strconv.Quote(depot.name)+" was declared by another ModuleBuilder")
	}
	switch {
	case stage == nil:
		t.mb.misused(w+".stage", "the stage is nil")
	case stage.topo != t:
		t.mb.misused(w+".stage", "stage "+strconv.Quote(stage.name)+" belongs to topology "+
			strconv.Quote(stage.topo.name)+"; a source starts a stage of its own topology")
	}
	src := source{depot: depot, stage: stage}
	for _, o := range opts {
		o.applySource(&src)
	}
	t.sources = append(t.sources, src)
}

// value returns the ABI form of the definition, with default fields
// omitted (its canonical form).
func (m *ModuleBuilder) value() Value {
	kv := func(k string, v Value) MapEntry { return MapEntry{String(k), v} }
	var top []MapEntry
	if m.name != "" {
		top = append(top, kv("name", String(m.name)))
	}
	depots := make([]Value, len(m.depots))
	for i, d := range m.depots {
		part := []MapEntry{kv("kind", String(d.part.kind))}
		if d.part.key.Len() > 0 && d.part.key.Err() == nil {
			part = append(part, kv("key", d.part.key.value()))
		}
		if d.part.kind == "tick" {
			part = append(part, kv("millis", Int(d.part.millis)))
		}
		depots[i] = Map(kv("name", String(d.name)), kv("partitioner", Map(part...)))
	}
	pstates := make([]Value, len(m.pstates))
	for i, p := range m.pstates {
		es := []MapEntry{kv("name", String(p.name)), kv("schema", p.schema.Value())}
		if p.global {
			es = append(es, kv("global", Bool(true)))
		}
		if p.owner != nil {
			es = append(es, kv("owner", String(p.owner.name)))
		}
		pstates[i] = Map(es...)
	}
	topos := make([]Value, len(m.topos))
	for i, t := range m.topos {
		srcs := make([]Value, len(t.sources))
		for j, s := range t.sources {
			var dn, sn string
			if s.depot != nil {
				dn = s.depot.name
			}
			if s.stage != nil {
				sn = s.stage.name
			}
			es := []MapEntry{kv("depot", String(dn)), kv("stage", String(sn))}
			if !s.start.IsNil() {
				es = append(es, kv("start_from", s.start))
			}
			srcs[j] = Map(es...)
		}
		es := []MapEntry{kv("name", String(t.name)), kv("kind", String(t.kind)),
			kv("sources", List(srcs...)), kv("stages", t.stageNames())}
		if t.maxRecords != 0 && t.maxRecords != defaultMaxRecords {
			es = append(es, kv("max_records", Int(t.maxRecords)))
		}
		if t.intervalMS != 0 {
			es = append(es, kv("interval_ms", Int(t.intervalMS)))
		}
		topos[i] = Map(es...)
	}
	top = append(top, kv("depots", List(depots...)), kv("pstates", List(pstates...)), kv("topologies", List(topos...)))
	if len(m.queries) > 0 {
		qs := make([]Value, len(m.queries))
		for i, q := range m.queries {
			es := []MapEntry{kv("name", String(q.name)), kv("stages", q.stageNames())}
			if len(q.args) > 0 {
				args := make([]Value, len(q.args))
				for j, a := range q.args {
					args[j] = String(a)
				}
				es = append(es, kv("args", List(args...)))
			}
			qs[i] = Map(es...)
		}
		top = append(top, kv("queries", List(qs...)))
	}
	return Map(top...)
}

// module is a built definition: the handles of its declarations by id and
// its canonical ABI form.
type module struct {
	depots   []*Depot
	pstates  []*PState
	topos    []*Topology
	queries  []*Topology
	defBytes []byte
}

// buildError reports a definition that could not be built: a panic in the
// definition function, or the problems of the definition.
type buildError struct {
	kind, msg, stack string
	err              error
}

func (e *buildError) Error() string { return e.msg }
func (e *buildError) Unwrap() error { return e.err }

// build runs a definition function and checks what it declared.
func build(define func(*ModuleBuilder)) (mod *module, err error) {
	if define == nil {
		return nil, &buildError{kind: "definition", msg: "squall: no module is defined: call squall.Define from an init function of the module's main package"}
	}
	mb := &ModuleBuilder{}
	defer func() {
		if r := recover(); r != nil {
			mod, err = nil, &buildError{kind: "panic", msg: "squall: the module definition panicked: " + fmt.Sprint(r), stack: string(debug.Stack())}
		}
	}()
	define(mb)
	v := mb.value()
	p := &problems{}
	if cerr := CheckDefinition(v); cerr != nil {
		var de *DefError
		errors.As(cerr, &de)
		p.list = append(p.list, de.Problems...)
	}
	for _, q := range mb.misuse {
		p.add(q.Where, q.Msg)
	}
	if perr := p.err(); perr != nil {
		return nil, &buildError{kind: "definition", msg: perr.Error(), err: perr}
	}
	b, eerr := Encode(v)
	if eerr != nil {
		return nil, &buildError{kind: "definition", msg: "squall: the module definition cannot be encoded: " + eerr.Error(), err: eerr}
	}
	return &module{depots: mb.depots, pstates: mb.pstates, topos: mb.topos, queries: mb.queries, defBytes: b}, nil
}

func trimSquall(err error) string {
	s := err.Error()
	if len(s) > 8 && s[:8] == "squall: " {
		return s[8:]
	}
	return s
}
