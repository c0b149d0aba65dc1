package abi

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The module definition (ABI.md §5) is what a guest's squall_init flushes
// in its DEFINE effect: a MessagePack map naming the module's depots,
// PStates with their schemas and topologies with their stages. Indexes
// into its lists are the ids that frames use: depot i is Depots[i], PState
// i is PStates[i], topology i is Topologies[i], and stage i of a topology
// is its Stages[i].

// Depot partitioner kinds (DepotPartitioner.Kind).
const (
	// DepotHash routes a record by the hash of a key selected from it
	// ([KeyPartition]); with no key path, of the whole record.
	DepotHash = "hash"
	// DepotRandom routes a record to a random partition.
	DepotRandom = "random"
	// DepotDisallow refuses appends from clients; only topologies append.
	DepotDisallow = "disallow"
	// DepotTick (1.1) makes a tick depot: the host appends the tick time
	// (int Unix milliseconds) to partition 0 every TickMillis; nobody
	// else appends.
	DepotTick = "tick"
)

// Topology kinds.
const (
	// TopologyStream is the kind of a stream topology (ABI 1.0).
	TopologyStream = "stream"
	// TopologyMicrobatch (1.1) is the kind of a microbatch topology
	// (ABI.md §15.2).
	TopologyMicrobatch = "microbatch"
)

// Source start positions (SourceDef.StartFrom, 1.1).
const (
	// StartBeginning starts at the first record still stored (the default).
	StartBeginning = "beginning"
	// StartEnd starts at the end of the depot as it is at first deploy.
	StartEnd = "end"
	// StartOffset starts at SourceDef.StartOffset.
	StartOffset = "offset"
)

// Defaults and bounds of the 1.1 definition fields.
const (
	DefaultMaxRecords = 1000
	MaxMaxRecords     = 1_000_000
	MaxIntervalMillis = 3_600_000
	MaxTickMillis     = 86_400_000
	MaxQueryArgs      = 64
)

// SchemaType is the type of a [Schema] node.
type SchemaType string

// Schema types: six leaves and four composites.
const (
	SchemaAny    SchemaType = "any"
	SchemaBool   SchemaType = "bool"
	SchemaInt    SchemaType = "int"
	SchemaFloat  SchemaType = "float"
	SchemaString SchemaType = "string"
	SchemaBytes  SchemaType = "bytes"
	SchemaMap    SchemaType = "map"
	SchemaSet    SchemaType = "set"
	SchemaList   SchemaType = "list"
	SchemaRecord SchemaType = "record"
)

// IsLeaf reports whether t is one of the leaf types.
func (t SchemaType) IsLeaf() bool {
	switch t {
	case SchemaAny, SchemaBool, SchemaInt, SchemaFloat, SchemaString, SchemaBytes:
		return true
	}
	return false
}

// Limits of a module definition.
const (
	// MaxDefEntries bounds the depots, PStates and topologies of a module,
	// and the stages and sources of a topology.
	MaxDefEntries = 1024
	// MaxSchemaDepth bounds the nesting of a PState schema (a leaf has
	// depth 1).
	MaxSchemaDepth = 32
	// maxNameLen bounds names (the storage layer's limit too).
	maxNameLen = 128
)

// ModuleDef is a module definition.
type ModuleDef struct {
	// Name is the name the module asks to be deployed as; optional (the
	// deploy request may give one).
	Name string
	// Depots, PStates and Topologies are in the order of their ids.
	Depots     []DepotDef
	PStates    []PStateDef
	Topologies []TopologyDef
	// Queries (1.1) are the query topologies, in the order of their ids.
	Queries []QueryDef
}

// QueryDef declares a query topology (1.1, ABI.md §15.4).
type QueryDef struct {
	Name string
	// Args names the arguments; an invocation passes exactly this many.
	Args []string
	// Stages are the query's stages; Stages[0] is the entry stage.
	Stages []string
}

// StageIndex returns the id of the named stage, or -1.
func (q *QueryDef) StageIndex(name string) int {
	return slices.Index(q.Stages, name)
}

// QueryIndex returns the id of the named query, or -1.
func (d *ModuleDef) QueryIndex(name string) int {
	for i := range d.Queries {
		if d.Queries[i].Name == name {
			return i
		}
	}
	return -1
}

// DepotDef declares a depot.
type DepotDef struct {
	Name        string
	Partitioner DepotPartitioner
}

// DepotPartitioner says how appends from outside a topology (and APPENDs
// without AppendLocal) choose a depot partition.
type DepotPartitioner struct {
	// Kind is DepotHash, DepotRandom, DepotDisallow or (1.1) DepotTick.
	Kind string
	// TickMillis is the period of a DepotTick depot.
	TickMillis int64
	// Key selects the key to hash from the record (hash only), as a select
	// path; the first value it navigates to is hashed, nil when none. An
	// empty path hashes the whole record.
	Key Path
}

// PStateDef declares a PState.
type PStateDef struct {
	Name   string
	Schema Schema
	// Global keeps the PState on partition 0 only.
	Global bool
	// Owner (1.1) names the one topology that may write the PState; empty:
	// any stream topology may.
	Owner string
}

