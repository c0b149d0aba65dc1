package abi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// ---- sample frames shared by the tests and the fuzz seeds ----

func frSampleInit() *InitFrame {
	return &InitFrame{Flags: InitDescribe, HostMajor: 1, HostMinor: 0, Tasks: 8,
		TimeUnixNano: 1_700_000_000_000_000_000, Seed: 0x0123456789abcdef}
}

func frEnc(v Value) []byte {
	b, err := Encode(v)
	if err != nil {
		panic(err) // lint:allow-panic test helper; sample values always encode
	}
	return b
}

func frSampleBatch() *BatchFrame {
	return &BatchFrame{
		Header: BatchHeader{BatchID: 42, Partition: 3, Attempt: 1, Topology: 0,
			TimeUnixNano: 1_700_000_000_123_456_789, Seed: 99},
		Items: []BatchItem{
			{Kind: ItemRecord, Stage: 0, Depot: 0, Attempt: 0, SourcePartition: 3, Offset: 1000,
				EventTimeUnixNano: 1_700_000_000_000_000_000,
				Payload:           frEnc(Map(MapEntry{String("from"), String("alice")}, MapEntry{String("to"), String("bob")}))},
			{Kind: ItemHop, Stage: 1, Depot: NoDepot, Attempt: 2, SourcePartition: 5,
				EventTimeUnixNano: 1_700_000_000_100_000_000, Payload: frEnc(List(String("bob"), Int(-1)))},
		},
	}
}

func frSampleEffects() *EffectsFrame {
	return &EffectsFrame{Effects: []Effect{
		NewAppend(0, 1, AckAck, false, Map(MapEntry{String("user"), String("bob")})),
		NewHopHash(0, 1, String("bob"), Map(MapEntry{String("from"), String("alice")})),
		NewHopDirect(0, 2, 7, Int(5)),
		NewHop(0, 1, PartitionAll, Nil()),
		NewTransform(0, 0, P().Key(String("bob")).Key(String("alice")).Set(Bool(true))),
		NewEmit(0, EmitAckReturn, String("ok")),
		NewLog(0, LogInfo, "indexed alice -> bob"),
		NewOutcome(0, OutcomeOK, ErrorDetail{}),
		NewOutcome(1, OutcomePoison, ErrorDetail{Kind: "poison", Message: "bad record"}),
		NewLog(NoItem, LogWarn, "batch done"),
	}}
}

func frSampleDefineEffects() *EffectsFrame {
	return &EffectsFrame{Effects: []Effect{
		NewLog(NoItem, LogDebug, "defining"),
		NewDefine(frSampleDef().Value()),
	}}
}

func frSampleQuery() *QueryFrame {
	return &QueryFrame{Queries: []Query{
		{Op: QuerySelectOne, PState: 1, Path: P().Key(String("bob")).Value()},
		{Op: QuerySelect, PState: 0, Path: P().Key(String("bob")).MapKeys().Value()},
	}}
}

func frSampleResponse() *QueryResponse {
	return &QueryResponse{Results: []Result{
		{Status: ResultOK, Value: Int(12)},
		{Status: ResultNotFound},
		{Status: int32(EWRONGPART), Message: "key \"carol\" belongs to partition 6, not 3; hop there first"},
	}}
}

func frSampleDef() *ModuleDef {
	return &ModuleDef{
		Name: "social",
		Depots: []DepotDef{
			{Name: "follows", Partitioner: DepotPartitioner{Kind: DepotHash, Key: P().Key(String("to"))}},
			{Name: "audit", Partitioner: DepotPartitioner{Kind: DepotRandom}},
		},
		PStates: []PStateDef{
			{Name: "followers", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString},
				Val: &Schema{Type: SchemaSet, Elem: &Schema{Type: SchemaString}, Subindexed: true}}},
			{Name: "follower_count", Schema: Schema{Type: SchemaMap, Key: &Schema{Type: SchemaString}, Val: &Schema{Type: SchemaInt}}},
		},
		Topologies: []TopologyDef{{
			Name: "core", Kind: TopologyStream,
			Sources: []SourceDef{{Depot: "follows", Stage: "on_follow"}},
			Stages:  []string{"on_follow", "index"},
		}},
	}
}

// ---- equality of decoded frames ----

func frEffectEqual(a, b *Effect) bool {
	return a.Op == b.Op && a.Flags == b.Flags && a.Target == b.Target && a.Item == b.Item &&
		Equal(a.Key, b.Key) && a.Partition == b.Partition && Equal(a.Value, b.Value) &&
		a.Text == b.Text && a.Detail == b.Detail && a.N == b.N
}

func frEffectsEqual(a, b *EffectsFrame) bool {
	if len(a.Effects) != len(b.Effects) {
		return false
	}
	for i := range a.Effects {
		if !frEffectEqual(&a.Effects[i], &b.Effects[i]) {
			return false
		}
	}
	return true
}

func frBatchEqual(a, b *BatchFrame) bool {
	if a.Header != b.Header || len(a.Items) != len(b.Items) {
		return false
	}
	for i := range a.Items {
		x, y := a.Items[i], b.Items[i]
		if !bytes.Equal(x.Payload, y.Payload) || x.Kind != y.Kind || x.Stage != y.Stage || x.Depot != y.Depot ||
			x.Attempt != y.Attempt || x.SourcePartition != y.SourcePartition || x.Offset != y.Offset ||
			x.EventTimeUnixNano != y.EventTimeUnixNano {
			return false
		}
	}
	return true
}

