package abi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The golden frame vectors in testdata/frames/ are what every SDK's frame
// codec is tested against; testdata/frames/README.md describes their
// format. They are generated from the tables below by
//
//	go test ./abi -run TestFrameGolden -update-frames
//
// TestFrameGolden_UpToDate fails when a file differs from what the tables
// generate. TestFrameGolden_Vectors reads the files back with a JSON
// parser that shares nothing with the generator, builds each frame from
// its described fields, and checks encode and decode against the hex.
// TestFrame_HandEncoded (frame_test.go) checks the encoder against hex
// worked out by hand from ABI.md.
var updateFrames = flag.Bool("update-frames", false, "rewrite the golden frame vectors in testdata/frames/")

const frGoldenDir = "testdata/frames"

// ---- ordered JSON writing ----

type frKV struct {
	k string
	v string // raw JSON
}

type frObj []frKV

func (o frObj) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(frJSONString(kv.k))
		b.WriteString(": ")
		b.WriteString(kv.v)
	}
	b.WriteByte('}')
	return b.String()
}

func frJSONString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // lint:allow-panic test helper; strings always marshal
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func frJSONArray(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

func frNum(n int64) string   { return strconv.FormatInt(n, 10) }
func frU64(n uint64) string  { return `"` + strconv.FormatUint(n, 10) + `"` }
func frI64(n int64) string   { return `"` + strconv.FormatInt(n, 10) + `"` }
func frStrJ(s string) string { return frJSONString(s) }

// frValueJSON writes v in the typed JSON form of testdata/README.md.
func frValueJSON(v Value) string {
	switch v.Kind() {
	case KindNil:
		return `{"nil": true}`
	case KindBool:
		b, _ := v.AsBool()
		return `{"bool": ` + strconv.FormatBool(b) + `}`
	case KindInt:
		i, _ := v.AsInt()
		return `{"int": "` + strconv.FormatInt(i, 10) + `"}`
	case KindFloat:
		f, _ := v.AsFloat()
		return `{"float": "` + v.String() + `", "bits": "` + fmt.Sprintf("%016x", math.Float64bits(f)) + `"}`
	case KindString:
		s, _ := v.AsString()
		return `{"str": ` + frJSONString(s) + `}`
	case KindBytes:
		b, _ := v.AsBytes()
		return `{"bytes_hex": "` + hex.EncodeToString(b) + `"}`
	case KindList, KindSet:
		items := make([]string, v.Len())
		for i, it := range v.Items() {
			items[i] = frValueJSON(it)
		}
		return `{"` + v.Kind().String() + `": ` + frJSONArray(items) + `}`
	case KindMap:
		items := make([]string, v.Len())
		for i, e := range v.Entries() {
			items[i] = "[" + frValueJSON(e.Key) + ", " + frValueJSON(e.Val) + "]"
		}
		return `{"map": ` + frJSONArray(items) + `}`
	}
	return `{"nil": true}`
}

func frDetailJSON(d ErrorDetail) string {
	o := frObj{}
	if d.Kind != "" {
		o = append(o, frKV{"kind", frStrJ(d.Kind)})
	}
	o = append(o, frKV{"message", frStrJ(d.Message)})
	if d.Stack != "" {
		o = append(o, frKV{"stack", frStrJ(d.Stack)})
	}
	return o.String()
}

// ---- the vector tables ----

type frInitVector struct {
	name string
	f    InitFrame
}

func frInitVectors() []frInitVector {
	return []frInitVector{
		{"deploy-time describe call", *frSampleInit()},
		{"instance start", InitFrame{HostMajor: 1, HostMinor: 0, Tasks: 64, TimeUnixNano: 0, Seed: 0}},
		{"large values", InitFrame{HostMajor: 1, HostMinor: 7, Tasks: 1 << 20, TimeUnixNano: -1, Seed: math.MaxUint64}},
	}
}

type frBatchVector struct {
	name string
	f    BatchFrame
}

func frBatchVectors() []frBatchVector {
	return []frBatchVector{
		{"empty batch", BatchFrame{Header: BatchHeader{BatchID: 1, Partition: 0, Topology: 2, TimeUnixNano: 1_700_000_000_000_000_000, Seed: 7}}},
		{"a record and a hop", *frSampleBatch()},
		{"retried records of every value kind", BatchFrame{
			Header: BatchHeader{BatchID: math.MaxUint64, Partition: 1023, Attempt: 4, Topology: 65534,
				TimeUnixNano: 1_700_000_001_000_000_000, Seed: 0xfedcba9876543210},
			Items: []BatchItem{
				{Kind: ItemRecord, Stage: 2, Depot: 1, Attempt: 4, SourcePartition: 1023, Offset: math.MaxInt64,
					EventTimeUnixNano: 1_700_000_000_999_999_999, Payload: frEnc(Map(
						entry("b", Bytes([]byte{0, 0xff})), entry("f", Float(1.5)), entry("n", Nil()),
						entry("s", Set(Int(3), Int(1), Int(2))), entry("t", Bool(true)), entry("i", Int(-200))))},
				{Kind: ItemRecord, Stage: 0, Depot: 0, Attempt: 0, SourcePartition: 1023, Offset: 0,
					EventTimeUnixNano: 0, Payload: frEnc(String(strings.Repeat("x", 40)))},
			},
		}},
		{"1.1 query invocation: INVOKE and a hop", BatchFrame{
			Header: BatchHeader{Flags: BatchQuery, BatchID: 17, Partition: 3, Topology: 1,
				TimeUnixNano: 1_700_000_002_000_000_000, Seed: 99},
			Items: []BatchItem{
				{Kind: ItemInvoke, Stage: 0, Depot: NoDepot, SourcePartition: 3, EventTimeUnixNano: 1_700_000_002_000_000_000,
					Payload: frEnc(List(String("alice"), Int(10)))},
				{Kind: ItemHop, Stage: 1, Depot: NoDepot, SourcePartition: 0, EventTimeUnixNano: 1_700_000_002_000_000_000,
					Payload: frEnc(Map(entry("id", String("alice"))))},
			},
		}},
		{"1.1 query hop batch", BatchFrame{
			Header: BatchHeader{Flags: BatchQuery, BatchID: 17, Partition: 0, Topology: 0, TimeUnixNano: 5, Seed: 1},
			Items: []BatchItem{
				{Kind: ItemHop, Stage: 2, Depot: NoDepot, SourcePartition: 3, EventTimeUnixNano: 5, Payload: frEnc(Nil())},
			},
		}},
	}
}

type frEffectsVector struct {
	name string
	f    EffectsFrame
}

func frEffectsVectors() []frEffectsVector {
	detail := ErrorDetail{Kind: "ValueError", Message: "no field \"to\"", Stack: "stage index, line 12"}
	return []frEffectsVector{
		{"empty flush", EffectsFrame{}},
		{"a typical item", *frSampleEffects()},
		{"APPEND at each ack level", EffectsFrame{Effects: []Effect{
			NewAppend(0, 0, AckNone, false, String("a")),
			NewAppend(0, 1, AckAppendAck, false, Map(entry("k", Int(1)))),
			NewAppend(0, 2, AckAck, true, List(Int(1), Int(2))),
		}}},
		{"HOP with each partitioner", EffectsFrame{Effects: []Effect{
			NewHopHash(3, 1, Int(12345), String("p")),
			NewHop(3, 2, PartitionAll, Map()),
			NewHop(3, 2, PartitionGlobal, Nil()),
			NewHop(3, 0, PartitionOrigin, Bool(false)),
			NewHop(3, 4, PartitionShuffle, Bytes([]byte("raw"))),
			NewHopDirect(3, 1, 63, List(String("x"))),
		}}},
		{"TRANSFORM paths", EffectsFrame{Effects: []Effect{
			NewTransform(0, 0, P().Key(String("bob")).Key(String("followers")).Append(String("alice"))),
			NewTransform(0, 1, P().Key(String("bob")).NilToVal(Int(0)).Incr(1)),
			NewTransform(0, 1, P().Key(String("carol")).Remove()),
			NewTransform(0, 2, P().Key(Int(7)).SortedRange(Int(10), Int(20), RangeOpts{IncludeTo: true, Limit: 5}).MapVals().Set(Nil())),
		}}},
		{"EMIT an ack return", EffectsFrame{Effects: []Effect{
			NewEmit(0, EmitAckReturn, Map(entry("followers", Int(12)))),
			NewOutcome(0, OutcomeOK, ErrorDetail{}),
		}}},
		{"LOG at each level", EffectsFrame{Effects: []Effect{
			NewLog(0, LogDebug, "debug"),
			NewLog(0, LogInfo, "héllo, wörld"),
			NewLog(1, LogWarn, ""),
			NewLog(NoItem, LogError, "no item"),
		}}},
		{"each OUTCOME", EffectsFrame{Effects: []Effect{
			NewOutcome(0, OutcomeOK, ErrorDetail{}),
			NewOutcome(1, OutcomePoison, ErrorDetail{Kind: "poison", Message: "record is not a map"}),
			NewOutcome(2, OutcomeRetry, detail),
			NewOutcome(3, OutcomeRetry, ErrorDetail{Message: "only a message"}),
		}}},
		{"DEFINE in squall_init", *frSampleDefineEffects()},
		{"ERROR of a failed call", EffectsFrame{Effects: []Effect{
			NewLog(NoItem, LogError, "cannot decode item 2"),
			NewError(2, ErrorDetail{Kind: "sdk", Message: "unknown stage 9 in topology 0"}),
		}}},
		{"1.1 AGGREGATE into a PState with each aggregator", EffectsFrame{Effects: []Effect{
			NewAggregate(0, 2, AggCount, []Value{String("alice")}, Nil()),
			NewAggregate(0, 2, AggSum, []Value{String("alice"), String("total")}, Int(-25)),
			NewAggregate(0, 3, AggSum, nil, Float(0.5)),
			NewAggregate(0, 4, AggMin, []Value{Int(7)}, String("b")),
			NewAggregate(0, 4, AggMax, []Value{Int(7)}, Int(1<<40)),
			NewAggregate(0, 5, AggSet, []Value{String("tags")}, String("go")),
			NewAggregate(0, 5, AggList, []Value{String("log"), Int(2026)}, Map(entry("amount", Int(5)))),
			NewAggregate(0, 6, AggMap, []Value{String("alice")}, List(String("bob"), Int(3))),
			NewAggregateTopN(0, 7, []Value{String("top")}, Int(500), String("carol"), 10),
			NewOutcome(0, OutcomeOK, ErrorDetail{}),
		}}},
		{"1.1 query result: EMIT QUERY_RESULT and AGGREGATE into it", EffectsFrame{Effects: []Effect{
			NewEmit(0, EmitQueryResult, Map(entry("balance", Int(100)))),
			NewAggregate(0, QueryResultTarget, AggSum, []Value{String("balance")}, Int(5)),
			NewAggregateTopN(0, QueryResultTarget, []Value{String("top")}, Float(2.5), Int(9), 3),
			NewOutcome(0, OutcomeOK, ErrorDetail{}),
		}}},
	}
}

type frQueryVector struct {
	name string
	f    QueryFrame
}

func frQueryVectors() []frQueryVector {
	return []frQueryVector{
		{"select and select one", *frSampleQuery()},
		{"ranges and views", QueryFrame{Queries: []Query{
			{Op: QuerySelect, PState: 2, Path: P().Key(String("alice")).SortedRange(Nil(), Int(100), RangeOpts{Reverse: true, Limit: 10}).Value()},
			{Op: QuerySelectOne, PState: 2, Path: P().Key(String("alice")).View(ViewCount).Value()},
			{Op: QuerySelect, PState: 0, Path: P().MustKey(String("bob")).All().Filter(FilterGe, Int(3)).Value()},
		}}},
		{"1.1 INVOKE next to a select", QueryFrame{Queries: []Query{
			NewInvoke(1, String("alice"), Int(10)),
			{Op: QuerySelectOne, PState: 0, Path: P().Key(String("alice")).Value()},
			NewInvoke(0),
		}}},
	}
}

type frResponseVector struct {
	name string
	f    QueryResponse
}

func frResponseVectors() []frResponseVector {
	return []frResponseVector{
		{"ok, not found, error", *frSampleResponse()},
		{"no results", QueryResponse{}},
		{"select lists", QueryResponse{Results: []Result{
			{Status: ResultOK, Value: List(String("alice"), String("carol"))},
			{Status: ResultOK, Value: List()},
			{Status: int32(EMULTI), Message: "SELECT_ONE navigated to 3 values"},
			{Status: int32(EPATH), Message: ""},
		}}},
		{"1.1 INVOKE results", QueryResponse{Results: []Result{
			{Status: ResultOK, Value: Map(entry("balance", Int(100)), entry("transfers", List()))},
			{Status: int32(ETIMEDOUT), Message: "query account ran past its deadline of 10ms"},
			{Status: int32(EFAILED), Message: "query account: stage read on partition 3: boom"},
			{Status: int32(EINVAL), Message: "query account takes 2 arguments (id, limit); got 1"},
		}}},
	}
}

type frDefVector struct {
	name string
	d    ModuleDef
}

func frDefVectors() []frDefVector {
	return []frDefVector{
		{"minimal", ModuleDef{}},
		{"social", *frSampleDef()},
		{"every schema form", ModuleDef{
			Depots: []DepotDef{
				{Name: "events", Partitioner: DepotPartitioner{Kind: DepotHash}},
				{Name: "$internal", Partitioner: DepotPartitioner{Kind: DepotDisallow}},
			},
			PStates: []PStateDef{
				{Name: "counter", Schema: Schema{Type: SchemaInt}, Global: true},
				{Name: "profiles", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaBytes}, Val: &Schema{Type: SchemaRecord, Fields: []FieldDef{
					{Name: "name", Schema: Schema{Type: SchemaString}},
					{Name: "score", Schema: Schema{Type: SchemaFloat}},
					{Name: "active", Schema: Schema{Type: SchemaBool}},
					{Name: "tags", Schema: Schema{Type: SchemaSet, Elem: &Schema{Type: SchemaString}}},
					{Name: "history", Schema: Schema{Type: SchemaList, Elem: &Schema{Type: SchemaAny}, Subindexed: true}},
					{Name: "by_day", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaInt}, Subindexed: true,
						Val: &Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString}, Val: &Schema{Type: SchemaInt}}}},
				}}}},
			},
			Topologies: []TopologyDef{
				{Name: "ingest", Kind: TopologyStream, Sources: []SourceDef{{Depot: "events", Stage: "parse"}, {Depot: "$internal", Stage: "replay"}},
					Stages: []string{"parse", "replay", "count"}},
				{Name: "audit", Kind: TopologyStream, Sources: []SourceDef{{Depot: "events", Stage: "audit"}}, Stages: []string{"audit"}},
			},
		}},
		{"1.1 bank: tick depot, microbatch, owner, query", ModuleDef{
			Name: "bank",
			Depots: []DepotDef{
				{Name: "transfers", Partitioner: DepotPartitioner{Kind: DepotHash, Key: P().Key(String("from"))}},
				{Name: "deposits", Partitioner: DepotPartitioner{Kind: DepotHash, Key: P().Key(String("account"))}},
				{Name: "minute", Partitioner: DepotPartitioner{Kind: DepotTick, TickMillis: 60000}},
			},
			PStates: []PStateDef{
				{Name: "accounts", Owner: "bank", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString}, Val: &Schema{
					Type: SchemaRecord, Fields: []FieldDef{
						{Name: "balance", Schema: Schema{Type: SchemaInt}},
						{Name: "history", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaInt}, Val: &Schema{Type: SchemaAny}, Subindexed: true}},
					}}}},
				{Name: "stats", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString}, Val: &Schema{Type: SchemaAny}}},
			},
			Topologies: []TopologyDef{
				{Name: "bank", Kind: TopologyMicrobatch, Sources: []SourceDef{
					{Depot: "transfers", Stage: "debit"},
					{Depot: "deposits", Stage: "deposit", StartFrom: StartEnd},
					{Depot: "minute", Stage: "tick", StartFrom: StartOffset, StartOffset: 12},
				}, Stages: []string{"debit", "credit", "deposit", "tick"}, MaxRecords: 500, IntervalMillis: 100},
				{Name: "audit", Kind: TopologyStream, Sources: []SourceDef{{Depot: "transfers", Stage: "log", StartFrom: StartEnd}},
					Stages: []string{"log"}},
			},
			Queries: []QueryDef{
				{Name: "account", Args: []string{"id", "limit"}, Stages: []string{"start", "read"}},
				{Name: "total", Stages: []string{"fanout", "sum"}},
			},
		}},
	}
}

