package squall

import (
	"slices"
	"strconv"
	"strings"
)

// This file checks a module definition in its ABI form (ABI.md §5) the way
// the host does at deploy, with the host's messages, so that a module that
// the host would refuse fails in squall_init and in squalltest with the
// same list of problems.

// Limits of a definition.
const (
	maxDefEntries = 1024
	maxNameLen    = 128
)

// DefProblem is one problem of a module definition.
type DefProblem struct {
	// Where locates it: "depots[1].name", "pstates[0].schema.val",
	// "topologies[0].sources[1].depot", "definition" for the whole.
	Where string
	// Msg says what is wrong and what would be right.
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
		return "squall: module definition: " + e.Problems[0].Where + ": " + e.Problems[0].Msg
	}
	var b strings.Builder
	b.WriteString("squall: module definition has " + strconv.Itoa(len(e.Problems)) + " problems:")
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.Where + ": " + p.Msg)
	}
	return b.String()
}

// problems collects problems; a location under one that already has a
// problem gets no more, so one mistake is reported once.
type problems struct {
	list []DefProblem
}

func (p *problems) add(where, msg string) {
	for _, q := range p.list {
		w := q.Where
		if where == w || strings.HasPrefix(where, w+".") || strings.HasPrefix(where, w+"[") {
			return
		}
	}
	p.list = append(p.list, DefProblem{Where: where, Msg: msg})
}

// err returns the problems sorted by location (list indexes numerically),
// or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b DefProblem) int { return strings.Compare(sortKey(a.Where), sortKey(b.Where)) })
	return &DefError{Problems: list}
}

// sortKey pads list indexes to ten digits so that [10] sorts after [9].
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

// nameProblem says what is wrong with a name, or "": 1 to 128 bytes of
// ASCII letters, digits and _-.$, starting with a letter, _ or $.
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

// defn is a definition read from its ABI form.
type defn struct {
	name       string
	depots     []defDepot
	pstates    []defPState
	topologies []defTopology
	queries    []defQuery
}

type defDepot struct {
	name, kind string
	key        Path
	millis     int64
	hasMillis  bool
}

type defPState struct {
	name   string
	schema Schema
	global bool
	owner  string
}

type defTopology struct {
	name, kind string
	sources    [][2]string // depot, stage
	stages     []string
	maxRecords int64
	interval   int64
}

type defQuery struct {
	name   string
	args   []string
	stages []string
}

// CheckDefinition checks a module definition in its ABI form as the host
// does at deploy, and returns a [*DefError] listing every problem, or nil.
func CheckDefinition(v Value) error {
	p := &problems{}
	d := p.def(v)
	d.validate(p)
	return p.err()
}

