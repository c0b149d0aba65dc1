package abi

import (
	"errors"
	"strings"
	"testing"
)

// frM builds a map value from alternating string keys and values.
func frM(kv ...any) Value {
	var es []MapEntry
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := kv[i+1].(Value)
		if !ok {
			switch x := kv[i+1].(type) {
			case string:
				v = String(x)
			case bool:
				v = Bool(x)
			case int:
				v = Int(int64(x))
			}
		}
		es = append(es, MapEntry{Key: String(kv[i].(string)), Val: v})
	}
	return Map(es...)
}

func frL(vs ...Value) Value { return List(vs...) }

func frStrs(ss ...string) Value {
	vs := make([]Value, len(ss))
	for i, s := range ss {
		vs[i] = String(s)
	}
	return List(vs...)
}

func frSimpleTopology(name string, sources Value, stages ...string) Value {
	return frM("name", name, "kind", "stream", "sources", sources, "stages", frStrs(stages...))
}

func frSrc(depot, stage string) Value { return frM("depot", depot, "stage", stage) }

func frDepot(name, kind string) Value {
	return frM("name", name, "partitioner", frM("kind", kind))
}

func TestFrameModuleDef_RoundTrip(t *testing.T) {
	d := frSampleDef()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	g, err := DecodeModuleDef(b)
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(g.Value(), d.Value()) {
		t.Fatalf("round trip changed the definition:\n got %v\nwant %v", g.Value(), d.Value())
	}
	if g.DepotIndex("audit") != 1 || g.PStateIndex("follower_count") != 1 || g.TopologyIndex("core") != 0 ||
		g.Topologies[0].StageIndex("index") != 1 || g.DepotIndex("nope") != -1 {
		t.Errorf("index lookups are wrong")
	}
	if got := g.Depots[0].Partitioner.Key.String(); got != `key("to")` {
		t.Errorf("key path %s", got)
	}
}

func TestFrameModuleDef_SchemaForms(t *testing.T) {
	// The leaf short form and the map form of a leaf parse the same; the
	// canonical form is the short one.
	for _, sv := range []Value{String("int"), frM("type", "int")} {
		def := frM("depots", frL(), "topologies", frL(), "pstates", frL(frM("name", "n", "schema", sv)))
		d, err := ParseModuleDef(def)
		if err != nil {
			t.Fatalf("%v: %v", sv, err)
		}
		if got := d.PStates[0].Schema.Value(); !Equal(got, String("int")) {
			t.Errorf("%v re-encodes as %v", sv, got)
		}
	}
	rec := Schema{Type: SchemaRecord, Fields: []FieldDef{
		{Name: "zeta", Schema: Schema{Type: SchemaInt}},
		{Name: "alpha", Schema: Schema{Type: SchemaList, Elem: &Schema{Type: SchemaString}, Subindexed: true}},
	}}
	want := frM("type", "record", "fields", frL(
		frL(String("zeta"), String("int")),
		frL(String("alpha"), frM("type", "list", "elem", "string", "subindexed", true))))
	if got := rec.Value(); !Equal(got, want) {
		t.Errorf("record schema\n got %v\nwant %v", got, want)
	}
}

// frDefCase is a module definition and the problems it must be reported
// with (none: it is valid). testdata/frames/module_def_invalid.jsonl is
// generated from these cases.
type frDefCase struct {
	name string
	in   Value
	want []string // "where: msg"
}