type frAggVector struct {
	name   string
	agg    Aggregator
	cur    Value
	keys   []Value
	v      Value
	n      int
	errMsg bool // the combination is an error
}

func frAggVectors() []frAggVector {
	pairs := func(ps ...[2]Value) Value {
		l := make([]Value, len(ps))
		for i, p := range ps {
			l[i] = List(p[0], p[1])
		}
		return List(l...)
	}
	pv := func(a, b Value) [2]Value { return [2]Value{a, b} }
	return []frAggVector{
		{name: "count from nil", agg: AggCount, cur: Nil(), v: Nil()},
		{name: "count", agg: AggCount, cur: Int(41), v: Nil()},
		{name: "count value not nil", agg: AggCount, cur: Int(1), v: Int(1), errMsg: true},
		{name: "sum ints", agg: AggSum, cur: Int(10), v: Int(-3)},
		{name: "sum from nil", agg: AggSum, cur: Nil(), v: Int(5)},
		{name: "sum int and float", agg: AggSum, cur: Int(1), v: Float(0.5)},
		{name: "sum floats", agg: AggSum, cur: Float(0.25), v: Float(0.5)},
		{name: "sum overflow", agg: AggSum, cur: Int(math.MaxInt64), v: Int(1), errMsg: true},
		{name: "sum of a string", agg: AggSum, cur: Int(1), v: String("1"), errMsg: true},
		{name: "sum into a string", agg: AggSum, cur: String("a"), v: Int(1), errMsg: true},
		{name: "min", agg: AggMin, cur: Int(3), v: Int(2)},
		{name: "min keeps", agg: AggMin, cur: Int(3), v: Int(4)},
		{name: "min int below float", agg: AggMin, cur: Float(-100), v: Int(5)},
		{name: "min from nil", agg: AggMin, cur: Nil(), v: String("x")},
		{name: "max strings", agg: AggMax, cur: String("apple"), v: String("banana")},
		{name: "max keeps", agg: AggMax, cur: Int(9), v: Int(-9)},
		{name: "set from nil", agg: AggSet, cur: Nil(), v: String("a")},
		{name: "set add", agg: AggSet, cur: Set(String("b"), String("c")), v: String("a")},
		{name: "set add present", agg: AggSet, cur: Set(String("a")), v: String("a")},
		{name: "set of a float", agg: AggSet, cur: Nil(), v: Float(1), errMsg: true},
		{name: "set into a list", agg: AggSet, cur: List(), v: Int(1), errMsg: true},
		{name: "list from nil", agg: AggList, cur: Nil(), v: Int(1)},
		{name: "list append", agg: AggList, cur: List(Int(1), Int(2)), v: Int(1)},
		{name: "map from nil", agg: AggMap, cur: Nil(), v: List(String("k"), Int(1))},
		{name: "map set", agg: AggMap, cur: Map(entry("a", Int(1)), entry("k", Int(0))), v: List(String("k"), Int(1))},
		{name: "map not a pair", agg: AggMap, cur: Nil(), v: List(String("k")), errMsg: true},
		{name: "top-n from nil", agg: AggTopN, cur: Nil(), v: List(Int(10), String("a")), n: 2},
		{name: "top-n insert and cut", agg: AggTopN, cur: pairs(pv(Int(10), String("a")), pv(Int(5), String("b"))),
			v: List(Int(7), String("c")), n: 2},
		{name: "top-n below the cut", agg: AggTopN, cur: pairs(pv(Int(10), String("a")), pv(Int(5), String("b"))),
			v: List(Int(1), String("c")), n: 2},
		{name: "top-n raises an id", agg: AggTopN, cur: pairs(pv(Int(10), String("a")), pv(Int(5), String("b"))),
			v: List(Int(20), String("b")), n: 3},
		{name: "top-n never lowers an id", agg: AggTopN, cur: pairs(pv(Int(10), String("a")), pv(Int(5), String("b"))),
			v: List(Int(1), String("a")), n: 3},
		{name: "top-n ties by id", agg: AggTopN, cur: pairs(pv(Int(5), String("b"))), v: List(Int(5), String("a")), n: 3},
		{name: "top-n n 0", agg: AggTopN, cur: Nil(), v: List(Int(1), String("a")), n: 0, errMsg: true},
		{name: "group-by into nil", agg: AggCount, cur: Nil(), keys: []Value{String("alice"), String("n")}, v: Nil()},
		{name: "group-by into a map", agg: AggSum, cur: Map(entry("alice", Map(entry("n", Int(2)))), entry("bob", Int(1))),
			keys: []Value{String("alice"), String("n")}, v: Int(3)},
		{name: "group-by through a leaf", agg: AggSum, cur: Map(entry("bob", Int(1))), keys: []Value{String("bob"), String("n")},
			v: Int(3), errMsg: true},
	}
}