// fields checks that v is a map with string keys among known and returns
// its fields by name.
func (p *problems) fields(where string, v Value, what string, known []string) map[string]Value {
	if v.kind != KindMap {
		p.add(where, what+" must be a map, not "+v.kind.String())
		return nil
	}
	out := make(map[string]Value, v.Len())
	for i := 0; i < len(v.c); i += 2 {
		k, ok := v.c[i].AsString()
		if !ok {
			p.add(where, "field names are strings; found the "+v.c[i].kind.String()+" key "+v.c[i].String())
			continue
		}
		if !slices.Contains(known, k) {
			p.add(join(where, k), "unknown field; "+what+" fields are "+quoteList(known))
			continue
		}
		out[k] = v.c[i+1]
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
		p.add(join(where, name), "must be a string, not "+v.kind.String())
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
		p.add(join(where, name), "must be a bool, not "+v.kind.String())
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
	if v.kind != KindList {
		p.add(join(where, name), "must be a list, not "+v.kind.String())
		return nil
	}
	if v.Len() > maxDefEntries {
		p.add(join(where, name), "has "+strconv.Itoa(v.Len())+" entries; the limit is "+strconv.Itoa(maxDefEntries))
		return nil
	}
	return v.c
}

func (p *problems) def(v Value) *defn {
	const w = "definition"
	f := p.fields(w, v, "a module definition", []string{"depots", "name", "pstates", "queries", "topologies"})
	d := &defn{name: p.str(w, f, "name", false)}
	for i, dv := range p.listField(w, f, "depots", true) {
		d.depots = append(d.depots, p.depot(at("depots", i), dv))
	}
	for i, pv := range p.listField(w, f, "pstates", true) {
		d.pstates = append(d.pstates, p.pstate(at("pstates", i), pv))
	}
	for i, tv := range p.listField(w, f, "topologies", true) {
		d.topologies = append(d.topologies, p.topology(at("topologies", i), tv))
	}
	for i, qv := range p.listField(w, f, "queries", false) {
		d.queries = append(d.queries, p.query(at("queries", i), qv))
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
		p.add(join(where, name), "must be an int, not "+v.kind.String())
	}
	return n, ok
}

func (p *problems) stringList(where string, f map[string]Value, name string, required bool) []string {
	var out []string
	for i, sv := range p.listField(where, f, name, required) {
		s, ok := sv.AsString()
		if !ok {
			p.add(at(join(where, name), i), "must be a string, not "+sv.kind.String())
		}
		out = append(out, s)
	}
	return out
}

func (p *problems) query(w string, v Value) defQuery {
	f := p.fields(w, v, "a query", []string{"args", "name", "stages"})
	return defQuery{name: p.str(w, f, "name", true), args: p.stringList(w, f, "args", false), stages: p.stringList(w, f, "stages", true)}
}

func (p *problems) depot(w string, v Value) defDepot {
	f := p.fields(w, v, "a depot", []string{"name", "partitioner"})
	d := defDepot{name: p.str(w, f, "name", true)}
	pv, ok := f["partitioner"]
	if !ok {
		if f != nil {
			p.add(join(w, "partitioner"), "required field is missing; use {\"kind\": \"hash\"}, {\"kind\": \"random\"} or {\"kind\": \"disallow\"}")
		}
		return d
	}
	pw := join(w, "partitioner")
	pf := p.fields(pw, pv, "a partitioner", []string{"key", "kind", "millis"})
	d.kind = p.str(pw, pf, "kind", true)
	if n, ok := p.intField(pw, pf, "millis"); ok {
		d.millis, d.hasMillis = n, true
		if d.kind != "tick" {
			p.add(join(pw, "millis"), "only a tick partitioner takes millis")
		}
	} else if _, present := pf["millis"]; !present && d.kind == "tick" {
		p.add(join(pw, "millis"), "required field is missing: the tick period in milliseconds")
	}
	if kv, ok := pf["key"]; ok {
		path, err := ParsePath(kv)
		if err != nil {
			p.add(join(pw, "key"), "not a path: "+strings.TrimPrefix(err.Error(), "squall: "))
		} else {
			d.key = path
		}
	}
	return d
}

func (p *problems) pstate(w string, v Value) defPState {
	f := p.fields(w, v, "a PState", []string{"global", "name", "owner", "schema"})
	ps := defPState{name: p.str(w, f, "name", true), global: p.boolean(w, f, "global"), owner: p.str(w, f, "owner", false)}
	if sv, ok := f["schema"]; ok {
		ps.schema = p.schema(join(w, "schema"), sv, 1)
	} else if f != nil {
		p.add(join(w, "schema"), "required field is missing")
	}
	return ps
}

var schemaTypes = []string{"any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"}

// schema reads the ABI form of a schema.
func (p *problems) schema(w string, v Value, depth int) Schema {
	if depth > maxSchemaDepth {
		p.add(w, "schema nests deeper than "+strconv.Itoa(maxSchemaDepth))
		return Schema{}
	}
	if name, ok := v.AsString(); ok {
		s := Schema{&schemaNode{typ: name}}
		if !s.leaf() {
			p.add(w, "unknown leaf type "+strconv.Quote(name)+"; use \"any\", \"bool\", \"int\", \"float\", \"string\" or \"bytes\", or a map {\"type\": ...} for a collection")
			return Schema{}
		}
		return s
	}
	if v.kind != KindMap {
		p.add(w, "a schema is a leaf type name or a map with a \"type\", not "+v.kind.String())
		return Schema{}
	}
	tv, hasType := v.Get(String("type"))
	ts, ok := tv.AsString()
	if !ok {
		if !hasType {
			p.add(join(w, "type"), "required field is missing; use one of "+quoteList(schemaTypes))
		} else {
			p.add(join(w, "type"), "must be a string, not "+tv.kind.String())
		}
		return Schema{}
	}
	n := &schemaNode{typ: ts}
	s := Schema{n}
	var known []string
	switch {
	case s.leaf():
		known = []string{"subindexed", "type"}
	case ts == "map":
		known = []string{"key", "subindexed", "type", "val"}
	case ts == "set" || ts == "list":
		known = []string{"elem", "subindexed", "type"}
	case ts == "record":
		known = []string{"fields", "subindexed", "type"}
	default:
		p.add(join(w, "type"), "unknown schema type "+strconv.Quote(ts)+"; use one of "+quoteList(schemaTypes))
		return s
	}
	f := p.fields(w, v, "a "+ts+" schema", known)
	n.subindexed = p.boolean(w, f, "subindexed")
	child := func(name string) Schema {
		cv, ok := f[name]
		if !ok {
			p.add(join(w, name), "required field is missing")
			return Schema{}
		}
		return p.schema(join(w, name), cv, depth+1)
	}
	switch ts {
	case "map":
		n.key = child("key")
		n.val = child("val")
	case "set", "list":
		n.elem = child("elem")
	case "record":
		fv, ok := f["fields"]
		if !ok {
			p.add(join(w, "fields"), "required field is missing")
			break
		}
		if fv.kind != KindList {
			p.add(join(w, "fields"), "must be a list of [name, schema] pairs, not "+fv.kind.String())
			break
		}
		n.fields = []SchemaField{}
		for i, e := range fv.c {
			name, ok := e.Index(0).AsString()
			if e.kind != KindList || e.Len() != 2 || !ok {
				p.add(at(join(w, "fields"), i), "a record field is a [name, schema] pair with a string name, not "+e.String())
				n.fields = append(n.fields, SchemaField{})
				continue
			}
			fw := join(w, "fields") + "[" + strconv.Quote(name) + "]"
			n.fields = append(n.fields, SchemaField{Name: name, Schema: p.schema(fw, e.Index(1), depth+1)})
		}
	}
	return s
}

func (p *problems) topology(w string, v Value) defTopology {
	f := p.fields(w, v, "a topology", []string{"interval_ms", "kind", "max_records", "name", "sources", "stages"})
	t := defTopology{name: p.str(w, f, "name", true), kind: p.str(w, f, "kind", true)}
	if n, ok := p.intField(w, f, "max_records"); ok {
		if n < 1 || n > 1_000_000 {
			p.add(join(w, "max_records"), "is "+strconv.FormatInt(n, 10)+"; it must be from 1 to 1000000")
		}
		t.maxRecords = n
	}
	if n, ok := p.intField(w, f, "interval_ms"); ok {
		if n < 0 || n > 3_600_000 {
			p.add(join(w, "interval_ms"), "is "+strconv.FormatInt(n, 10)+"; it must be from 0 to 3600000")
		}
		t.interval = n
	}
	for i, sv := range p.listField(w, f, "sources", true) {
		sw := at(join(w, "sources"), i)
		sf := p.fields(sw, sv, "a source", []string{"depot", "stage", "start_from"})
		t.sources = append(t.sources, [2]string{p.str(sw, sf, "depot", true), p.str(sw, sf, "stage", true)})
		if fv, ok := sf["start_from"]; ok {
			str, isStr := fv.AsString()
			n, isInt := fv.AsInt()
			if !(isStr && (str == "beginning" || str == "end")) && !(isInt && n >= 0) {
				p.add(join(sw, "start_from"), "must be \"beginning\", \"end\" or an offset (an int >= 0), not "+fv.String())
			}
		}
	}
	for i, sv := range p.listField(w, f, "stages", true) {
		s, ok := sv.AsString()
		if !ok {
			p.add(at(join(w, "stages"), i), "a stage is named by a string, not "+sv.kind.String())
		}
		t.stages = append(t.stages, s)
	}
	return t
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
			p.add(w, "duplicate "+what+" name "+strconv.Quote(n)+" (also "+at(section, j)+")")
			continue
		}
		seen[n] = i
	}
}