func frQueryEqual(a, b *QueryFrame) bool {
	if len(a.Queries) != len(b.Queries) {
		return false
	}
	for i := range a.Queries {
		x, y := a.Queries[i], b.Queries[i]
		if x.Op != y.Op || x.PState != y.PState || !Equal(x.Path, y.Path) {
			return false
		}
	}
	return true
}

func frResponseEqual(a, b *QueryResponse) bool {
	if len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		x, y := a.Results[i], b.Results[i]
		if x.Status != y.Status || !Equal(x.Value, y.Value) || x.Message != y.Message {
			return false
		}
	}
	return true
}

// ---- round trips ----

func TestFrame_RoundTrip(t *testing.T) {
	t.Run("init", func(t *testing.T) {
		f := frSampleInit()
		b := f.Append(nil)
		if len(b) != InitFrameSize {
			t.Fatalf("init frame is %d bytes, want %d", len(b), InitFrameSize)
		}
		g, err := DecodeInit(b)
		if err != nil {
			t.Fatal(err)
		}
		if *g != *f {
			t.Fatalf("decoded %+v, want %+v", g, f)
		}
	})
	t.Run("batch", func(t *testing.T) {
		f := frSampleBatch()
		b, err := f.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := DecodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		if !frBatchEqual(f, g) {
			t.Fatalf("decoded %+v, want %+v", g, f)
		}
	})
	for name, f := range map[string]*EffectsFrame{"effects": frSampleEffects(), "define": frSampleDefineEffects(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			b, err := f.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			g, err := DecodeEffects(b)
			if err != nil {
				t.Fatal(err)
			}
			if !frEffectsEqual(f, g) {
				t.Fatalf("decoded %+v, want %+v", g, f)
			}
		})
	}
	t.Run("query", func(t *testing.T) {
		f := frSampleQuery()
		b, err := f.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := DecodeQuery(b)
		if err != nil {
			t.Fatal(err)
		}
		if !frQueryEqual(f, g) {
			t.Fatalf("decoded %+v, want %+v", g, f)
		}
	})
	t.Run("response", func(t *testing.T) {
		f := frSampleResponse()
		b, err := f.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		g, err := DecodeResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !frResponseEqual(f, g) {
			t.Fatalf("decoded %+v, want %+v", g, f)
		}
	})
}

// TestFrame_HandEncoded checks the encoders against bytes written out by
// hand from ABI.md §6, so that the golden vectors are not only what the
// encoder happens to produce.
func TestFrame_HandEncoded(t *testing.T) {
	initHex := "01" + "01" + "0100" + "0100" + "0000" + "08000000" + "00000000" +
		"00002a36fe9c9717" + "efcdab8967452301"
	if got := frHexOf(frSampleInit().Append(nil)); got != initHex {
		t.Errorf("init frame\n got %s\nwant %s", got, initHex)
	}

	// One APPEND of the int 5 to depot 2, ack level ACK, LOCAL, for item 7.
	eff := &EffectsFrame{Effects: []Effect{NewAppend(7, 2, AckAck, true, Int(5))}}
	effHex := "01" + "03" + "0000" + "01000000" + // header: version, kind, flags, count
		"01000000" + "01" + "06" + "0200" + "07000000" + // body len 1, APPEND, ACK|LOCAL, depot 2, item 7
		"05"
	b, err := eff.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := frHexOf(b); got != effHex {
		t.Errorf("effects frame\n got %s\nwant %s", got, effHex)
	}

	// A DIRECT hop of nil to stage 1 on partition 3, then an OK outcome.
	hop := &EffectsFrame{Effects: []Effect{NewHopDirect(0, 1, 3, Nil()), NewOutcome(0, OutcomeOK, ErrorDetail{})}}
	hopHex := "01030000" + "02000000" +
		"05000000" + "02" + "06" + "0100" + "00000000" + "03000000" + "c0" +
		"00000000" + "06" + "00" + "0000" + "00000000"
	if b, err = hop.Append(nil); err != nil {
		t.Fatal(err)
	}
	if got := frHexOf(b); got != hopHex {
		t.Errorf("hop frame\n got %s\nwant %s", got, hopHex)
	}

	// A batch of one RECORD item holding true.
	batch := &BatchFrame{Header: BatchHeader{BatchID: 1, Partition: 2, Attempt: 0, Topology: 1, TimeUnixNano: 5, Seed: 6},
		Items: []BatchItem{{Kind: ItemRecord, Stage: 0, Depot: 3, SourcePartition: 2, Offset: 9, EventTimeUnixNano: 4, Payload: []byte{0xc3}}}}
	batchHex := "01020000" + "01000000" + "0100000000000000" + "02000000" + "00000000" + "0100" + "0000" + "00000000" +
		"0500000000000000" + "0600000000000000" +
		"01000000" + "01" + "00" + "0000" + "0300" + "0000" + "02000000" + "0900000000000000" + "0400000000000000" + "c3"
	if b, err = batch.Append(nil); err != nil {
		t.Fatal(err)
	}
	if got := frHexOf(b); got != batchHex {
		t.Errorf("batch frame\n got %s\nwant %s", got, batchHex)
	}

	// A SELECT_ONE of path [[1, "a"]] on PState 4, answered NOT_FOUND.
	q := &QueryFrame{Queries: []Query{{Op: QuerySelectOne, PState: 4, Path: P().Key(String("a")).Value()}}}
	qHex := "01040000" + "01000000" + "05000000" + "02" + "00" + "0400" + "91" + "92" + "01" + "a161"
	if b, err = q.Append(nil); err != nil {
		t.Fatal(err)
	}
	if got := frHexOf(b); got != qHex {
		t.Errorf("query frame\n got %s\nwant %s", got, qHex)
	}
	r := &QueryResponse{Results: []Result{{Status: ResultNotFound}, {Status: int32(EPATH), Message: "x"}}}
	rHex := "01050000" + "02000000" + "00000000" + "01000000" + "01000000" + "f7ffffff" + "78"
	if b, err = r.Append(nil); err != nil {
		t.Fatal(err)
	}
	if got := frHexOf(b); got != rHex {
		t.Errorf("response frame\n got %s\nwant %s", got, rHex)
	}
}

func frHexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// ---- decode errors ----

func frMustAppend(t testing.TB, f interface{ Append([]byte) ([]byte, error) }) []byte {
	t.Helper()
	b, err := f.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frPatch(b []byte, off int, bs ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], bs)
	return c
}

func frPatch32(b []byte, off int, v uint32) []byte {
	c := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

// frOneEffect is an effects frame holding e.
func frOneEffect(t testing.TB, e Effect) []byte {
	t.Helper()
	return frMustAppend(t, &EffectsFrame{Effects: []Effect{e}})
}

// frRawEffect is an effects frame of one effect with the given header
// fields and body, written without the encoder's checks.
func frRawEffect(op, flags byte, target uint16, item uint32, body []byte) []byte {
	b := AppendEffectsHeader(nil, 1)
	b = appendU32(b, uint32(len(body)))
	b = append(b, op, flags)
	b = appendU16(b, target)
	b = appendU32(b, item)
	return append(b, body...)
}

// frRawResult is a response frame of one result.
func frRawResult(status int32, body []byte) []byte {
	b := appendFrameHeader(nil, FrameResponse, 0, 1)
	b = appendU32(b, uint32(len(body)))
	b = appendU32(b, uint32(status))
	return append(b, body...)
}

type frDecodeCase struct {
	name   string
	frame  FrameKind
	in     []byte
	err    error
	index  int
	offset int
	msg    string // the exact message (FrameError.Error)
}

func frDecodeCases(t testing.TB) []frDecodeCase {
	initB := frSampleInit().Append(nil)
	batch := frMustAppend(t, frSampleBatch())
	item0 := BatchHeaderSize
	item1 := item0 + ItemHeaderSize + len(frSampleBatch().Items[0].Payload)
	one := frOneEffect(t, NewAppend(0, 1, AckNone, false, Int(1)))
	query := frMustAppend(t, frSampleQuery())
	resp := frMustAppend(t, frSampleResponse())
	detail := frEnc(ErrorDetail{Message: "m"}.Value())
	return []frDecodeCase{
		// Header checks, common to every frame.
		{"empty", FrameEffects, nil, ErrTruncated, -1, 0,
			"abi: effects frame: header at byte 0: effects header needs 8 bytes, 0 left"},
		{"version", FrameEffects, frPatch(one, 0, 2), ErrFrameVersion, -1, 0,
			"abi: effects frame: header at byte 0: version 2; ABI v1 frames have version 1"},
		{"version only", FrameBatch, []byte{9}, ErrFrameVersion, -1, 0,
			"abi: batch frame: header at byte 0: version 9; ABI v1 frames have version 1"},
		{"kind", FrameEffects, frPatch(one, 1, byte(FrameBatch)), ErrFrameKind, -1, 1,
			"abi: effects frame: header at byte 1: kind byte 2 (batch), want 3 (effects)"},
		{"short header", FrameBatch, batch[:47], ErrTruncated, -1, 0,
			"abi: batch frame: header at byte 0: batch header needs 48 bytes, 47 left"},
		{"frame flags", FrameEffects, frPatch(one, 2, 1), ErrReserved, -1, 2,
			"abi: effects frame: header at byte 2: flags 0x1 set reserved bits"},
		{"count too large", FrameEffects, frPatch32(one, 4, 2), ErrTruncated, -1, 4,
			"abi: effects frame: header at byte 4: declares 2 effects but 13 bytes follow the header; each needs at least 12"},
		{"huge count", FrameBatch, frPatch32(batch, 4, 0xffffffff), ErrTruncated, -1, 4,
			"abi: batch frame: header at byte 4: declares 4294967295 items but " + itoa(int64(len(batch)-BatchHeaderSize)) + " bytes follow the header; each needs at least 32"},
		{"trailing", FrameEffects, append(append([]byte(nil), one...), 0), ErrTrailing, -1, 21,
			"abi: effects frame: header at byte 21: 1 bytes after the last effect"},

		// Init frame.
		{"init trailing", FrameInit, append(append([]byte(nil), initB...), 0), ErrTooLarge, -1, 0,
			"abi: init frame: header at byte 0: frame is 33 bytes; the limit is 32"},
		{"init flags", FrameInit, frPatch(initB, 2, 2), ErrReserved, -1, 2,
			"abi: init frame: header at byte 2: flags 0x2 set reserved bits"},
		{"init reserved", FrameInit, frPatch(initB, 12, 1), ErrReserved, -1, 12,
			"abi: init frame: header at byte 12: reserved u32 is 1"},

		// Batch frame.
		{"batch flags", FrameBatch, frPatch(batch, 2, 0, 1), ErrReserved, -1, 2,
			"abi: batch frame: header at byte 2: flags 0x100 set reserved bits"},
		{"batch reserved u16", FrameBatch, frPatch(batch, 26, 1), ErrReserved, -1, 26,
			"abi: batch frame: header at byte 26: reserved u16 is 1"},
		{"batch reserved u32", FrameBatch, frPatch(batch, 28, 1), ErrReserved, -1, 28,
			"abi: batch frame: header at byte 28: reserved u32 is 1"},
		{"item kind", FrameBatch, frPatch(batch, item1+4, 4), ErrUnknownCode, 1, item1 + 4,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1+4)) + ": unknown item kind 4; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)"},
		{"1.1 invoke outside a query batch", FrameBatch, frPatch(batch, item1+4, 3), ErrReserved, 1, item1 + 4,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1+4)) + ": an INVOKE item is allowed only in a QUERY batch"},
		{"1.1 record in a query batch", FrameBatch, frPatch(batch, 2, 1), ErrReserved, 0, item0 + 4,
			"abi: batch frame: item 0 at byte 52: a QUERY batch holds INVOKE and HOP items, not RECORD"},
		{"item flags", FrameBatch, frPatch(batch, item0+5, 0x80), ErrReserved, 0, item0 + 5,
			"abi: batch frame: item 0 at byte 53: item flags 0x80 set reserved bits"},
		{"record without depot", FrameBatch, frPatch(batch, item0+8, 0xff, 0xff), ErrReserved, 0, item0 + 8,
			"abi: batch frame: item 0 at byte 56: a RECORD item needs a depot index, not 0xFFFF"},
		{"hop with depot", FrameBatch, frPatch(batch, item1+8, 0, 0), ErrReserved, 1, item1 + 8,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1+8)) + ": a HOP item has depot 0xFFFF, not 0"},
		{"hop with offset", FrameBatch, frPatch(batch, item1+16, 1), ErrReserved, 1, item1 + 16,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1+16)) + ": a HOP item has offset 0, not 1"},
		{"empty payload", FrameBatch, frPatch32(frPatch32(batch[:item1], 4, 1), item0, 0), ErrBadValue, 0, item0,
			"abi: batch frame: item 0 at byte 48: empty payload; a payload is one MessagePack value"},
		{"payload too long", FrameBatch, frPatch32(batch, item1, 1000), ErrTruncated, 1, item1,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1)) + ": body length 1000 exceeds the " + itoa(int64(len(batch)-item1-ItemHeaderSize)) + " bytes left"},
		{"item header cut", FrameBatch, batch[:item1+20], ErrTruncated, 1, item1,
			"abi: batch frame: item 1 at byte " + itoa(int64(item1)) + ": item header needs 32 bytes, 20 left"},

		// Effects frame.
		{"unknown op", FrameEffects, frRawEffect(10, 0, 0, 0, nil), ErrUnknownCode, 0, 12,
			"abi: effects frame: effect 0 at byte 12: unknown effect op 10; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)"},
		{"op zero", FrameEffects, frRawEffect(0, 0, 0, 0, nil), ErrUnknownCode, 0, 12,
			"abi: effects frame: effect 0 at byte 12: unknown effect op 0; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)"},
		{"1.1 aggregator 0", FrameEffects, frRawEffect(9, 0, 0, 0, []byte{0x90, 0xc0}), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown aggregator 0; use 1 (COUNT) to 8 (TOP_N)"},
		{"1.1 aggregator 9", FrameEffects, frRawEffect(9, 9, 0, 0, []byte{0x90, 0xc0}), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown aggregator 9; use 1 (COUNT) to 8 (TOP_N)"},
		{"1.1 aggregate without item", FrameEffects, frRawEffect(9, 1, 0, NoItem, []byte{0x90, 0xc0}), ErrSequence, 0, 16,
			"abi: effects frame: effect 0 at byte 16: AGGREGATE needs an item index, not NoItem (0xFFFFFFFF)"},
		{"1.1 aggregate key path not a list", FrameEffects, frRawEffect(9, 1, 0, 0, []byte{0x01, 0xc0}), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: AGGREGATE key path must be a list, not int"},
		{"1.1 aggregate without value", FrameEffects, frRawEffect(9, 1, 0, 0, []byte{0x90}), ErrBadValue, 0, 21,
			"abi: effects frame: effect 0 at byte 21: AGGREGATE value: abi: decode: byte offset 0: unexpected end of input"},
		{"1.1 aggregate three values", FrameEffects, frRawEffect(9, 2, 0, 0, []byte{0x90, 0x01, 0x02}), ErrBadValue, 0, 22,
			"abi: effects frame: effect 0 at byte 22: AGGREGATE value: abi: decode: byte offset 1: trailing bytes after value (1 bytes)"},
		{"1.1 top-n without n", FrameEffects, frRawEffect(9, 8, 0, 0, []byte{0x90, 0x92, 0x01, 0x02}), ErrBadValue, 0, 24,
			"abi: effects frame: effect 0 at byte 24: AGGREGATE n: abi: decode: byte offset 0: unexpected end of input"},
		{"1.1 top-n with a string n", FrameEffects, frRawEffect(9, 8, 0, 0, []byte{0x90, 0x92, 0x01, 0x02, 0xa1, 0x61}), ErrBadValue, 0, 24,
			"abi: effects frame: effect 0 at byte 24: AGGREGATE n of TOP_N must be an int, not string"},
		{"append reserved flags", FrameEffects, frRawEffect(1, 0x08, 0, 0, []byte{1}), ErrReserved, 0, 13,
			"abi: effects frame: effect 0 at byte 13: APPEND flags 0x8 set reserved bits"},
		{"append ack 3", FrameEffects, frRawEffect(1, 0x03, 0, 0, []byte{1}), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: APPEND ack level 3 is undefined; use 0 (NONE), 1 (APPEND_ACK) or 2 (ACK)"},
		{"append without item", FrameEffects, frRawEffect(1, 0, 0, NoItem, []byte{1}), ErrSequence, 0, 16,
			"abi: effects frame: effect 0 at byte 16: APPEND needs an item index, not NoItem (0xFFFFFFFF)"},
		{"append empty body", FrameEffects, frRawEffect(1, 0, 0, 0, nil), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: APPEND record: abi: decode: byte offset 0: unexpected end of input"},
		{"append two values", FrameEffects, frRawEffect(1, 0, 0, 0, []byte{1, 2}), ErrBadValue, 0, 21,
			"abi: effects frame: effect 0 at byte 21: APPEND record: abi: decode: byte offset 1: trailing bytes after value (1 bytes)"},
		{"append bad msgpack", FrameEffects, frRawEffect(1, 0, 0, 0, []byte{0x92, 0x01, 0xc1}), ErrBadValue, 0, 22,
			"abi: effects frame: effect 0 at byte 22: APPEND record: abi: decode: byte offset 2: invalid byte 0xc1 (never used)"},
		{"body too long", FrameEffects, frPatch32(one, 8, 99), ErrTruncated, 0, 8,
			"abi: effects frame: effect 0 at byte 8: body length 99 exceeds the 1 bytes left"},
		{"hop partitioner 0", FrameEffects, frRawEffect(2, 0, 0, 0, []byte{0xc0}), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown HOP partitioner 0; use 1 (HASH) to 6 (DIRECT)"},
		{"hop partitioner 7", FrameEffects, frRawEffect(2, 7, 0, 0, []byte{0xc0}), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown HOP partitioner 7; use 1 (HASH) to 6 (DIRECT)"},
		{"hash hop without payload", FrameEffects, frRawEffect(2, 1, 0, 0, []byte{0xa1, 'k'}), ErrBadValue, 0, 22,
			"abi: effects frame: effect 0 at byte 22: HOP payload: abi: decode: byte offset 0: unexpected end of input"},
		{"hash hop bad key", FrameEffects, frRawEffect(2, 1, 0, 0, []byte{0xa2, 'k'}), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: HOP key: abi: decode: byte offset 0: truncated fixstr (need 2 bytes, have 1)"},
		{"direct hop short", FrameEffects, frRawEffect(2, 6, 0, 0, []byte{1, 0}), ErrTruncated, 0, 20,
			"abi: effects frame: effect 0 at byte 20: DIRECT HOP body starts with a u32 partition; it has 2 bytes"},
		{"direct hop trailing", FrameEffects, frRawEffect(2, 6, 0, 0, []byte{1, 0, 0, 0, 0xc0, 0xc0}), ErrBadValue, 0, 25,
			"abi: effects frame: effect 0 at byte 25: HOP payload: abi: decode: byte offset 1: trailing bytes after value (1 bytes)"},
		{"transform flags", FrameEffects, frRawEffect(3, 1, 0, 0, []byte{0x90}), ErrReserved, 0, 13,
			"abi: effects frame: effect 0 at byte 13: TRANSFORM flags are reserved, got 0x1"},
		{"emit without item", FrameEffects, frRawEffect(4, 0, 0, NoItem, []byte{0xc0}), ErrSequence, 0, 16,
			"abi: effects frame: effect 0 at byte 16: EMIT needs an item index, not NoItem (0xFFFFFFFF)"},
		{"log level", FrameEffects, frRawEffect(5, 4, 0, NoItem, []byte("x")), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown LOG level 4; use 0 (DEBUG) to 3 (ERROR)"},
		{"log target", FrameEffects, frRawEffect(5, 1, 3, NoItem, []byte("x")), ErrReserved, 0, 14,
			"abi: effects frame: effect 0 at byte 14: LOG target is reserved, got 3"},
		{"outcome code", FrameEffects, frRawEffect(6, 3, 0, 0, nil), ErrUnknownCode, 0, 13,
			"abi: effects frame: effect 0 at byte 13: unknown outcome 3; use 0 (OK), 1 (POISON) or 2 (RETRY)"},
		{"ok outcome with body", FrameEffects, frRawEffect(6, 0, 0, 0, []byte{0xc0}), ErrTrailing, 0, 20,
			"abi: effects frame: effect 0 at byte 20: an OK OUTCOME has an empty body, not 1 bytes"},
		{"poison without detail", FrameEffects, frRawEffect(6, 1, 0, 0, nil), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: OUTCOME error detail: abi: decode: byte offset 0: unexpected end of input"},
		{"detail not a map", FrameEffects, frRawEffect(6, 2, 0, 0, []byte{0xa1, 'm'}), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: OUTCOME error detail: an error detail is a map, not string"},
		{"detail without message", FrameEffects, frRawEffect(8, 0, 0, NoItem, frEnc(Map(entry("kind", String("k"))))), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: ERROR detail: error detail has no \"message\""},
		{"detail unknown field", FrameEffects, frRawEffect(8, 0, 0, NoItem, frEnc(Map(entry("message", String("m")), entry("code", Int(1))))), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: ERROR detail: unknown error detail field \"code\"; the fields are \"kind\", \"message\" and \"stack\""},
		{"detail message not string", FrameEffects, frRawEffect(8, 0, 0, NoItem, frEnc(Map(entry("message", Int(1))))), ErrBadValue, 0, 20,
			"abi: effects frame: effect 0 at byte 20: ERROR detail: error detail field \"message\" must be a string, not int"},
		{"outcome without item", FrameEffects, frRawEffect(6, 0, 0, NoItem, nil), ErrSequence, 0, 16,
			"abi: effects frame: effect 0 at byte 16: OUTCOME needs an item index, not NoItem (0xFFFFFFFF)"},
		{"define with item", FrameEffects, frRawEffect(7, 0, 0, 0, []byte{0x80}), ErrSequence, 0, 16,
			"abi: effects frame: effect 0 at byte 16: DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not 0"},
		{"define target", FrameEffects, frRawEffect(7, 0, 1, NoItem, []byte{0x80}), ErrReserved, 0, 14,
			"abi: effects frame: effect 0 at byte 14: DEFINE target is reserved, got 1"},
		{"error flags", FrameEffects, frRawEffect(8, 1, 0, NoItem, detail), ErrReserved, 0, 13,
			"abi: effects frame: effect 0 at byte 13: ERROR flags are reserved, got 0x1"},

		// Query frame.
		{"query op", FrameQuery, frPatch(query, 12, 4), ErrUnknownCode, 0, 12,
			"abi: query frame: query 0 at byte 12: unknown query op 4; use 1 (SELECT), 2 (SELECT_ONE) or 3 (INVOKE)"},
		{"query flags", FrameQuery, frPatch(query, 13, 1), ErrReserved, 0, 13,
			"abi: query frame: query 0 at byte 13: query flags 0x1 set reserved bits"},
		{"query path truncated", FrameQuery, frPatch32(query, 8, 0), ErrBadValue, 0, 16,
			"abi: query frame: query 0 at byte 16: path: abi: decode: byte offset 0: unexpected end of input"},

		// Response frame.
		{"result status", FrameResponse, frPatch32(resp, 12, 2), ErrUnknownCode, 0, 12,
			"abi: response frame: result 0 at byte 12: unknown result status 2; use 0 (OK), 1 (NOT_FOUND) or a negative errno"},
		{"not found with body", FrameResponse, frRawResult(ResultNotFound, []byte{0xc0}), ErrTrailing, 0, 16,
			"abi: response frame: result 0 at byte 16: a NOT_FOUND result has an empty body, not 1 bytes"},
		{"ok with bad value", FrameResponse, frRawResult(ResultOK, []byte{0xc1}), ErrBadValue, 0, 16,
			"abi: response frame: result 0 at byte 16: result: abi: decode: byte offset 0: invalid byte 0xc1 (never used)"},
		{"errno result with empty message", FrameResponse, frRawResult(int32(EPATH), nil), nil, 0, 0, ""},
	}
}

func frDecode(kind FrameKind, b []byte) error {
	var err error
	switch kind {
	case FrameInit:
		_, err = DecodeInit(b)
	case FrameBatch:
		_, err = DecodeBatch(b)
	case FrameEffects:
		_, err = DecodeEffects(b)
	case FrameQuery:
		_, err = DecodeQuery(b)
	case FrameResponse:
		_, err = DecodeResponse(b)
	}
	return err
}

func TestFrameDecode_Errors(t *testing.T) {
	for _, tc := range frDecodeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			err := frDecode(tc.frame, tc.in)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FrameError", err, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v is not %v", err, tc.err)
			}
			if fe.Frame != tc.frame || fe.Index != tc.index || fe.Offset != tc.offset {
				t.Errorf("frame %v index %d offset %d, want %v %d %d", fe.Frame, fe.Index, fe.Offset, tc.frame, tc.index, tc.offset)
			}
			if err.Error() != tc.msg {
				t.Errorf("message\n got %s\nwant %s", err.Error(), tc.msg)
			}
		})
	}
}

func TestFrameDecode_ValueErrorsWrapDecodeError(t *testing.T) {
	err := frDecode(FrameEffects, frRawEffect(1, 0, 0, 0, []byte{0xc1}))
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrBadValue) {
		t.Fatalf("error %v does not wrap a *DecodeError and ErrBadValue", err)
	}
	var fe *FrameError
	errors.As(err, &fe)
	if fe.Errno() != EINVAL {
		t.Errorf("errno %v, want EINVAL", fe.Errno())
	}
}

func TestFrameDecode_Limits(t *testing.T) {
	big := make([]byte, MaxEffectsFrame+1)
	copy(big, AppendEffectsHeader(nil, 0))
	err := frDecode(FrameEffects, big)
	var fe *FrameError
	if !errors.As(err, &fe) || !errors.Is(err, ErrTooLarge) || fe.Errno() != ETOOBIG {
		t.Fatalf("oversized effects frame: %v", err)
	}
	if want := "abi: effects frame: header at byte 0: frame is 16777217 bytes; the limit is 16777216"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	qbig := make([]byte, MaxQueryFrame+1)
	if err := frDecode(FrameQuery, qbig); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized query frame: %v", err)
	}
}

// TestFrameDecode_EveryPrefixFails decodes every proper prefix of valid
// frames: each must fail cleanly (no panic, a *FrameError).
func TestFrameDecode_EveryPrefixFails(t *testing.T) {
	frames := map[FrameKind][][]byte{
		FrameInit:     {frSampleInit().Append(nil)},
		FrameBatch:    {frMustAppend(t, frSampleBatch())},
		FrameEffects:  {frMustAppend(t, frSampleEffects()), frMustAppend(t, frSampleDefineEffects())},
		FrameQuery:    {frMustAppend(t, frSampleQuery())},
		FrameResponse: {frMustAppend(t, frSampleResponse())},
	}
	for kind, list := range frames {
		for _, b := range list {
			if err := frDecode(kind, b); err != nil {
				t.Fatalf("%v: valid frame rejected: %v", kind, err)
			}
			for n := 0; n < len(b); n++ {
				err := frDecode(kind, b[:n])
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("%v prefix of %d bytes: got %v, want a *FrameError", kind, n, err)
				}
			}
		}
	}
}

// TestFrameDecode_HugeCountsDoNotAllocate checks that a declared count is
// checked against the input before anything is allocated for it.
func TestFrameDecode_HugeCountsDoNotAllocate(t *testing.T) {
	for _, kind := range []FrameKind{FrameBatch, FrameEffects, FrameQuery, FrameResponse} {
		hdr := map[FrameKind]int{FrameBatch: BatchHeaderSize, FrameEffects: EffectsHeaderSize,
			FrameQuery: QueryHeaderSize, FrameResponse: ResponseHeaderSize}[kind]
		b := make([]byte, hdr)
		b[0], b[1] = FrameVersion, byte(kind)
		binary.LittleEndian.PutUint32(b[4:], 0xffffffff)
		allocs := testing.AllocsPerRun(10, func() { _ = frDecode(kind, b) })
		if allocs > 4 {
			t.Errorf("%v: %v allocations for a frame declaring 2^32-1 units", kind, allocs)
		}
	}
}

// ---- encode errors ----

func TestFrameEncode_Errors(t *testing.T) {
	cases := []struct {
		name string
		f    interface{ Append([]byte) ([]byte, error) }
		err  error
		msg  string
	}{
		{"unknown op", &EffectsFrame{Effects: []Effect{{Op: 42}}}, ErrUnknownCode,
			"abi: effects frame: effect 0: unknown effect op 42; ABI 1.1 has 1 (APPEND) to 9 (AGGREGATE)"},
		{"bad utf-8", &EffectsFrame{Effects: []Effect{NewEmit(0, 0, String("\xff"))}}, ErrBadValue,
			"abi: effects frame: effect 0: EMIT value: abi: encode: $: invalid UTF-8 in string at byte 0"},
		{"define with item", &EffectsFrame{Effects: []Effect{{Op: EffectDefine, Item: 3, Value: Map()}}}, ErrSequence,
			"abi: effects frame: effect 0: DEFINE belongs to no item: its item must be NoItem (0xFFFFFFFF), not 3"},
		{"item kind", &BatchFrame{Items: []BatchItem{{Kind: 9, Payload: []byte{0xc0}}}}, ErrUnknownCode,
			"abi: batch frame: item 0: unknown item kind 9; ABI 1.1 has 1 (RECORD), 2 (HOP) and 3 (INVOKE)"},
		{"empty payload", &BatchFrame{Items: []BatchItem{{Kind: ItemHop, Depot: NoDepot}}}, ErrBadValue,
			"abi: batch frame: item 0: empty payload; a payload is one MessagePack value"},
		{"query op", &QueryFrame{Queries: []Query{{Op: 0}}}, ErrUnknownCode,
			"abi: query frame: query 0: unknown query op 0"},
		{"result status", &QueryResponse{Results: []Result{{Status: 7}}}, ErrUnknownCode,
			"abi: response frame: result 0: unknown result status 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := tc.f.Append(dst)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err.Error() != tc.msg {
				t.Errorf("message\n got %s\nwant %s", err.Error(), tc.msg)
			}
			if string(out) != "keep" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
}

func TestFrameEncode_Streaming(t *testing.T) {
	// A guest may write the header with count 0, append effects and patch
	// the count: the result equals EffectsFrame.Append.
	f := frSampleEffects()
	b := AppendEffectsHeader(nil, 0)
	for i := range f.Effects {
		var err error
		if b, err = AppendEffect(b, &f.Effects[i]); err != nil {
			t.Fatal(err)
		}
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(f.Effects)))
	if want := frMustAppend(t, f); !bytes.Equal(b, want) {
		t.Fatalf("streamed frame differs from Append")
	}
}

// ---- CallCheck ----

func TestFrameCallCheck(t *testing.T) {
	ok := func(i uint32) Effect { return NewOutcome(i, OutcomeOK, ErrorDetail{}) }
	ap := func(i uint32) Effect { return NewAppend(i, 0, AckNone, false, Int(1)) }
	cases := []struct {
		name   string
		init   bool
		items  uint32
		frames [][]Effect
		status CallStatus
		// want is "" for success, else the start of the error of the first
		// frame that fails or of End.
		want   string
		failed bool
	}{
		{"process in order", false, 2, [][]Effect{{ap(0), ok(0)}, {ap(1), NewLog(1, LogInfo, "x"), ok(1)}}, StatusOK, "", false},
		{"empty batch", false, 0, nil, StatusOK, "", false},
		{"missing outcome", false, 3, [][]Effect{{ap(0), ok(0)}}, StatusOK,
			"abi: effects frame: squall_process returned OK but items 1 to 2 have no OUTCOME", false},
		{"failed status needs no outcomes", false, 3, [][]Effect{{ap(0)}}, StatusFailed, "", false},
		{"effect after outcome", false, 2, [][]Effect{{ok(0)}, {ap(0)}}, StatusOK,
			"abi: effects frame: effect 0: APPEND for item 0 after that item's OUTCOME", false},
		{"skipped item", false, 3, [][]Effect{{ok(0), ap(2)}}, StatusOK,
			"abi: effects frame: effect 1: APPEND for item 2 before the OUTCOME of item 1; items are processed in order", false},
		{"item out of range", false, 1, [][]Effect{{ap(1)}}, StatusOK,
			"abi: effects frame: effect 0: APPEND names item 1; the batch has 1 items", false},
		{"log out of range", false, 1, [][]Effect{{NewLog(5, LogInfo, "x")}}, StatusOK,
			"abi: effects frame: effect 0: LOG names item 5; the batch has 1 items", false},
		{"define in process", false, 1, [][]Effect{{NewDefine(Map())}}, StatusOK,
			"abi: effects frame: effect 0: DEFINE is allowed only in squall_init", false},
		{"error fails the call", false, 2, [][]Effect{{ap(0), NewError(0, ErrorDetail{Message: "sdk bug"})}}, StatusOK, "", true},
		{"init defines", true, 0, [][]Effect{{NewLog(NoItem, LogInfo, "hi"), NewDefine(Map())}}, StatusOK, "", false},
		{"init without define", true, 0, [][]Effect{{NewLog(NoItem, LogInfo, "hi")}}, StatusOK,
			"abi: effects frame: squall_init returned OK without flushing a DEFINE", false},
		{"init defines twice", true, 0, [][]Effect{{NewDefine(Map())}, {NewDefine(Map())}}, StatusOK,
			"abi: effects frame: effect 0: a second DEFINE; squall_init flushes the definition once", false},
		{"append in init", true, 0, [][]Effect{{ap(0)}}, StatusOK,
			"abi: effects frame: effect 0: APPEND is not allowed in squall_init; only DEFINE, LOG and ERROR are", false},
		{"init log with item", true, 0, [][]Effect{{NewLog(0, LogInfo, "x")}}, StatusOK,
			"abi: effects frame: effect 0: LOG during squall_init belongs to no item; its item must be NoItem", false},
		{"init error", true, 0, [][]Effect{{NewError(NoItem, ErrorDetail{Message: "bad"})}}, StatusFailed, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewProcessCheck(tc.items)
			if tc.init {
				c = NewInitCheck()
			}
			var err error
			for _, effs := range tc.frames {
				before := *c
				if err = c.Frame(&EffectsFrame{Effects: effs}); err != nil {
					if *c != before {
						t.Errorf("a rejected frame changed the checker state")
					}
					break
				}
			}
			if err == nil {
				err = c.End(tc.status)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrSequence):
				t.Errorf("error %v is not ErrSequence", err)
			}
			if c.Failed() != tc.failed {
				t.Errorf("Failed() = %v, want %v", c.Failed(), tc.failed)
			}
		})
	}
}