// Schema is a PState storage schema: a leaf type, or a map, set, list or
// record of schemas. The top level of a PState is a map (one storage key
// per top-level key, the key that partitions the PState), a record, or a
// leaf (one value per partition). nil is allowed everywhere.
type Schema struct {
	Type SchemaType
	// Key and Val are the key and value schemas of a map (Key a leaf other
	// than float).
	Key, Val *Schema
	// Elem is the element schema of a set (a leaf other than float) or a
	// list.
	Elem *Schema
	// Fields are the fields of a record, in declaration order.
	Fields []FieldDef
	// Subindexed stores each entry of a map, set or list under its own
	// storage key (sorted, with O(1) size) instead of as one value.
	Subindexed bool
}

// FieldDef is one field of a record schema.
type FieldDef struct {
	Name   string
	Schema Schema
}

// TopologyDef declares a topology.
type TopologyDef struct {
	Name string
	// Kind is TopologyStream or (1.1) TopologyMicrobatch.
	Kind string
	// Sources name the depots the topology reads and the stage each record
	// starts at.
	Sources []SourceDef
	// Stages are the topology's stages, in the order of their ids.
	Stages []string
	// MaxRecords (microbatch, 1.1) bounds the records of each source and
	// partition in one microbatch; 0 means DefaultMaxRecords.
	MaxRecords int64
	// IntervalMillis (microbatch, 1.1) is the least time between the
	// starts of two microbatches.
	IntervalMillis int64
}

// BatchMaxRecords returns MaxRecords or its default.
func (t *TopologyDef) BatchMaxRecords() int64 {
	if t.MaxRecords <= 0 {
		return DefaultMaxRecords
	}
	return t.MaxRecords
}

// SourceDef subscribes a stage to a depot.
type SourceDef struct {
	Depot, Stage string
	// StartFrom (1.1) is where the source starts when the topology has no
	// progress yet: "" or StartBeginning, StartEnd, or StartOffset with
	// StartOffset.
	StartFrom   string
	StartOffset int64
}

// MinMinor returns the lowest ABI minor whose definition fields d uses:
// 1 when it declares a tick depot, an owner, a microbatch topology, a
// source start position or a query; 0 otherwise.
func (d *ModuleDef) MinMinor() int {
	if len(d.Queries) > 0 {
		return 1
	}
	for _, dp := range d.Depots {
		if dp.Partitioner.Kind == DepotTick {
			return 1
		}
	}
	for _, ps := range d.PStates {
		if ps.Owner != "" {
			return 1
		}
	}
	for _, t := range d.Topologies {
		if t.Kind == TopologyMicrobatch || t.MaxRecords != 0 || t.IntervalMillis != 0 {
			return 1
		}
		for _, s := range t.Sources {
			if s.StartFrom != "" && s.StartFrom != StartBeginning {
				return 1
			}
		}
	}
	return 0
}

// DepotIndex returns the id of the named depot, or -1.
func (d *ModuleDef) DepotIndex(name string) int {
	for i := range d.Depots {
		if d.Depots[i].Name == name {
			return i
		}
	}
	return -1
}

// PStateIndex returns the id of the named PState, or -1.
func (d *ModuleDef) PStateIndex(name string) int {
	for i := range d.PStates {
		if d.PStates[i].Name == name {
			return i
		}
	}
	return -1
}

// TopologyIndex returns the id of the named topology, or -1.
func (d *ModuleDef) TopologyIndex(name string) int {
	for i := range d.Topologies {
		if d.Topologies[i].Name == name {
			return i
		}
	}
	return -1
}

// StageIndex returns the id of the named stage, or -1.
func (t *TopologyDef) StageIndex(name string) int {
	for i, s := range t.Stages {
		if s == name {
			return i
		}
	}
	return -1
}

// DefProblem is one problem of a module definition.
type DefProblem struct {
	// Where locates the problem: "depots[1].name",
	// "pstates[0].schema.value.fields[\"visits\"]", "definition" for the
	// whole.
	Where string
	// Msg says what is wrong and, where it can, what would be right.
	Msg string
}

// DefError lists every problem of a module definition.
type DefError struct {
	Problems []DefProblem
}

// Error lists the problems as "where: message", one per line when there
// are several.
func (e *DefError) Error() string {
	if len(e.Problems) == 1 {
		return "abi: module definition: " + e.Problems[0].Where + ": " + e.Problems[0].Msg
	}
	var b strings.Builder
	b.WriteString("abi: module definition has " + strconv.Itoa(len(e.Problems)) + " problems:")
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.Where + ": " + p.Msg)
	}
	return b.String()
}