type frPartitionVector struct {
	name string
	key  Value
}

var frPartitionTasks = []uint32{1, 2, 8, 64, 1024}

func frPartitionVectors() []frPartitionVector {
	return []frPartitionVector{
		{"nil", Nil()},
		{"int 0", Int(0)},
		{"int 1", Int(1)},
		{"int -1", Int(-1)},
		{"int 1000000", Int(1000000)},
		{"string empty", String("")},
		{"string a", String("a")},
		{"string q", String("q")},
		{"string alice", String("alice")},
		{"string bob", String("bob")},
		{"bytes", Bytes([]byte{1, 2, 3})},
		{"list", List(String("user"), Int(42))},
		{"map", Map(entry("id", Int(7)))},
	}
}

// ---- generation ----

// frFile joins the lines of a golden file. A vector whose name starts
// with "1.1 " tests an ABI 1.1 addition: it gets "minor": 1 after its
// name, so that SDKs that target 1.0 can skip it.
func frFile(header string, lines []string) string {
	for i, l := range lines {
		if strings.HasPrefix(l, `{"name": "1.1 `) {
			j := strings.Index(l, `", `) + 3
			lines[i] = l[:j] + `"minor": 1, ` + l[j:]
		}
	}
	return "# " + header + " Generated by abi/frame_golden_test.go; see README.md.\n" + strings.Join(lines, "\n") + "\n"
}

