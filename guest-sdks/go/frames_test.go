package squall

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/squall-run/squall/guest-sdks/go/internal/golden"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

func TestGoldenInitFrames(t *testing.T) {
	for _, l := range readFrames(t, "init.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			f, err := decodeInit(l.Hex("hex"))
			if err != nil {
				t.Fatal(err)
			}
			w := l.Obj("fields")
			want := initFrame{flags: uint16(w.Int("flags")), hostMajor: uint16(w.Int("host_major")), hostMinor: uint16(w.Int("host_minor")),
				tasks: uint32(w.Int("tasks")), timeUnixNano: w.Int("time_unix_nano"), seed: w.Uint("seed")}
			if f != want {
				t.Fatalf("decoded %+v, want %+v", f, want)
			}
		})
	}
}

var itemKinds = map[string]uint8{"RECORD": wire.ItemRecord, "HOP": wire.ItemHop, "INVOKE": wire.ItemInvoke}

func TestGoldenBatchFrames(t *testing.T) {
	for _, l := range readFrames(t, "batch.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			f, err := decodeBatch(l.Hex("hex"))
			if err != nil {
				t.Fatal(err)
			}
			h := l.Obj("header")
			if f.batchID != h.Uint("batch_id") || f.partition != uint32(h.Int("partition")) || f.attempt != uint32(h.Int("attempt")) ||
				f.topology != uint16(h.Int("topology")) || f.timeUnixNano != h.Int("time_unix_nano") || f.seed != h.Uint("seed") ||
				f.query != (h.Int("flags")&wire.BatchQuery != 0) {
				t.Fatalf("header %+v, want %v", f, h)
			}
			items := l.Objs("items")
			if len(items) != len(f.items) {
				t.Fatalf("%d items, want %d", len(f.items), len(items))
			}
			for i, w := range items {
				it := f.items[i]
				if it.kind != itemKinds[w.Str("kind")] || it.stage != uint16(w.Int("stage")) || it.depot != uint16(w.Int("depot")) ||
					it.attempt != uint16(w.Int("attempt")) || it.sourcePartition != uint32(w.Int("source_partition")) ||
					it.offset != w.Uint("offset") || it.eventTimeUnixNano != w.Int("event_time_unix_nano") {
					t.Fatalf("item %d: %+v, want %v", i, it, w)
				}
				v, err := Decode(it.payload)
				if err != nil || !Equal(v, fromGolden(w.Val("payload"))) {
					t.Fatalf("item %d payload %s (%v), want %s", i, v, err, fromGolden(w.Val("payload")))
				}
			}
		})
	}
}

func TestGoldenResponseFrames(t *testing.T) {
	for _, l := range readFrames(t, "response.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			rs, err := decodeResponse(l.Hex("hex"))
			if err != nil {
				t.Fatal(err)
			}
			want := l.Objs("results")
			if len(rs) != len(want) {
				t.Fatalf("%d results, want %d", len(rs), len(want))
			}
			for i, w := range want {
				r := rs[i]
				if r.status != int32(w.Int("code")) {
					t.Fatalf("result %d: status %d, want %d", i, r.status, w.Int("code"))
				}
				if w.Has("value") && !Equal(r.value, fromGolden(w.Val("value"))) {
					t.Fatalf("result %d: value %s", i, r.value)
				}
				if r.message != w.Str("message") {
					t.Fatalf("result %d: message %q, want %q", i, r.message, w.Str("message"))
				}
			}
		})
	}
}

var (
	ackLevels    = map[string]AckLevel{"NONE": NoAck, "APPEND_ACK": AppendAck, "ACK": Ack}
	partitioners = map[string]uint8{"HASH": wire.HopHash, "ALL": wire.HopAll, "GLOBAL": wire.HopGlobal,
		"ORIGIN": wire.HopOrigin, "SHUFFLE": wire.HopShuffle, "DIRECT": wire.HopDirect}
	logLevels = map[string]uint8{"DEBUG": 0, "INFO": 1, "WARN": 2, "ERROR": 3}
	outcomes  = map[string]outcome{"OK": outcomeOK, "POISON": outcomePoison, "RETRY": outcomeRetry}
)

func detailOf(l golden.Line) errorDetail {
	d := l.Obj("detail")
	return errorDetail{kind: d.Str("kind"), message: d.Str("message"), stack: d.Str("stack")}
}