func (d *defn) validate(p *problems) {
	if d.name != "" {
		if msg := nameProblem(d.name); msg != "" {
			p.add("name", msg)
		}
	}
	depotNames := make([]string, len(d.depots))
	for i, dp := range d.depots {
		depotNames[i] = dp.name
	}
	p.names("depots", "depot", depotNames, "name")
	for i, dp := range d.depots {
		w := join(at("depots", i), "partitioner")
		switch dp.kind {
		case "hash":
			if err := dp.key.Validate(SelectMode); err != nil {
				p.add(join(w, "key"), strings.TrimPrefix(err.Error(), "squall: "))
			}
		case "random", "disallow", "tick":
			if dp.key.Len() > 0 {
				p.add(join(w, "key"), "only a hash partitioner takes a key path")
			}
			if dp.kind == "tick" && (dp.millis < 1 || dp.millis > 86_400_000) {
				p.add(join(w, "millis"), "is "+strconv.FormatInt(dp.millis, 10)+"; the tick period must be from 1 to 86400000 milliseconds")
			}
		default:
			p.add(join(w, "kind"), "unknown depot partitioner "+strconv.Quote(dp.kind)+"; use \"hash\", \"random\", \"disallow\" or \"tick\"")
		}
	}
	psNames := make([]string, len(d.pstates))
	for i, ps := range d.pstates {
		psNames[i] = ps.name
	}
	p.names("pstates", "PState", psNames, "name")
	for i, ps := range d.pstates {
		if ps.schema.n != nil {
			ps.schema.check(p, join(at("pstates", i), "schema"), 1, true)
		}
	}
	topoNames := make([]string, len(d.topologies))
	for i, t := range d.topologies {
		topoNames[i] = t.name
	}
	p.names("topologies", "topology", topoNames, "name")
	for i, t := range d.topologies {
		w := at("topologies", i)
		switch t.kind {
		case "stream":
			if t.maxRecords != 0 {
				p.add(join(w, "max_records"), "only microbatch topologies take max_records")
			}
			if t.interval != 0 {
				p.add(join(w, "interval_ms"), "only microbatch topologies take interval_ms")
			}
		case "microbatch":
		default:
			p.add(join(w, "kind"), "unknown topology kind "+strconv.Quote(t.kind)+"; use \"stream\" or \"microbatch\"")
		}
		if len(t.stages) == 0 {
			p.add(join(w, "stages"), "a topology needs at least one stage")
		}
		p.names(join(w, "stages"), "stage", t.stages, "")
		if len(t.sources) == 0 {
			p.add(join(w, "sources"), "a topology needs at least one source {\"depot\": ..., \"stage\": ...}")
		}
		seen := map[[2]string]int{}
		for j, s := range t.sources {
			sw := at(join(w, "sources"), j)
			if !slices.Contains(depotNames, s[0]) {
				msg := "unknown depot " + strconv.Quote(s[0]) + "; "
				if len(d.depots) == 0 {
					msg += "the module declares no depots"
				} else {
					msg += "declared depots: " + quoteList(depotNames)
				}
				p.add(join(sw, "depot"), msg)
			}
			if !slices.Contains(t.stages, s[1]) {
				msg := "unknown stage " + strconv.Quote(s[1]) + "; "
				if len(t.stages) == 0 {
					msg += "the topology declares no stages"
				} else {
					msg += "stages of topology " + strconv.Quote(t.name) + ": " + quoteList(t.stages)
				}
				p.add(join(sw, "stage"), msg)
			}
			if k, dup := seen[s]; dup {
				p.add(sw, "duplicate source (also "+at(join(w, "sources"), k)+")")
			} else {
				seen[s] = j
			}
		}
	}
	for i, ps := range d.pstates {
		if ps.owner != "" && !slices.Contains(topoNames, ps.owner) {
			msg := "unknown topology " + strconv.Quote(ps.owner) + "; "
			if len(topoNames) == 0 {
				msg += "the module declares no topologies"
			} else {
				msg += "declared topologies: " + quoteList(topoNames)
			}
			p.add(join(at("pstates", i), "owner"), msg)
		}
	}
	qNames := make([]string, len(d.queries))
	for i, q := range d.queries {
		qNames[i] = q.name
	}
	p.names("queries", "query", qNames, "name")
	for i, q := range d.queries {
		w := at("queries", i)
		if slices.Contains(topoNames, q.name) {
			p.add(join(w, "name"), "query name "+strconv.Quote(q.name)+" is also a topology name; queries and topologies need distinct names")
		}
		if len(q.args) > 64 {
			p.add(join(w, "args"), "has "+strconv.Itoa(len(q.args))+" arguments; the limit is 64")
		}
		p.names(join(w, "args"), "argument", q.args, "")
		if len(q.stages) == 0 {
			p.add(join(w, "stages"), "a query needs at least one stage (the first is its entry)")
		}
		p.names(join(w, "stages"), "stage", q.stages, "")
	}
}