func frAppendHex(t testing.TB, f interface{ Append([]byte) ([]byte, error) }) string {
	b, err := f.Append(nil)
	if err != nil {
		t.Fatalf("encoding a golden vector: %v", err)
	}
	return hex.EncodeToString(b)
}

func frBatchItemJSON(it BatchItem) string {
	v, err := Decode(it.Payload)
	if err != nil {
		panic(err) // lint:allow-panic test helper; golden payloads are valid
	}
	return frObj{
		{"kind", frStrJ(it.Kind.String())}, {"stage", frNum(int64(it.Stage))}, {"depot", frNum(int64(it.Depot))},
		{"attempt", frNum(int64(it.Attempt))}, {"source_partition", frNum(int64(it.SourcePartition))},
		{"offset", frU64(it.Offset)}, {"event_time_unix_nano", frI64(it.EventTimeUnixNano)},
		{"payload", frValueJSON(v)},
	}.String()
}

func frEffectJSON(e Effect) string {
	o := frObj{{"op", frStrJ(e.Op.String())}, {"flags", frNum(int64(e.Flags))}, {"target", frNum(int64(e.Target))},
		{"item", frNum(int64(e.Item))}}
	switch e.Op {
	case EffectAppend:
		o = append(o, frKV{"ack", frStrJ(e.AckLevel().String())}, frKV{"local", strconv.FormatBool(e.Local())},
			frKV{"record", frValueJSON(e.Value)})
	case EffectHop:
		o = append(o, frKV{"partitioner", frStrJ(e.Partitioner().String())})
		switch e.Partitioner() {
		case PartitionHash:
			o = append(o, frKV{"key", frValueJSON(e.Key)})
		case PartitionDirect:
			o = append(o, frKV{"partition", frNum(int64(e.Partition))})
		}
		o = append(o, frKV{"payload", frValueJSON(e.Value)})
	case EffectTransform:
		p, err := ParsePath(e.Value)
		if err != nil {
			panic(err) // lint:allow-panic test helper; golden paths are valid
		}
		o = append(o, frKV{"path", frValueJSON(e.Value)}, frKV{"path_text", frStrJ(p.String())})
	case EffectEmit:
		stream := "ACK_RETURN"
		if e.Target == EmitQueryResult {
			stream = "QUERY_RESULT"
		}
		o = append(o, frKV{"stream", frStrJ(stream)}, frKV{"value", frValueJSON(e.Value)})
	case EffectAggregate:
		o = append(o, frKV{"aggregator", frStrJ(e.Aggregator().String())}, frKV{"keys", frValueJSON(e.Key)},
			frKV{"value", frValueJSON(e.Value)})
		if e.Aggregator() == AggTopN {
			o = append(o, frKV{"n", frNum(e.N)})
		}
	case EffectLog:
		o = append(o, frKV{"level", frStrJ(e.LogLevel().String())}, frKV{"text", frStrJ(e.Text)})
	case EffectOutcome:
		o = append(o, frKV{"outcome", frStrJ(e.Outcome().String())})
		if e.Outcome() != OutcomeOK {
			o = append(o, frKV{"detail", frDetailJSON(e.Detail)})
		}
	case EffectDefine:
		o = append(o, frKV{"definition", frValueJSON(e.Value)})
	case EffectError:
		o = append(o, frKV{"detail", frDetailJSON(e.Detail)})
	}
	return o.String()
}