// TestGoldenEffectsFrames encodes each frame with the functions the
// runtime uses.
func TestGoldenEffectsFrames(t *testing.T) {
	for _, l := range readFrames(t, "effects.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			var e effects
			e.reset()
			for _, w := range l.Objs("effects") {
				item := uint32(w.Uint("item"))
				target := uint16(w.Int("target"))
				var err error
				switch w.Str("op") {
				case "APPEND":
					flags := uint8(ackLevels[w.Str("ack")])
					if w.Bool("local") {
						flags |= wire.AppendLocal
					}
					err = e.value(wire.OpAppend, flags, target, item, fromGolden(w.Val("record")))
				case "HOP":
					var key Value
					if w.Has("key") {
						key = fromGolden(w.Val("key"))
					}
					err = e.hop(partitioners[w.Str("partitioner")], target, item, key, uint32(w.Int("partition")), fromGolden(w.Val("payload")))
				case "TRANSFORM":
					p, perr := ParsePath(fromGolden(w.Val("path")))
					if perr != nil {
						t.Fatal(perr)
					}
					if p.String() != w.Str("path_text") {
						t.Errorf("path text %s, want %s", p, w.Str("path_text"))
					}
					err = e.value(wire.OpTransform, 0, target, item, p.value())
				case "EMIT":
					err = e.value(wire.OpEmit, 0, target, item, fromGolden(w.Val("value")))
				case "LOG":
					e.log(logLevels[w.Str("level")], item, w.Str("text"))
				case "OUTCOME":
					e.outcome(item, outcomes[w.Str("outcome")], detailOf(w))
				case "DEFINE":
					def, eerr := Encode(fromGolden(w.Val("definition")))
					if eerr != nil {
						t.Fatal(eerr)
					}
					err = e.define(def)
				case "ERROR":
					err = e.value(wire.OpError, 0, 0, item, detailOf(w).value())
				case "AGGREGATE":
					code := uint8(0)
					for i, n := range wire.AggNames {
						if n == w.Str("aggregator") {
							code = uint8(i)
						}
					}
					var n int64
					if w.Has("n") {
						n = w.Int("n")
					}
					err = e.aggregate(code, target, item, fromGolden(w.Val("keys")), fromGolden(w.Val("value")), n)
				default:
					t.Fatalf("unknown op %s", w.Str("op"))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got, want := e.frame(), l.Hex("hex"); !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, want)
			}
		})
	}
}

func TestGoldenQueryFrames(t *testing.T) {
	for _, l := range readFrames(t, "query.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			qs := l.Objs("queries")
			b := wire.AppendHeader(nil, wire.KindQuery, uint32(len(qs)))
			for _, q := range qs {
				if q.Str("op") == "INVOKE" {
					var err error
					if b, err = appendInvoke(b, uint16(q.Int("query")), fromGolden(q.Val("args"))); err != nil {
						t.Fatal(err)
					}
					continue
				}
				p, err := ParsePath(fromGolden(q.Val("path")))
				if err != nil {
					t.Fatal(err)
				}
				if p.String() != q.Str("path_text") {
					t.Errorf("path text %s, want %s", p, q.Str("path_text"))
				}
				op := uint8(wire.QuerySelect)
				if q.Str("op") == "SELECT_ONE" {
					op = wire.QuerySelectOne
				}
				if b, err = appendQuery(b, op, uint16(q.Int("pstate")), p); err != nil {
					t.Fatal(err)
				}
			}
			if want := l.Hex("hex"); !bytes.Equal(b, want) {
				t.Fatalf("encoded\n%x\nwant\n%x", b, want)
			}
		})
	}
}