// Value returns the map form of d, with fields that have their default
// value omitted (ABI.md §5.1): the canonical definition.
func (d *ModuleDef) Value() Value {
	var top []MapEntry
	if d.Name != "" {
		top = append(top, entry("name", String(d.Name)))
	}
	depots := make([]Value, len(d.Depots))
	for i, dp := range d.Depots {
		part := []MapEntry{entry("kind", String(dp.Partitioner.Kind))}
		if len(dp.Partitioner.Key) > 0 {
			part = append(part, entry("key", dp.Partitioner.Key.Value()))
		}
		if dp.Partitioner.Kind == DepotTick {
			part = append(part, entry("millis", Int(dp.Partitioner.TickMillis)))
		}
		depots[i] = Map(entry("name", String(dp.Name)), entry("partitioner", Map(part...)))
	}
	pstates := make([]Value, len(d.PStates))
	for i, ps := range d.PStates {
		es := []MapEntry{entry("name", String(ps.Name)), entry("schema", ps.Schema.Value())}
		if ps.Global {
			es = append(es, entry("global", Bool(true)))
		}
		if ps.Owner != "" {
			es = append(es, entry("owner", String(ps.Owner)))
		}
		pstates[i] = Map(es...)
	}
	topos := make([]Value, len(d.Topologies))
	for i, t := range d.Topologies {
		srcs := make([]Value, len(t.Sources))
		for j, s := range t.Sources {
			es := []MapEntry{entry("depot", String(s.Depot)), entry("stage", String(s.Stage))}
			switch s.StartFrom {
			case StartEnd:
				es = append(es, entry("start_from", String(StartEnd)))
			case StartOffset:
				es = append(es, entry("start_from", Int(s.StartOffset)))
			}
			srcs[j] = Map(es...)
		}
		es := []MapEntry{entry("name", String(t.Name)), entry("kind", String(t.Kind)),
			entry("sources", List(srcs...)), entry("stages", strings2Values(t.Stages))}
		if t.MaxRecords != 0 && t.MaxRecords != DefaultMaxRecords {
			es = append(es, entry("max_records", Int(t.MaxRecords)))
		}
		if t.IntervalMillis != 0 {
			es = append(es, entry("interval_ms", Int(t.IntervalMillis)))
		}
		topos[i] = Map(es...)
	}
	top = append(top, entry("depots", List(depots...)), entry("pstates", List(pstates...)),
		entry("topologies", List(topos...)))
	if len(d.Queries) > 0 {
		qs := make([]Value, len(d.Queries))
		for i, q := range d.Queries {
			es := []MapEntry{entry("name", String(q.Name)), entry("stages", strings2Values(q.Stages))}
			if len(q.Args) > 0 {
				es = append(es, entry("args", strings2Values(q.Args)))
			}
			qs[i] = Map(es...)
		}
		top = append(top, entry("queries", List(qs...)))
	}
	return Map(top...)
}

func strings2Values(ss []string) Value {
	vs := make([]Value, len(ss))
	for i, s := range ss {
		vs[i] = String(s)
	}
	return List(vs...)
}

// Value returns the Value form of s (ABI.md §5.3): a leaf is its type name
// ("int"); a collection is a map with "type", "key" and "val" (map),
// "elem" (set, list), "fields" (record: a list of [name, schema] pairs in
// declaration order) and "subindexed": true when set.
func (s *Schema) Value() Value {
	if s.Type.IsLeaf() && !s.Subindexed {
		return String(string(s.Type))
	}
	es := []MapEntry{entry("type", String(string(s.Type)))}
	sub := func(name string, c *Schema) {
		if c != nil {
			es = append(es, entry(name, c.Value()))
		}
	}
	switch s.Type {
	case SchemaMap:
		sub("key", s.Key)
		sub("val", s.Val)
	case SchemaSet, SchemaList:
		sub("elem", s.Elem)
	case SchemaRecord:
		fs := make([]Value, len(s.Fields))
		for i, f := range s.Fields {
			fs[i] = List(String(f.Name), f.Schema.Value())
		}
		es = append(es, entry("fields", List(fs...)))
	}
	if s.Subindexed {
		es = append(es, entry("subindexed", Bool(true)))
	}
	return Map(es...)
}

func entry(k string, v Value) MapEntry { return MapEntry{Key: String(k), Val: v} }

// Encode returns the canonical MessagePack encoding of d's map form.
func (d *ModuleDef) Encode() ([]byte, error) { return Encode(d.Value()) }

// DecodeModuleDef decodes and parses a module definition (the body of a
// DEFINE effect). See [ParseModuleDef].
func DecodeModuleDef(b []byte) (*ModuleDef, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, &DefError{Problems: []DefProblem{{Where: "definition", Msg: "not valid MessagePack: " + err.Error()}}}
	}
	return ParseModuleDef(v)
}

// ParseModuleDef reads the map form of a module definition and validates
// it ([ModuleDef.Validate]). It reports every problem it finds, structural
// and semantic, in one [*DefError].
func ParseModuleDef(v Value) (*ModuleDef, error) {
	p := &problems{}
	d := p.def(v)
	d.validate(p)
	if len(p.list) > 0 {
		return nil, p.err()
	}
	return d, nil
}

// Validate checks d: names, uniqueness, references between sections,
// partitioners, schemas and limits. It reports every problem in one
// [*DefError].
func (d *ModuleDef) Validate() error {
	p := &problems{}
	d.validate(p)
	if len(p.list) > 0 {
		return p.err()
	}
	return nil
}

// problems collects the problems of a definition. A location that already
// has a problem (or sits under one that has) gets no further problems, so
// one mistake is reported once.
type problems struct {
	list []DefProblem
}