func frQueryJSON(q Query) string {
	if q.Op == QueryInvoke {
		return frObj{{"op", frStrJ(q.Op.String())}, {"query", frNum(int64(q.PState))}, {"args", frValueJSON(q.Path)}}.String()
	}
	p, err := ParsePath(q.Path)
	if err != nil {
		panic(err) // lint:allow-panic test helper; golden paths are valid
	}
	return frObj{{"op", frStrJ(q.Op.String())}, {"pstate", frNum(int64(q.PState))}, {"path", frValueJSON(q.Path)},
		{"path_text", frStrJ(p.String())}}.String()
}

func frResultJSON(r Result) string {
	o := frObj{{"status", frStrJ(ResultStatusString(r.Status))}, {"code", frNum(int64(r.Status))}}
	switch {
	case r.Status == ResultOK:
		o = append(o, frKV{"value", frValueJSON(r.Value)})
	case r.Status < 0:
		o = append(o, frKV{"message", frStrJ(r.Message)})
	}
	return o.String()
}

var frErrNames = []struct {
	err  error
	name string
}{
	{ErrTruncated, "truncated"}, {ErrFrameVersion, "frame_version"}, {ErrFrameKind, "frame_kind"},
	{ErrReserved, "reserved"}, {ErrUnknownCode, "unknown_code"}, {ErrTooLarge, "too_large"},
	{ErrTrailing, "trailing"}, {ErrBadValue, "bad_value"}, {ErrSequence, "sequence"},
}

func frErrName(err error) string {
	for _, e := range frErrNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "?"
}

// frGenerate returns the contents of every golden file by name.
func frGenerate(t testing.TB) map[string]string {
	files := map[string]string{}
	var lines []string
	for _, v := range frInitVectors() {
		f := v.f
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"fields", frObj{
			{"flags", frNum(int64(f.Flags))}, {"host_major", frNum(int64(f.HostMajor))}, {"host_minor", frNum(int64(f.HostMinor))},
			{"tasks", frNum(int64(f.Tasks))}, {"time_unix_nano", frI64(f.TimeUnixNano)}, {"seed", frU64(f.Seed)},
		}.String()}, {"hex", frStrJ(hex.EncodeToString(f.Append(nil)))}}.String())
	}
	files["init.jsonl"] = frFile("Init frames (ABI.md §6.1).", lines)

	lines = nil
	for _, v := range frBatchVectors() {
		h := v.f.Header
		items := make([]string, len(v.f.Items))
		for i, it := range v.f.Items {
			items[i] = frBatchItemJSON(it)
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"header", frObj{
			{"flags", frNum(int64(h.Flags))}, {"batch_id", frU64(h.BatchID)}, {"partition", frNum(int64(h.Partition))},
			{"attempt", frNum(int64(h.Attempt))}, {"topology", frNum(int64(h.Topology))},
			{"time_unix_nano", frI64(h.TimeUnixNano)}, {"seed", frU64(h.Seed)},
		}.String()}, {"items", frJSONArray(items)}, {"hex", frStrJ(frAppendHex(t, &v.f))}}.String())
	}
	files["batch.jsonl"] = frFile("Batch frames (ABI.md §6.2).", lines)

	lines = nil
	for _, v := range frEffectsVectors() {
		effs := make([]string, len(v.f.Effects))
		for i, e := range v.f.Effects {
			effs[i] = frEffectJSON(e)
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"effects", frJSONArray(effs)},
			{"hex", frStrJ(frAppendHex(t, &v.f))}}.String())
	}
	files["effects.jsonl"] = frFile("Effects frames (ABI.md §6.3).", lines)

	lines = nil
	for _, v := range frQueryVectors() {
		qs := make([]string, len(v.f.Queries))
		for i, q := range v.f.Queries {
			qs[i] = frQueryJSON(q)
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"queries", frJSONArray(qs)},
			{"hex", frStrJ(frAppendHex(t, &v.f))}}.String())
	}
	files["query.jsonl"] = frFile("Query frames (ABI.md §6.5).", lines)

	lines = nil
	for _, v := range frResponseVectors() {
		rs := make([]string, len(v.f.Results))
		for i, r := range v.f.Results {
			rs[i] = frResultJSON(r)
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"results", frJSONArray(rs)},
			{"hex", frStrJ(frAppendHex(t, &v.f))}}.String())
	}
	files["response.jsonl"] = frFile("Response frames (ABI.md §6.6).", lines)

	lines = nil
	for _, v := range frDefVectors() {
		if err := v.d.Validate(); err != nil {
			t.Fatalf("golden definition %q: %v", v.name, err)
		}
		b, err := v.d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"definition", frValueJSON(v.d.Value())},
			{"hex", frStrJ(hex.EncodeToString(b))}}.String())
	}
	files["module_def.jsonl"] = frFile("Module definitions, canonical form (ABI.md §5).", lines)

	lines = nil
	for _, c := range frDefProblemCases() {
		if c.want == nil {
			continue
		}
		ps := make([]string, len(c.want))
		for i, w := range c.want {
			ps[i] = frStrJ(w)
		}
		lines = append(lines, frObj{{"name", frStrJ(c.name)}, {"definition", frValueJSON(c.in)},
			{"problems", frJSONArray(ps)}}.String())
	}
	files["module_def_invalid.jsonl"] = frFile("Invalid module definitions and the problems the Go host reports (ABI.md §5.5).", lines)

	lines = nil
	for _, c := range frDecodeCases(t) {
		if c.err == nil {
			continue
		}
		lines = append(lines, frObj{{"name", frStrJ(c.name)}, {"frame", frStrJ(c.frame.String())},
			{"hex", frStrJ(hex.EncodeToString(c.in))}, {"error", frStrJ(frErrName(c.err))},
			{"index", frNum(int64(c.index))}, {"offset", frNum(int64(c.offset))},
			{"errno", frStrJ((&FrameError{Err: c.err}).Errno().String())}, {"go_error", frStrJ(c.msg)}}.String())
	}
	files["invalid.jsonl"] = frFile("Frames every decoder must reject (ABI.md §6.7).", lines)

	lines = nil
	for _, v := range frPartitionVectors() {
		enc := frEnc(v.key)
		ps := make([]string, len(frPartitionTasks))
		for i, n := range frPartitionTasks {
			ps[i] = "[" + frNum(int64(n)) + ", " + frNum(int64(KeyPartition(enc, n))) + "]"
		}
		lines = append(lines, frObj{{"name", frStrJ(v.name)}, {"key", frValueJSON(v.key)}, {"hex", frStrJ(hex.EncodeToString(enc))},
			{"hash", frU64(HashKey(enc))}, {"partitions", frJSONArray(ps)}}.String())
	}
	files["partition.jsonl"] = frFile("Key partitioning: HashKey and KeyPartition (ABI.md §4.3).", lines)

	lines = nil
	for _, v := range frAggVectors() {
		got, err := AggregateAt(v.cur, v.keys, v.agg, v.v, v.n)
		if (err != nil) != v.errMsg {
			t.Fatalf("aggregate vector %q: error %v", v.name, err)
		}
		o := frObj{{"name", frStrJ(v.name)}, {"aggregator", frStrJ(v.agg.String())}, {"code", frNum(int64(v.agg))},
			{"current", frValueJSON(v.cur)}, {"keys", frValueJSON(List(v.keys...))}, {"value", frValueJSON(v.v)}}
		if v.agg == AggTopN {
			o = append(o, frKV{"n", frNum(int64(v.n))})
		}
		if err != nil {
			o = append(o, frKV{"error", "true"})
		} else {
			o = append(o, frKV{"result", frValueJSON(got)})
		}
		lines = append(lines, o.String())
	}
	files["aggregate.jsonl"] = frFile("Aggregators (ABI.md §15.3): combining value into current at keys gives result, or an error.", lines)
	return files
}