func frDefProblemCases() []frDefCase {
	events := frDepot("events", "hash")
	users := frDepot("users", "random")
	okPS := frM("name", "counts", "schema", frM("type", "map", "key", "string", "val", "int"))
	okTopo := frSimpleTopology("t", frL(frSrc("events", "s")), "s")
	def := func(depots, pstates, topos Value, extra ...any) Value {
		kv := append([]any{"depots", depots, "pstates", pstates, "topologies", topos}, extra...)
		return frM(kv...)
	}
	schemaDef := func(s Value) Value {
		return def(frL(events), frL(frM("name", "p", "schema", s)), frL(okTopo))
	}
	return []frDefCase{
		{"the brief's example", def(frL(events, users), frL(),
			frL(frSimpleTopology("core", frL(frSrc("events", "a"), frSrc("clicks", "a")), "a"))),
			[]string{`topologies[0].sources[1].depot: unknown depot "clicks"; declared depots: "events", "users"`}},
		{"not a map", frL(), []string{"definition: a module definition must be a map, not list"}},
		{"missing sections", frM(), []string{
			"depots: required field is missing", "pstates: required field is missing", "topologies: required field is missing"}},
		{"unknown top field", def(frL(), frL(), frL(), "topologeis", frL()), []string{
			`topologeis: unknown field; a module definition fields are "depots", "name", "pstates", "queries", "topologies"`}},
		{"non-string key", Map(MapEntry{Int(1), Int(2)}, MapEntry{String("depots"), frL()}, MapEntry{String("pstates"), frL()},
			MapEntry{String("topologies"), frL()}), []string{"definition: field names are strings; found the int key 1"}},
		{"1.1 query problems", def(frL(events), frL(), frL(okTopo), "queries", frL(
			frM(),
			frM("name", "t", "stages", frStrs("a")),
			frM("name", "q", "args", frStrs("x", "x", "bad arg"), "stages", frL()),
			frM("name", "q", "args", "x", "stages", frStrs("a", "a"), "deadline", Int(1)),
		)), []string{
			"queries[0].name: required field is missing",
			"queries[0].stages: required field is missing",
			`queries[1].name: query name "t" is also a topology name; queries and topologies need distinct names`,
			`queries[2].args[1]: duplicate argument name "x" (also queries[2].args[0])`,
			`queries[2].args[2]: name "bad arg" has ' ' at byte 3; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'`,
			"queries[2].stages: a query needs at least one stage (the first is its entry)",
			"queries[3].args: must be a list, not string",
			`queries[3].deadline: unknown field; a query fields are "args", "name", "stages"`,
			`queries[3].name: duplicate query name "q" (also queries[2])`,
			`queries[3].stages[1]: duplicate stage name "a" (also queries[3].stages[0])`,
		}},
		{"1.1 definition fields", def(frL(
			frM("name", "tick", "partitioner", frM("kind", "tick")),
			frM("name", "tock", "partitioner", frM("kind", "tick", "millis", Int(0))),
			frM("name", "h", "partitioner", frM("kind", "hash", "millis", Int(5))),
		), frL(
			frM("name", "p", "schema", "int", "owner", "nobody"),
		), frL(
			frM("name", "mb", "kind", "microbatch", "sources", frL(frM("depot", "tick", "stage", "s", "start_from", "middle")),
				"stages", frStrs("s"), "max_records", Int(0), "interval_ms", Int(-1)),
			frM("name", "st", "kind", "stream", "sources", frL(frM("depot", "tick", "stage", "s", "start_from", Int(-3))),
				"stages", frStrs("s"), "max_records", Int(10), "interval_ms", Int(10)),
		)), []string{
			"depots[0].partitioner.millis: required field is missing: the tick period in milliseconds",
			"depots[1].partitioner.millis: is 0; the tick period must be from 1 to 86400000 milliseconds",
			"depots[2].partitioner.millis: only a tick partitioner takes millis",
			`pstates[0].owner: unknown topology "nobody"; declared topologies: "mb", "st"`,
			"topologies[0].interval_ms: is -1; it must be from 0 to 3600000",
			"topologies[0].max_records: is 0; it must be from 1 to 1000000",
			`topologies[0].sources[0].start_from: must be "beginning", "end" or an offset (an int >= 0), not "middle"`,
			"topologies[1].interval_ms: only microbatch topologies take interval_ms",
			"topologies[1].max_records: only microbatch topologies take max_records",
			`topologies[1].sources[0].start_from: must be "beginning", "end" or an offset (an int >= 0), not -3`,
		}},
		{"bad module name", def(frL(), frL(), frL(), "name", "9lives"), []string{
			`name: name "9lives" has '9' at byte 0; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'`}},
		{"depot problems", def(frL(
			frM("name", "a b", "partitioner", frM("kind", "hash")),
			frM("name", Int(3), "partitioner", frM("kind", "hash")),
			frDepot("x", "roundrobin"),
			frDepot("x", "random"),
			frM("name", "y"),
			frM("name", "z", "partitioner", frM("kind", "random", "key", P().Key(String("k")).Value())),
			frM("name", "w", "partitioner", frM("kind", "hash", "key", P().Key(String("k")).Set(Int(1)).Value())),
			frM("name", "v", "partitioner", frM("kind", "hash", "key", String("k"))),
			frDepot("d8", "hash"), frDepot("d9", "hash"), frDepot("x", "hash"),
		), frL(), frL()), []string{
			`depots[0].name: name "a b" has ' ' at byte 1; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'`,
			"depots[1].name: must be a string, not int",
			`depots[2].partitioner.kind: unknown depot partitioner "roundrobin"; use "hash", "random", "disallow" or "tick"`,
			`depots[3].name: duplicate depot name "x" (also depots[2])`,
			`depots[4].partitioner: required field is missing; use {"kind": "hash"}, {"kind": "random"} or {"kind": "disallow"}`,
			"depots[5].partitioner.key: only a hash partitioner takes a key path",
			"depots[6].partitioner.key: path step 1 (set(1)): a select path cannot end with a terminal; terminals (set, remove, incr, append, prepend, merge) are for transforms",
			"depots[7].partitioner.key: not a path: path: a path is a list of steps, not string",
			`depots[10].name: duplicate depot name "x" (also depots[2])`,
		}},
		{"pstate problems", def(frL(), frL(
			frM("name", "dup", "schema", "int"),
			frM("name", "dup", "schema", "int", "global", "yes"),
			frM("name", "noschema"),
			frM("name", "s", "schema", "integer"),
		), frL()), []string{
			"pstates[1].global: must be a bool, not string",
			`pstates[1].name: duplicate PState name "dup" (also pstates[0])`,
			"pstates[2].schema: required field is missing",
			`pstates[3].schema: unknown leaf type "integer"; use "any", "bool", "int", "float", "string" or "bytes", or a map {"type": ...} for a collection`,
		}},
		{"schema: top-level set", schemaDef(frM("type", "set", "elem", "int")), []string{
			"pstates[0].schema: the top level of a PState must be a map, a record or a leaf, not a set; put the set under a map key or a record field"}},
		{"schema: top-level map subindexed", schemaDef(frM("type", "map", "key", "int", "val", "int", "subindexed", true)), []string{
			`pstates[0].schema.subindexed: the top-level map is always stored one key per entry; remove "subindexed"`}},
		{"schema: float keys and set of maps", schemaDef(frM("type", "map", "key", "float", "val",
			frM("type", "set", "elem", frM("type", "map", "key", "int", "val", "int")))), []string{
			"pstates[0].schema.key: map keys cannot be floats (NaN and -0.0 make them ambiguous); use int or string",
			`pstates[0].schema.val.elem: set elements must be of a leaf type (any, bool, int, string or bytes), not "map"`}},
		{"schema: subindexed inside inline", schemaDef(frM("type", "map", "key", "string", "val",
			frM("type", "list", "elem", frM("type", "map", "key", "int", "val", "int", "subindexed", true)))), []string{
			`pstates[0].schema.val.elem.subindexed: a subindexed map cannot sit inside a map, set or list that is not subindexed; mark that one subindexed too, or move this map to a record field or directly under the top-level map`}},
		{"schema: subindexed in record under top map is fine", schemaDef(frM("type", "map", "key", "string", "val",
			frM("type", "record", "fields", frL(frL(String("f"), frM("type", "set", "elem", "string", "subindexed", true)))))), nil},
		{"schema: nested subindexed is fine", schemaDef(frM("type", "map", "key", "string", "val",
			frM("type", "map", "key", "int", "subindexed", true, "val", frM("type", "list", "elem", "int", "subindexed", true)))), nil},
		{"schema: subindexed leaf and record", schemaDef(frM("type", "record", "subindexed", true, "fields", frL(
			frL(String("a"), frM("type", "int", "subindexed", true))))), []string{
			`pstates[0].schema.fields["a"].subindexed: only map, set and list schemas can be subindexed, not "int"`,
			`pstates[0].schema.subindexed: only map, set and list schemas can be subindexed, not "record"`}},
		{"schema: record problems", schemaDef(frM("type", "map", "key", "string", "val", frM("type", "record", "fields", frL(
			frL(String("a"), String("int")), frL(String("a"), String("string")), frL(String(""), String("int")), String("b"))))), []string{
			`pstates[0].schema.val.fields[1]: field "a" is declared twice`,
			"pstates[0].schema.val.fields[2]: a record field needs a name",
			`pstates[0].schema.val.fields[3]: a record field is a [name, schema] pair with a string name, not "b"`}},
		{"schema: empty record", schemaDef(frM("type", "record", "fields", frL())), []string{
			"pstates[0].schema.fields: a record needs at least one field"}},
		{"schema: structure", schemaDef(frM("type", "map", "key", "string", "value", "int", "elem", "int")), []string{
			`pstates[0].schema.elem: unknown field; a map schema fields are "key", "subindexed", "type", "val"`,
			"pstates[0].schema.val: required field is missing",
			`pstates[0].schema.value: unknown field; a map schema fields are "key", "subindexed", "type", "val"`}},
		{"schema: unknown type", schemaDef(frM("type", "tree")), []string{
			`pstates[0].schema.type: unknown schema type "tree"; use one of "any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"`}},
		{"schema: no type", schemaDef(frM("elem", "int")), []string{
			`pstates[0].schema.type: required field is missing; use one of "any", "bool", "int", "float", "string", "bytes", "map", "set", "list", "record"`}},
		{"topology problems", def(frL(events), frL(okPS), frL(
			frM("name", "a", "kind", "microbatch", "sources", frL(frSrc("events", "s")), "stages", frStrs("s")),
			frM("name", "b", "kind", "stream", "sources", frL(), "stages", frL()),
			frM("name", "c", "kind", "batch", "sources", frL(frSrc("events", "s"), frSrc("events", "s"), frSrc("events", "t")),
				"stages", frStrs("s", "s", "bad name")),
			frM("name", "a", "kind", "stream", "sources", frL(frSrc("events", "s")), "stages", frL(Int(1), String("s"))),
			frM("name", "d", "sources", frL(frM("depot", "events")), "stages", frStrs("s")),
		)), []string{
			`topologies[1].sources: a topology needs at least one source {"depot": ..., "stage": ...}`,
			"topologies[1].stages: a topology needs at least one stage",
			`topologies[2].kind: unknown topology kind "batch"; use "stream" or "microbatch"`,
			"topologies[2].sources[1]: duplicate source (also topologies[2].sources[0])",
			`topologies[2].sources[2].stage: unknown stage "t"; stages of topology "c": "s", "s", "bad name"`,
			`topologies[2].stages[1]: duplicate stage name "s" (also topologies[2].stages[0])`,
			`topologies[2].stages[2]: name "bad name" has ' ' at byte 3; use letters, digits, '_', '-', '.' and '$', starting with a letter, '_' or '$'`,
			`topologies[3].name: duplicate topology name "a" (also topologies[0])`,
			"topologies[3].stages[0]: a stage is named by a string, not int",
			"topologies[4].kind: required field is missing",
			"topologies[4].sources[0].stage: required field is missing",
		}},
		{"no depots declared", def(frL(), frL(), frL(okTopo)), []string{
			`topologies[0].sources[0].depot: unknown depot "events"; the module declares no depots`}},
	}
}