func TestFrameRejections(t *testing.T) {
	rs := []Rejection{
		{Effect: 3, Item: 1, Code: ESCHEMA, Message: `pstates[0] "followers": the schema says int, got string "x"`},
		{Effect: 4, Item: 2, Code: EWRONGPART, Message: "key belongs to partition 1"},
	}
	v := RejectionsValue(rs)
	b := frEnc(v)
	w, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRejections(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rs[0] || got[1] != rs[1] {
		t.Fatalf("got %+v, want %+v", got, rs)
	}
	if _, err := ParseRejections(List(Map(entry("effect", Int(0))))); err == nil {
		t.Error("a malformed rejection was accepted")
	}
}

func TestFrameEffect_Accessors(t *testing.T) {
	e := NewAppend(1, 2, AckAppendAck, true, Nil())
	if e.AckLevel() != AckAppendAck || !e.Local() {
		t.Errorf("append flags 0x%x: ack %v local %v", e.Flags, e.AckLevel(), e.Local())
	}
	h := NewHop(0, 0, PartitionShuffle, Nil())
	if h.Partitioner() != PartitionShuffle {
		t.Errorf("partitioner %v", h.Partitioner())
	}
	l := NewLog(NoItem, LogError, "x")
	if l.LogLevel() != LogError {
		t.Errorf("level %v", l.LogLevel())
	}
	o := NewOutcome(0, OutcomeOK, ErrorDetail{Message: "dropped"})
	if o.Outcome() != OutcomeOK || o.Detail != (ErrorDetail{}) {
		t.Errorf("OK outcome keeps a detail: %+v", o)
	}
}