func TestFrameGolden_UpToDate(t *testing.T) {
	files := frGenerate(t)
	if *updateFrames {
		if err := os.MkdirAll(frGoldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(frGoldenDir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(frGoldenDir, name))
		if err != nil {
			t.Fatalf("%v (run: go test ./abi -run TestFrameGolden -update-frames)", err)
		}
		if string(got) != want {
			t.Errorf("%s is out of date: run go test ./abi -run TestFrameGolden -update-frames", name)
		}
	}
}

// ---- reading the files back, independently of the generator ----

// frLines returns the JSON objects of a golden file.
func frLines(t *testing.T, name string) []map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(frGoldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]json.RawMessage
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s line %d: %v", name, i+1, err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no vectors", name)
	}
	return out
}

// frJ is a decoder of one vector's JSON fields that records the first
// error.
type frJ struct {
	err error
}

func (j *frJ) fail(format string, args ...any) {
	if j.err == nil {
		j.err = fmt.Errorf(format, args...)
	}
}

func (j *frJ) obj(raw json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		j.fail("object: %v", err)
	}
	return m
}

func (j *frJ) arr(raw json.RawMessage) []json.RawMessage {
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		j.fail("array: %v", err)
	}
	return a
}

func (j *frJ) str(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		j.fail("string %s: %v", raw, err)
	}
	return s
}

func (j *frJ) num(raw json.RawMessage, bits int) uint64 {
	var n uint64
	if err := json.Unmarshal(raw, &n); err != nil || (bits < 64 && n >= 1<<bits) {
		j.fail("u%d %s: %v", bits, raw, err)
	}
	return n
}

func (j *frJ) inum(raw json.RawMessage) int64 {
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		j.fail("int %s: %v", raw, err)
	}
	return n
}

func (j *frJ) u64s(raw json.RawMessage) uint64 {
	n, err := strconv.ParseUint(j.str(raw), 10, 64)
	if err != nil {
		j.fail("u64 string %s: %v", raw, err)
	}
	return n
}

func (j *frJ) i64s(raw json.RawMessage) int64 {
	n, err := strconv.ParseInt(j.str(raw), 10, 64)
	if err != nil {
		j.fail("i64 string %s: %v", raw, err)
	}
	return n
}

func (j *frJ) boolean(raw json.RawMessage) bool {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		j.fail("bool %s: %v", raw, err)
	}
	return b
}

// value reads a typed JSON value.
func (j *frJ) value(raw json.RawMessage) Value {
	m := j.obj(raw)
	if len(m) == 0 {
		j.fail("empty typed value %s", raw)
		return Nil()
	}
	switch {
	case m["nil"] != nil:
		return Nil()
	case m["bool"] != nil:
		return Bool(j.boolean(m["bool"]))
	case m["int"] != nil:
		return Int(j.i64s(m["int"]))
	case m["float"] != nil:
		bits, err := strconv.ParseUint(j.str(m["bits"]), 16, 64)
		if err != nil {
			j.fail("float bits: %v", err)
		}
		return Float(math.Float64frombits(bits))
	case m["str"] != nil:
		return String(j.str(m["str"]))
	case m["bytes_hex"] != nil:
		b, err := hex.DecodeString(j.str(m["bytes_hex"]))
		if err != nil {
			j.fail("bytes_hex: %v", err)
		}
		return Bytes(b)
	case m["list"] != nil || m["set"] != nil:
		src := m["list"]
		if m["set"] != nil {
			src = m["set"]
		}
		raws := j.arr(src)
		vs := make([]Value, len(raws))
		for i, r := range raws {
			vs[i] = j.value(r)
		}
		if m["set"] != nil {
			return Set(vs...)
		}
		return List(vs...)
	case m["map"] != nil:
		var es []MapEntry
		for _, r := range j.arr(m["map"]) {
			kv := j.arr(r)
			if len(kv) != 2 {
				j.fail("map entry %s", r)
				continue
			}
			es = append(es, MapEntry{Key: j.value(kv[0]), Val: j.value(kv[1])})
		}
		return Map(es...)
	}
	j.fail("unknown typed value %s", raw)
	return Nil()
}