// TestGoldenInvalidFrames checks that the guest's decoders reject every
// invalid init, batch and response frame with the host's category, unit
// index and offset.
func TestGoldenInvalidFrames(t *testing.T) {
	n := 0
	for _, l := range readFrames(t, "invalid.jsonl") {
		var decode func([]byte) error
		switch l.Str("frame") {
		case "init":
			decode = func(b []byte) error { _, err := decodeInit(b); return err }
		case "batch":
			decode = func(b []byte) error { _, err := decodeBatch(b); return err }
		case "response":
			decode = func(b []byte) error { _, err := decodeResponse(b); return err }
		default:
			continue
		}
		n++
		t.Run(l.Str("name"), func(t *testing.T) {
			err := decode(l.Hex("hex"))
			var fe *wire.FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a frame error", err)
			}
			if fe.Err.Error() != l.Str("error") || fe.Index != int(l.Int("index")) || fe.Offset != int(l.Int("offset")) {
				t.Fatalf("%v: category %s index %d offset %d, want %s %d %d", err, fe.Err, fe.Index, fe.Offset,
					l.Str("error"), l.Int("index"), l.Int("offset"))
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d guest-side invalid frames", n)
	}
}

// TestGoldenModuleDefs declares the golden modules with the builder and
// checks the bytes of their definitions.
func TestGoldenModuleDefs(t *testing.T) {
	nop := func(*Ctx, Value) error { return nil }
	defs := map[string]func(*ModuleBuilder){
		"minimal": func(*ModuleBuilder) {},
		"social": func(m *ModuleBuilder) {
			m.Name("social")
			follows := m.Depot("follows", HashBy(Key("to")))
			m.Depot("audit", Random())
			m.PState("followers", MapOf(StringT, SetOf(StringT).Subindexed()))
			m.PState("follower_count", MapOf(StringT, IntT))
			core := m.Stream("core")
			onFollow := core.Stage("on_follow", nop)
			core.Stage("index", nop)
			core.Source(follows, onFollow)
		},
		"every schema form": func(m *ModuleBuilder) {
			events := m.Depot("events", HashRecord())
			internal := m.Depot("$internal", Disallow())
			m.PState("counter", IntT, Global())
			m.PState("profiles", MapOf(BytesT, RecordOf(
				Field("name", StringT),
				Field("score", FloatT),
				Field("active", BoolT),
				Field("tags", SetOf(StringT)),
				Field("history", ListOf(AnyT).Subindexed()),
				Field("by_day", MapOf(IntT, MapOf(StringT, IntT)).Subindexed()),
			)))
			ingest := m.Stream("ingest")
			parse := ingest.Stage("parse", nop)
			replay := ingest.Stage("replay", nop)
			ingest.Stage("count", nop)
			ingest.Source(events, parse)
			ingest.Source(internal, replay)
			audit := m.Stream("audit")
			audit.Source(events, audit.Stage("audit", nop))
		},
		"1.1 bank: tick depot, microbatch, owner, query": func(m *ModuleBuilder) {
			m.Name("bank")
			transfers := m.Depot("transfers", HashBy(Key("from")))
			deposits := m.Depot("deposits", HashBy(Key("account")))
			minute := m.TickDepot("minute", time.Minute)
			bank := m.Microbatch("bank", MaxRecords(500), Interval(100*time.Millisecond))
			bank.PState("accounts", MapOf(StringT, RecordOf(Field("balance", IntT), Field("history", MapOf(IntT, AnyT).Subindexed()))))
			m.PState("stats", MapOf(StringT, AnyT))
			debit := bank.Stage("debit", nop)
			bank.Stage("credit", nop)
			deposit := bank.Stage("deposit", nop)
			tick := bank.Stage("tick", nop)
			bank.Source(transfers, debit)
			bank.Source(deposits, deposit, StartFromEnd())
			bank.Source(minute, tick, StartFromOffset(12))
			audit := m.Stream("audit")
			audit.Source(transfers, audit.Stage("log", nop), StartFromEnd())
			account := m.Query("account", "id", "limit")
			account.Stage("start", nop)
			account.Stage("read", nop)
			total := m.Query("total")
			total.Stage("fanout", nop)
			total.Stage("sum", nop)
		},
	}
	seen := 0
	for _, l := range readFrames(t, "module_def.jsonl") {
		t.Run(l.Str("name"), func(t *testing.T) {
			define, ok := defs[l.Str("name")]
			if !ok {
				t.Fatalf("no builder for module %q", l.Str("name"))
			}
			seen++
			mod, err := build(define)
			if err != nil {
				t.Fatal(err)
			}
			if want := l.Hex("hex"); !bytes.Equal(mod.defBytes, want) {
				v, _ := Decode(mod.defBytes)
				t.Fatalf("definition\n%x\n%s\nwant\n%x\n%s", mod.defBytes, v, want, fromGolden(l.Val("definition")))
			}
		})
	}
	if seen != len(defs) {
		t.Fatalf("%d of %d modules checked", seen, len(defs))
	}
}