func TestFrameModuleDef_Problems(t *testing.T) {
	cases := frDefProblemCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseModuleDef(tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var de *DefError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T), want a *DefError", err, err)
			}
			var got []string
			for _, p := range de.Problems {
				got = append(got, p.Where+": "+p.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
		})
	}
}

func TestFrameModuleDef_ErrorText(t *testing.T) {
	one := &DefError{Problems: []DefProblem{{"depots[0].name", "a name cannot be empty"}}}
	if got, want := one.Error(), "abi: module definition: depots[0].name: a name cannot be empty"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	two := &DefError{Problems: []DefProblem{{"a", "x"}, {"b", "y"}}}
	if got, want := two.Error(), "abi: module definition has 2 problems:\n\ta: x\n\tb: y"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := DecodeModuleDef([]byte{0xc1}); err == nil || !strings.HasPrefix(err.Error(),
		"abi: module definition: definition: not valid MessagePack: abi: decode:") {
		t.Errorf("bad msgpack: %v", err)
	}
}

func TestFrameModuleDef_ValidateStruct(t *testing.T) {
	// A definition built in Go (as the Go SDK does) is validated with the
	// same rules and messages.
	d := &ModuleDef{
		Depots: []DepotDef{{Name: "", Partitioner: DepotPartitioner{Kind: DepotHash}}},
		PStates: []PStateDef{
			{Name: "p", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString}}},
			{Name: "q", Schema: Schema{Type: SchemaRecord, Fields: []FieldDef{{Name: "\xff", Schema: Schema{Type: SchemaInt}}}}},
			{Name: "r"},
		},
	}
	err := d.Validate()
	want := "abi: module definition has 4 problems:\n" +
		"\tdepots[0].name: a name cannot be empty\n" +
		"\tpstates[0].schema.val: required field is missing\n" +
		"\tpstates[1].schema.fields[\"\\xff\"]: field name is not valid UTF-8\n" +
		"\tpstates[2].schema.type: required field is missing; use one of \"any\", \"bool\", \"int\", \"float\", \"string\", \"bytes\", \"map\", \"set\", \"list\", \"record\""
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestFrameModuleDef_SchemaDepth(t *testing.T) {
	s := String("int")
	for range MaxSchemaDepth {
		s = frM("type", "list", "elem", s)
	}
	def := frM("depots", frL(), "topologies", frL(), "pstates", frL(frM("name", "p", "schema", frM("type", "map", "key", "int", "val", s))))
	_, err := ParseModuleDef(def)
	if err == nil || !strings.Contains(err.Error(), "schema nests deeper than 32") {
		t.Errorf("deep schema: %v", err)
	}
}