func (j *frJ) detail(raw json.RawMessage) ErrorDetail {
	m := j.obj(raw)
	d := ErrorDetail{Message: j.str(m["message"])}
	if m["kind"] != nil {
		d.Kind = j.str(m["kind"])
	}
	if m["stack"] != nil {
		d.Stack = j.str(m["stack"])
	}
	return d
}

// frCode maps a spec name to its code through the String methods.
func frCode[T ~uint8](j *frJ, raw json.RawMessage, max T) T {
	name := j.str(raw)
	for c := T(0); c <= max; c++ {
		if fmt.Sprint(c) == name {
			return c
		}
	}
	j.fail("unknown name %q", name)
	return 0
}

func (j *frJ) effect(raw json.RawMessage) Effect {
	m := j.obj(raw)
	e := Effect{
		Op:     frCode(j, m["op"], EffectAggregate),
		Target: uint16(j.num(m["target"], 16)),
		Item:   uint32(j.num(m["item"], 32)),
	}
	flags := uint8(j.num(m["flags"], 8))
	switch e.Op {
	case EffectAppend:
		e.Flags = uint8(frCode(j, m["ack"], AckAck))
		if j.boolean(m["local"]) {
			e.Flags |= AppendLocal
		}
		e.Value = j.value(m["record"])
	case EffectHop:
		p := frCode(j, m["partitioner"], PartitionDirect)
		e.Flags = uint8(p)
		switch p {
		case PartitionHash:
			e.Key = j.value(m["key"])
		case PartitionDirect:
			e.Partition = uint32(j.num(m["partition"], 32))
		}
		e.Value = j.value(m["payload"])
	case EffectTransform:
		e.Value = j.value(m["path"])
	case EffectEmit:
		switch j.str(m["stream"]) {
		case "ACK_RETURN":
		case "QUERY_RESULT":
			if e.Target != EmitQueryResult {
				j.fail("stream QUERY_RESULT with target %d", e.Target)
			}
		default:
			j.fail("unknown stream %s", m["stream"])
		}
		e.Value = j.value(m["value"])
	case EffectAggregate:
		a, ok := ParseAggregator(j.str(m["aggregator"]))
		if !ok {
			j.fail("unknown aggregator %s", m["aggregator"])
		}
		e.Flags = uint8(a)
		e.Key = j.value(m["keys"])
		e.Value = j.value(m["value"])
		if a == AggTopN {
			e.N = j.inum(m["n"])
		}
	case EffectLog:
		e.Flags = uint8(frCode(j, m["level"], LogError))
		e.Text = j.str(m["text"])
	case EffectOutcome:
		e.Flags = uint8(frCode(j, m["outcome"], OutcomeRetry))
		if m["detail"] != nil {
			e.Detail = j.detail(m["detail"])
		}
	case EffectDefine:
		e.Value = j.value(m["definition"])
	case EffectError:
		e.Detail = j.detail(m["detail"])
	}
	if e.Flags != flags {
		j.fail("effect %s: flags %d do not match the named fields (%d)", e.Op, flags, e.Flags)
	}
	return e
}

func frHexBytes(t *testing.T, j *frJ, raw json.RawMessage) []byte {
	b, err := hex.DecodeString(j.str(raw))
	if err != nil {
		t.Fatalf("hex: %v", err)
	}
	return b
}

// frCheckEncoding checks that f encodes to want and that decoding want
// gives a frame equal to f.
func frCheckEncoding[F any](t *testing.T, f *F, want []byte, appendFn func(*F) ([]byte, error),
	decode func([]byte) (*F, error), equal func(a, b *F) bool) {
	t.Helper()
	got, err := appendFn(f)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encode\n got %x\nwant %x", got, want)
	}
	g, err := decode(want)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !equal(f, g) {
		t.Errorf("decode gives %+v, want %+v", g, f)
	}
}