// err returns the problems as a DefError, sorted by location (list
// indexes numerically), so that they read in the order of the definition.
func (p *problems) err() *DefError {
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b DefProblem) int { return strings.Compare(sortKey(a.Where), sortKey(b.Where)) })
	return &DefError{Problems: list}
}

// sortKey pads the list indexes of a location to ten digits, so that
// "depots[10]" sorts after "depots[9]".
func sortKey(where string) string {
	var b strings.Builder
	for i := 0; i < len(where); i++ {
		b.WriteByte(where[i])
		if where[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(where) && where[j] >= '0' && where[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(where) && where[j] == ']' {
			b.WriteString(strings.Repeat("0", max(0, 10-(j-i-1))))
			b.WriteString(where[i+1 : j])
			i = j - 1
		}
	}
	return b.String()
}

func (p *problems) covered(where string) bool {
	for _, q := range p.list {
		w := q.Where
		if where == w || strings.HasPrefix(where, w+".") || strings.HasPrefix(where, w+"[") {
			return true
		}
	}
	return false
}

func (p *problems) add(where, msg string) {
	if !p.covered(where) {
		p.list = append(p.list, DefProblem{Where: where, Msg: msg})
	}
}

func join(where, field string) string {
	if where == "definition" {
		return field
	}
	return where + "." + field
}

func at(where string, i int) string { return where + "[" + strconv.Itoa(i) + "]" }

func quoteList(names []string) string {
	q := make([]string, 0, len(names))
	for i, n := range names {
		if len(names) > 12 && i == 10 {
			q = append(q, "... ("+strconv.Itoa(len(names)-10)+" more)")
			break
		}
		q = append(q, strconv.Quote(n))
	}
	return strings.Join(q, ", ")
}

// fields checks that v is a map whose keys are strings among known and
// returns its fields by name.
func (p *problems) fields(where string, v Value, what string, known []string) map[string]Value {
	if v.Kind() != KindMap {
		p.add(where, what+" must be a map, not "+v.Kind().String())
		return nil
	}
	out := make(map[string]Value, v.Len())
	for _, e := range v.Entries() {
		k, ok := e.Key.AsString()
		if !ok {
			p.add(where, "field names are strings; found the "+e.Key.Kind().String()+" key "+e.Key.String())
			continue
		}
		found := false
		for _, n := range known {
			found = found || n == k
		}
		if !found {
			p.add(join(where, k), "unknown field; "+what+" fields are "+quoteList(known))
			continue
		}
		out[k] = e.Val
	}
	return out
}

func (p *problems) str(where string, f map[string]Value, name string, required bool) string {
	v, ok := f[name]
	if !ok {
		if required && f != nil {
			p.add(join(where, name), "required field is missing")
		}
		return ""
	}
	s, ok := v.AsString()
	if !ok {
		p.add(join(where, name), "must be a string, not "+v.Kind().String())
	}
	return s
}

func (p *problems) boolean(where string, f map[string]Value, name string) bool {
	v, ok := f[name]
	if !ok {
		return false
	}
	b, ok := v.AsBool()
	if !ok {
		p.add(join(where, name), "must be a bool, not "+v.Kind().String())
	}
	return b
}

func (p *problems) listField(where string, f map[string]Value, name string, required bool) []Value {
	v, ok := f[name]
	if !ok {
		if required && f != nil {
			p.add(join(where, name), "required field is missing")
		}
		return nil
	}
	if v.Kind() != KindList {
		p.add(join(where, name), "must be a list, not "+v.Kind().String())
		return nil
	}
	if v.Len() > MaxDefEntries {
		p.add(join(where, name), "has "+strconv.Itoa(v.Len())+" entries; the limit is "+strconv.Itoa(MaxDefEntries))
		return nil
	}
	return v.Items()
}

// def parses the map form of a definition.
func (p *problems) def(v Value) *ModuleDef {
	const w = "definition"
	f := p.fields(w, v, "a module definition", []string{"depots", "name", "pstates", "queries", "topologies"})
	d := &ModuleDef{Name: p.str(w, f, "name", false)}
	for i, dv := range p.listField(w, f, "depots", true) {
		d.Depots = append(d.Depots, p.depot(at("depots", i), dv))
	}
	for i, pv := range p.listField(w, f, "pstates", true) {
		d.PStates = append(d.PStates, p.pstate(at("pstates", i), pv))
	}
	for i, tv := range p.listField(w, f, "topologies", true) {
		d.Topologies = append(d.Topologies, p.topology(at("topologies", i), tv))
	}
	for i, qv := range p.listField(w, f, "queries", false) {
		d.Queries = append(d.Queries, p.query(at("queries", i), qv))
	}
	return d
}

func (p *problems) intField(where string, f map[string]Value, name string) (int64, bool) {
	v, ok := f[name]
	if !ok {
		return 0, false
	}
	n, ok := v.AsInt()
	if !ok {
		p.add(join(where, name), "must be an int, not "+v.Kind().String())
	}
	return n, ok
}

func (p *problems) stringList(where string, f map[string]Value, name string, required bool) []string {
	var out []string
	for i, sv := range p.listField(where, f, name, required) {
		s, ok := sv.AsString()
		if !ok {
			p.add(at(join(where, name), i), "must be a string, not "+sv.Kind().String())
		}
		out = append(out, s)
	}
	return out
}

func (p *problems) query(w string, v Value) QueryDef {
	f := p.fields(w, v, "a query", []string{"args", "name", "stages"})
	q := QueryDef{Name: p.str(w, f, "name", true)}
	q.Args = p.stringList(w, f, "args", false)
	q.Stages = p.stringList(w, f, "stages", true)
	return q
}

func (p *problems) depot(w string, v Value) DepotDef {
	f := p.fields(w, v, "a depot", []string{"name", "partitioner"})
	d := DepotDef{Name: p.str(w, f, "name", true)}
	pv, ok := f["partitioner"]
	if !ok {
		if f != nil {
			p.add(join(w, "partitioner"), "required field is missing; use {\"kind\": \"hash\"}, {\"kind\": \"random\"} or {\"kind\": \"disallow\"}")
		}
		return d
	}
	pw := join(w, "partitioner")
	pf := p.fields(pw, pv, "a partitioner", []string{"key", "kind", "millis"})
	d.Partitioner.Kind = p.str(pw, pf, "kind", true)
	if n, ok := p.intField(pw, pf, "millis"); ok {
		d.Partitioner.TickMillis = n
		if d.Partitioner.Kind != DepotTick {
			p.add(join(pw, "millis"), "only a tick partitioner takes millis")
		}
	} else if _, present := pf["millis"]; !present && d.Partitioner.Kind == DepotTick {
		p.add(join(pw, "millis"), "required field is missing: the tick period in milliseconds")
	}
	if kv, ok := pf["key"]; ok {
		path, err := ParsePath(kv)
		switch {
		case err != nil:
			p.add(join(pw, "key"), "not a path: "+strings.TrimPrefix(err.Error(), "abi: "))
		case len(path) > 0: // an empty key path is the default: keep Key nil
			d.Partitioner.Key = path
		}
	}
	return d
}

func (p *problems) pstate(w string, v Value) PStateDef {
	f := p.fields(w, v, "a PState", []string{"global", "name", "owner", "schema"})
	ps := PStateDef{Name: p.str(w, f, "name", true), Global: p.boolean(w, f, "global"), Owner: p.str(w, f, "owner", false)}
	if sv, ok := f["schema"]; ok {
		ps.Schema = p.schema(join(w, "schema"), sv, 1)
	} else if f != nil {
		p.add(join(w, "schema"), "required field is missing")
	}
	return ps
}

var schemaTypes = []string{"any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"}

func (p *problems) schema(w string, v Value, depth int) Schema {
	if depth > MaxSchemaDepth {
		p.add(w, "schema nests deeper than "+strconv.Itoa(MaxSchemaDepth))
		return Schema{}
	}
	if name, ok := v.AsString(); ok {
		t := SchemaType(name)
		if !t.IsLeaf() {
			p.add(w, "unknown leaf type "+strconv.Quote(name)+"; use \"any\", \"bool\", \"int\", \"float\", \"string\" or \"bytes\", or a map {\"type\": ...} for a collection")
			return Schema{}
		}
		return Schema{Type: t}
	}
	if v.Kind() != KindMap {
		p.add(w, "a schema is a leaf type name or a map with a \"type\", not "+v.Kind().String())
		return Schema{}
	}
	tv, hasType := v.Get(String("type"))
	ts, ok := tv.AsString()
	if !ok {
		if !hasType {
			p.add(join(w, "type"), "required field is missing; use one of "+quoteList(schemaTypes))
		} else {
			p.add(join(w, "type"), "must be a string, not "+tv.Kind().String())
		}
		return Schema{}
	}
	s := Schema{Type: SchemaType(ts)}
	var known []string
	switch {
	case s.Type.IsLeaf():
		known = []string{"subindexed", "type"}
	case s.Type == SchemaMap:
		known = []string{"key", "subindexed", "type", "val"}
	case s.Type == SchemaSet || s.Type == SchemaList:
		known = []string{"elem", "subindexed", "type"}
	case s.Type == SchemaRecord:
		known = []string{"fields", "subindexed", "type"}
	default:
		p.add(join(w, "type"), "unknown schema type "+strconv.Quote(ts)+"; use one of "+quoteList(schemaTypes))
		return s
	}
	f := p.fields(w, v, "a "+ts+" schema", known)
	s.Subindexed = p.boolean(w, f, "subindexed")
	child := func(name string) *Schema {
		cv, ok := f[name]
		if !ok {
			p.add(join(w, name), "required field is missing")
			return nil
		}
		c := p.schema(join(w, name), cv, depth+1)
		return &c
	}
	switch s.Type {
	case SchemaMap:
		s.Key = child("key")
		s.Val = child("val")
	case SchemaSet, SchemaList:
		s.Elem = child("elem")
	case SchemaRecord:
		fv, ok := f["fields"]
		if !ok {
			p.add(join(w, "fields"), "required field is missing")
			break
		}
		if fv.Kind() != KindList {
			p.add(join(w, "fields"), "must be a list of [name, schema] pairs, not "+fv.Kind().String())
			break
		}
		for i, e := range fv.Items() {
			name, ok := e.Index(0).AsString()
			if e.Kind() != KindList || e.Len() != 2 || !ok {
				p.add(at(join(w, "fields"), i), "a record field is a [name, schema] pair with a string name, not "+e.String())
				s.Fields = append(s.Fields, FieldDef{})
				continue
			}
			fw := join(w, "fields") + "[" + strconv.Quote(name) + "]"
			s.Fields = append(s.Fields, FieldDef{Name: name, Schema: p.schema(fw, e.Index(1), depth+1)})
		}
	}
	return s
}

func (p *problems) topology(w string, v Value) TopologyDef {
	f := p.fields(w, v, "a topology", []string{"interval_ms", "kind", "max_records", "name", "sources", "stages"})
	t := TopologyDef{Name: p.str(w, f, "name", true), Kind: p.str(w, f, "kind", true)}
	if n, ok := p.intField(w, f, "max_records"); ok {
		if n < 1 || n > MaxMaxRecords {
			p.add(join(w, "max_records"), "is "+strconv.FormatInt(n, 10)+"; it must be from 1 to "+strconv.Itoa(MaxMaxRecords))
		}
		t.MaxRecords = n
	}
	if n, ok := p.intField(w, f, "interval_ms"); ok {
		if n < 0 || n > MaxIntervalMillis {
			p.add(join(w, "interval_ms"), "is "+strconv.FormatInt(n, 10)+"; it must be from 0 to "+strconv.Itoa(MaxIntervalMillis))
		}
		t.IntervalMillis = n
	}
	for i, sv := range p.listField(w, f, "sources", true) {
		sw := at(join(w, "sources"), i)
		sf := p.fields(sw, sv, "a source", []string{"depot", "stage", "start_from"})
		s := SourceDef{Depot: p.str(sw, sf, "depot", true), Stage: p.str(sw, sf, "stage", true)}
		if fv, ok := sf["start_from"]; ok {
			str, isStr := fv.AsString()
			n, isInt := fv.AsInt()
			switch {
			case isStr && (str == StartBeginning || str == StartEnd):
				s.StartFrom = str
			case isInt && n >= 0:
				s.StartFrom, s.StartOffset = StartOffset, n
			default:
				p.add(join(sw, "start_from"), "must be \"beginning\", \"end\" or an offset (an int >= 0), not "+fv.String())
			}
		}
		if s.StartFrom == StartBeginning {
			s.StartFrom = ""
		}
		t.Sources = append(t.Sources, s)
	}
	for i, sv := range p.listField(w, f, "stages", true) {
		s, ok := sv.AsString()
		if !ok {
			p.add(at(join(w, "stages"), i), "a stage is named by a string, not "+sv.Kind().String())
		}
		t.Stages = append(t.Stages, s)
	}
	return t
}

// nameProblem says what is wrong with a name, or "" when it is valid: 1 to
// 128 bytes of ASCII letters, digits and "_-.$", starting with a letter,
// '_' or '$' (the storage layer's rule).
func nameProblem(name string) string {
	if name == "" {
		return "a name cannot be empty"
	}
	if len(name) > maxNameLen {
		return "name is " + strconv.Itoa(len(name)) + " bytes; the limit is " + strconv.Itoa(maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')
		if !ok {
			return "name " + strconv.Quote(name) + " has " + strconv.QuoteRune(rune(c)) + " at byte " + strconv.Itoa(i) +
				"; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'"
		}
	}
	return ""
}

// names checks the names of one section for validity and uniqueness.
func (p *problems) names(section, what string, names []string, field string) {
	seen := make(map[string]int, len(names))
	for i, n := range names {
		w := at(section, i)
		if field != "" {
			w = join(w, field)
		}
		if msg := nameProblem(n); msg != "" {
			p.add(w, msg)
			continue
		}
		if j, dup := seen[n]; dup {
			first := at(section, j)
			p.add(w, "duplicate "+what+" name "+strconv.Quote(n)+" (also "+first+")")
			continue
		}
		seen[n] = i
	}
}

func (d *ModuleDef) validate(p *problems) {
	if d.Name != "" {
		if msg := nameProblem(d.Name); msg != "" {
			p.add("name", msg)
		}
	}
	for _, s := range []struct {
		name string
		n    int
	}{{"depots", len(d.Depots)}, {"pstates", len(d.PStates)}, {"topologies", len(d.Topologies)}} {
		if s.n > MaxDefEntries {
			p.add(s.name, "has "+strconv.Itoa(s.n)+" entries; the limit is "+strconv.Itoa(MaxDefEntries))
		}
	}
	depotNames := make([]string, len(d.Depots))
	for i, dp := range d.Depots {
		depotNames[i] = dp.Name
	}
	p.names("depots", "depot", depotNames, "name")
	for i, dp := range d.Depots {
		w := join(at("depots", i), "partitioner")
		switch dp.Partitioner.Kind {
		case DepotHash:
			if err := dp.Partitioner.Key.Validate(ModeSelect); err != nil {
				p.add(join(w, "key"), strings.TrimPrefix(err.Error(), "abi: "))
			}
		case DepotRandom, DepotDisallow, DepotTick:
			if len(dp.Partitioner.Key) > 0 {
				p.add(join(w, "key"), "only a hash partitioner takes a key path")
			}
			if dp.Partitioner.Kind == DepotTick && (dp.Partitioner.TickMillis < 1 || dp.Partitioner.TickMillis > MaxTickMillis) {
				p.add(join(w, "millis"), "is "+strconv.FormatInt(dp.Partitioner.TickMillis, 10)+"; the tick period must be from 1 to "+
					strconv.Itoa(MaxTickMillis)+" milliseconds")
			}
		default:
			p.add(join(w, "kind"), "unknown depot partitioner "+strconv.Quote(dp.Partitioner.Kind)+
				"; use \"hash\", \"random\", \"disallow\" or \"tick\"")
		}
	}
	psNames := make([]string, len(d.PStates))
	for i, ps := range d.PStates {
		psNames[i] = ps.Name
	}
	p.names("pstates", "PState", psNames, "name")
	for i := range d.PStates {
		p.validateSchema(join(at("pstates", i), "schema"), &d.PStates[i].Schema, 1, true)
	}
	topoNames := make([]string, len(d.Topologies))
	for i, t := range d.Topologies {
		topoNames[i] = t.Name
	}
	p.names("topologies", "topology", topoNames, "name")
	for i := range d.Topologies {
		t := &d.Topologies[i]
		w := at("topologies", i)
		switch t.Kind {
		case TopologyStream:
			if t.MaxRecords != 0 {
				p.add(join(w, "max_records"), "only microbatch topologies take max_records")
			}
			if t.IntervalMillis != 0 {
				p.add(join(w, "interval_ms"), "only microbatch topologies take interval_ms")
			}
		case TopologyMicrobatch:
		default:
			p.add(join(w, "kind"), "unknown topology kind "+strconv.Quote(t.Kind)+"; use \"stream\" or \"microbatch\"")
		}
		if len(t.Stages) > MaxDefEntries {
			p.add(join(w, "stages"), "has "+strconv.Itoa(len(t.Stages))+" entries; the limit is "+strconv.Itoa(MaxDefEntries))
		}
		if len(t.Stages) == 0 {
			p.add(join(w, "stages"), "a topology needs at least one stage")
		}
		p.names(join(w, "stages"), "stage", t.Stages, "")
		if len(t.Sources) > MaxDefEntries {
			p.add(join(w, "sources"), "has "+strconv.Itoa(len(t.Sources))+" entries; the limit is "+strconv.Itoa(MaxDefEntries))
		}
		if len(t.Sources) == 0 {
			p.add(join(w, "sources"), "a topology needs at least one source {\"depot\": ..., \"stage\": ...}")
		}
		seen := map[[2]string]int{}
		for j, s := range t.Sources {
			sw := at(join(w, "sources"), j)
			if d.DepotIndex(s.Depot) < 0 {
				msg := "unknown depot " + strconv.Quote(s.Depot) + "; "
				if len(d.Depots) == 0 {
					msg += "the module declares no depots"
				} else {
					msg += "declared depots: " + quoteList(depotNames)
				}
				p.add(join(sw, "depot"), msg)
			}
			if t.StageIndex(s.Stage) < 0 {
				msg := "unknown stage " + strconv.Quote(s.Stage) + "; "
				if len(t.Stages) == 0 {
					msg += "the topology declares no stages"
				} else {
					msg += "stages of topology " + strconv.Quote(t.Name) + ": " + quoteList(t.Stages)
				}
				p.add(join(sw, "stage"), msg)
			}
			if k, dup := seen[[2]string{s.Depot, s.Stage}]; dup {
				p.add(sw, "duplicate source (also "+at(join(w, "sources"), k)+")")
			} else {
				seen[[2]string{s.Depot, s.Stage}] = j
			}
		}
	}
	for i, ps := range d.PStates {
		if ps.Owner == "" {
			continue
		}
		if d.TopologyIndex(ps.Owner) < 0 {
			msg := "unknown topology " + strconv.Quote(ps.Owner) + "; "
			if len(d.Topologies) == 0 {
				msg += "the module declares no topologies"
			} else {
				msg += "declared topologies: " + quoteList(topoNames)
			}
			p.add(join(at("pstates", i), "owner"), msg)
		}
	}
	d.validateQueries(p, topoNames)
}

func (d *ModuleDef) validateQueries(p *problems, topoNames []string) {
	if len(d.Queries) > MaxDefEntries {
		p.add("queries", "has "+strconv.Itoa(len(d.Queries))+" entries; the limit is "+strconv.Itoa(MaxDefEntries))
	}
	qNames := make([]string, len(d.Queries))
	for i, q := range d.Queries {
		qNames[i] = q.Name
	}
	p.names("queries", "query", qNames, "name")
	for i := range d.Queries {
		q := &d.Queries[i]
		w := at("queries", i)
		if slices.Contains(topoNames, q.Name) {
			p.add(join(w, "name"), "query name "+strconv.Quote(q.Name)+" is also a topology name; queries and topologies need distinct names")
		}
		if len(q.Args) > MaxQueryArgs {
			p.add(join(w, "args"), "has "+strconv.Itoa(len(q.Args))+" arguments; the limit is "+strconv.Itoa(MaxQueryArgs))
		}
		p.names(join(w, "args"), "argument", q.Args, "")
		if len(q.Stages) == 0 {
			p.add(join(w, "stages"), "a query needs at least one stage (the first is its entry)")
		}
		p.names(join(w, "stages"), "stage", q.Stages, "")
	}
}

// validateSchema checks one schema node at the given depth (the root is
// 1). separate says whether the node is stored under its own storage keys
// (the root of a PState, a value of the top-level map, a field of a record
// stored so, or an entry of a subindexed collection): only there may a
// subindexed collection appear.
func (p *problems) validateSchema(w string, s *Schema, depth int, separate bool) {
	if depth > MaxSchemaDepth {
		p.add(w, "schema nests deeper than "+strconv.Itoa(MaxSchemaDepth))
		return
	}
	need := func(name string, c *Schema) bool {
		if c == nil {
			p.add(join(w, name), "required field is missing")
			return false
		}
		return true
	}
	keyLike := func(name string, c *Schema) {
		what := "map keys"
		if name == "elem" {
			what = "set elements"
		}
		switch {
		case c.Type == SchemaFloat:
			p.add(join(w, name), what+" cannot be floats (NaN and -0.0 make them ambiguous); use int or string")
		case !c.Type.IsLeaf():
			p.add(join(w, name), what+" must be of a leaf type (any, bool, int, string or bytes), not "+strconv.Quote(string(c.Type)))
		}
	}
	root := depth == 1
	coll := s.Type == SchemaMap || s.Type == SchemaSet || s.Type == SchemaList
	switch {
	case root && (s.Type == SchemaSet || s.Type == SchemaList):
		p.add(w, "the top level of a PState must be a map, a record or a leaf, not a "+string(s.Type)+
			"; put the "+string(s.Type)+" under a map key or a record field")
	case root && s.Type == SchemaMap && s.Subindexed:
		p.add(join(w, "subindexed"), "the top-level map is always stored one key per entry; remove \"subindexed\"")
	case s.Subindexed && !coll:
		p.add(join(w, "subindexed"), "only map, set and list schemas can be subindexed, not "+strconv.Quote(string(s.Type)))
	case s.Subindexed && !separate:
		p.add(join(w, "subindexed"), "a subindexed "+string(s.Type)+" cannot sit inside a map, set or list that is not subindexed; "+
			"mark that one subindexed too, or move this "+string(s.Type)+" to a record field or directly under the top-level map")
	}
	// The children of this node are stored separately when the node is: the
	// top-level map or record, a record stored separately, or a subindexed
	// collection.
	childSeparate := root && (s.Type == SchemaMap || s.Type == SchemaRecord) ||
		s.Type == SchemaRecord && separate || coll && s.Subindexed
	switch {
	case s.Type.IsLeaf():
	case s.Type == SchemaMap:
		if need("key", s.Key) {
			p.validateSchema(join(w, "key"), s.Key, depth+1, false)
			keyLike("key", s.Key)
		}
		if need("val", s.Val) {
			p.validateSchema(join(w, "val"), s.Val, depth+1, childSeparate)
		}
	case s.Type == SchemaSet:
		if need("elem", s.Elem) {
			p.validateSchema(join(w, "elem"), s.Elem, depth+1, false)
			keyLike("elem", s.Elem)
		}
	case s.Type == SchemaList:
		if need("elem", s.Elem) {
			p.validateSchema(join(w, "elem"), s.Elem, depth+1, childSeparate)
		}
	case s.Type == SchemaRecord:
		if len(s.Fields) == 0 {
			p.add(join(w, "fields"), "a record needs at least one field")
		}
		seen := map[string]bool{}
		for i := range s.Fields {
			fd := &s.Fields[i]
			fw := join(w, "fields") + "[" + strconv.Quote(fd.Name) + "]"
			switch {
			case fd.Name == "":
				p.add(at(join(w, "fields"), i), "a record field needs a name")
				continue
			case !utf8.ValidString(fd.Name):
				p.add(fw, "field name is not valid UTF-8")
			case len(fd.Name) > maxNameLen:
				p.add(fw, "field name is "+strconv.Itoa(len(fd.Name))+" bytes; the limit is "+strconv.Itoa(maxNameLen))
			case seen[fd.Name]:
				p.add(at(join(w, "fields"), i), "field "+strconv.Quote(fd.Name)+" is declared twice")
				continue
			}
			seen[fd.Name] = true
			p.validateSchema(fw, &fd.Schema, depth+1, childSeparate)
		}
	case s.Type == "":
		p.add(join(w, "type"), "required field is missing; use one of "+quoteList(schemaTypes))
	default:
		p.add(join(w, "type"), "unknown schema type "+strconv.Quote(string(s.Type))+"; use one of "+quoteList(schemaTypes))
	}
}