func TestFrameGolden_Vectors(t *testing.T) {
	t.Run("init", func(t *testing.T) {
		for _, m := range frLines(t, "init.jsonl") {
			j := &frJ{}
			fm := j.obj(m["fields"])
			f := &InitFrame{Flags: InitFlags(j.num(fm["flags"], 16)), HostMajor: uint16(j.num(fm["host_major"], 16)),
				HostMinor: uint16(j.num(fm["host_minor"], 16)), Tasks: uint32(j.num(fm["tasks"], 32)),
				TimeUnixNano: j.i64s(fm["time_unix_nano"]), Seed: j.u64s(fm["seed"])}
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			frCheckEncoding(t, f, want, func(f *InitFrame) ([]byte, error) { return f.Append(nil), nil }, DecodeInit,
				func(a, b *InitFrame) bool { return *a == *b })
		}
	})
	t.Run("batch", func(t *testing.T) {
		for _, m := range frLines(t, "batch.jsonl") {
			j := &frJ{}
			hm := j.obj(m["header"])
			f := &BatchFrame{Header: BatchHeader{Flags: uint16(j.num(hm["flags"], 16)), BatchID: j.u64s(hm["batch_id"]),
				Partition: uint32(j.num(hm["partition"], 32)), Attempt: uint32(j.num(hm["attempt"], 32)),
				Topology: uint16(j.num(hm["topology"], 16)), TimeUnixNano: j.i64s(hm["time_unix_nano"]), Seed: j.u64s(hm["seed"])}}
			for _, raw := range j.arr(m["items"]) {
				im := j.obj(raw)
				payload, err := Encode(j.value(im["payload"]))
				if err != nil {
					t.Fatal(err)
				}
				kind := ItemKind(0)
				for _, k := range []ItemKind{ItemRecord, ItemHop, ItemInvoke} {
					if k.String() == j.str(im["kind"]) {
						kind = k
					}
				}
				f.Items = append(f.Items, BatchItem{Kind: kind, Stage: uint16(j.num(im["stage"], 16)),
					Depot: uint16(j.num(im["depot"], 16)), Attempt: uint16(j.num(im["attempt"], 16)),
					SourcePartition: uint32(j.num(im["source_partition"], 32)), Offset: j.u64s(im["offset"]),
					EventTimeUnixNano: j.i64s(im["event_time_unix_nano"]), Payload: payload})
			}
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			frCheckEncoding(t, f, want, func(f *BatchFrame) ([]byte, error) { return f.Append(nil) }, DecodeBatch, frBatchEqual)
		}
	})
	t.Run("effects", func(t *testing.T) {
		for _, m := range frLines(t, "effects.jsonl") {
			j := &frJ{}
			f := &EffectsFrame{}
			for _, raw := range j.arr(m["effects"]) {
				f.Effects = append(f.Effects, j.effect(raw))
			}
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			frCheckEncoding(t, f, want, func(f *EffectsFrame) ([]byte, error) { return f.Append(nil) }, DecodeEffects, frEffectsEqual)
		}
	})
	t.Run("query", func(t *testing.T) {
		for _, m := range frLines(t, "query.jsonl") {
			j := &frJ{}
			f := &QueryFrame{}
			for _, raw := range j.arr(m["queries"]) {
				qm := j.obj(raw)
				if j.str(qm["op"]) == "INVOKE" {
					f.Queries = append(f.Queries, Query{Op: QueryInvoke, PState: uint16(j.num(qm["query"], 16)), Path: j.value(qm["args"])})
					continue
				}
				op := QuerySelect
				if j.str(qm["op"]) == "SELECT_ONE" {
					op = QuerySelectOne
				}
				path := j.value(qm["path"])
				if p, err := ParsePath(path); err != nil || p.String() != j.str(qm["path_text"]) {
					t.Errorf("path %v: text %q, err %v", path, qm["path_text"], err)
				}
				f.Queries = append(f.Queries, Query{Op: op, PState: uint16(j.num(qm["pstate"], 16)), Path: path})
			}
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			frCheckEncoding(t, f, want, func(f *QueryFrame) ([]byte, error) { return f.Append(nil) }, DecodeQuery, frQueryEqual)
		}
	})
	t.Run("response", func(t *testing.T) {
		for _, m := range frLines(t, "response.jsonl") {
			j := &frJ{}
			f := &QueryResponse{}
			for _, raw := range j.arr(m["results"]) {
				rm := j.obj(raw)
				r := Result{Status: int32(j.inum(rm["code"]))}
				if ResultStatusString(r.Status) != j.str(rm["status"]) {
					t.Errorf("status %s does not match code %d", rm["status"], r.Status)
				}
				if rm["value"] != nil {
					r.Value = j.value(rm["value"])
				}
				if rm["message"] != nil {
					r.Message = j.str(rm["message"])
				}
				f.Results = append(f.Results, r)
			}
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			frCheckEncoding(t, f, want, func(f *QueryResponse) ([]byte, error) { return f.Append(nil) }, DecodeResponse, frResponseEqual)
		}
	})
	t.Run("module_def", func(t *testing.T) {
		for _, m := range frLines(t, "module_def.jsonl") {
			j := &frJ{}
			v := j.value(m["definition"])
			want := frHexBytes(t, j, m["hex"])
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			if got := frEnc(v); !bytes.Equal(got, want) {
				t.Errorf("%s: encode\n got %x\nwant %x", m["name"], got, want)
			}
			d, err := DecodeModuleDef(want)
			if err != nil {
				t.Fatalf("%s: %v", m["name"], err)
			}
			if got, _ := d.Encode(); !bytes.Equal(got, want) {
				t.Errorf("%s: the parsed definition re-encodes differently", m["name"])
			}
		}
	})
	t.Run("module_def_invalid", func(t *testing.T) {
		for _, m := range frLines(t, "module_def_invalid.jsonl") {
			j := &frJ{}
			v := j.value(m["definition"])
			var want []string
			for _, p := range j.arr(m["problems"]) {
				want = append(want, j.str(p))
			}
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			_, err := ParseModuleDef(v)
			var de *DefError
			if !errors.As(err, &de) {
				t.Fatalf("%s: %v", m["name"], err)
			}
			var got []string
			for _, p := range de.Problems {
				got = append(got, p.Where+": "+p.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: problems\n got %q\nwant %q", m["name"], got, want)
			}
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, m := range frLines(t, "invalid.jsonl") {
			j := &frJ{}
			in := frHexBytes(t, j, m["hex"])
			kind := FrameKind(0)
			for k := FrameInit; k <= FrameResponse; k++ {
				if k.String() == j.str(m["frame"]) {
					kind = k
				}
			}
			index, offset := int(j.inum(m["index"])), int(j.inum(m["offset"]))
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			err := frDecode(kind, in)
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("%s: got %v, want a *FrameError", m["name"], err)
			}
			if frErrName(err) != j.str(m["error"]) || fe.Index != index || fe.Offset != offset ||
				fe.Errno().String() != j.str(m["errno"]) || err.Error() != j.str(m["go_error"]) {
				t.Errorf("%s: got %s %d %d %v %q", m["name"], frErrName(err), fe.Index, fe.Offset, fe.Errno(), err)
			}
		}
	})
	t.Run("aggregate", func(t *testing.T) {
		for _, m := range frLines(t, "aggregate.jsonl") {
			j := &frJ{}
			agg, ok := ParseAggregator(j.str(m["aggregator"]))
			if !ok || int64(agg) != j.inum(m["code"]) {
				t.Fatalf("%s: aggregator %s code %s", m["name"], m["aggregator"], m["code"])
			}
			n := 0
			if m["n"] != nil {
				n = int(j.inum(m["n"]))
			}
			got, err := AggregateAt(j.value(m["current"]), j.value(m["keys"]).Items(), agg, j.value(m["value"]), n)
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
			switch {
			case m["error"] != nil && err == nil:
				t.Errorf("%s: got %v, want an error", m["name"], got)
			case m["error"] == nil && err != nil:
				t.Errorf("%s: %v", m["name"], err)
			case m["error"] == nil && !Equal(got, j.value(m["result"])):
				t.Errorf("%s: got %v, want %v", m["name"], got, j.value(m["result"]))
			}
		}
	})
	t.Run("partition", func(t *testing.T) {
		for _, m := range frLines(t, "partition.jsonl") {
			j := &frJ{}
			key := frEnc(j.value(m["key"]))
			if got := hex.EncodeToString(key); got != j.str(m["hex"]) {
				t.Errorf("%s: key encodes as %s", m["name"], got)
			}
			if got := HashKey(key); got != j.u64s(m["hash"]) {
				t.Errorf("%s: hash %d", m["name"], got)
			}
			for _, raw := range j.arr(m["partitions"]) {
				pair := j.arr(raw)
				tasks, want := uint32(j.num(pair[0], 32)), uint32(j.num(pair[1], 32))
				if got := KeyPartition(key, tasks); got != want {
					t.Errorf("%s: partition of %d is %d, want %d", m["name"], tasks, got, want)
				}
			}
			if j.err != nil {
				t.Fatalf("%s: %v", m["name"], j.err)
			}
		}
	})
}
