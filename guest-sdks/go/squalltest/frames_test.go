package squalltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	squall "github.com/squall-run/squall/guest-sdks/go"
	"github.com/squall-run/squall/guest-sdks/go/internal/golden"
	"github.com/squall-run/squall/guest-sdks/go/internal/wire"
)

func fromGolden(g golden.Val) squall.Value {
	switch g.Kind {
	case "bool":
		return squall.Bool(g.Bool)
	case "int":
		return squall.Int(g.Int)
	case "float":
		v, _ := squall.Decode(append([]byte{0xcb}, byte(g.FloatBits>>56), byte(g.FloatBits>>48), byte(g.FloatBits>>40),
			byte(g.FloatBits>>32), byte(g.FloatBits>>24), byte(g.FloatBits>>16), byte(g.FloatBits>>8), byte(g.FloatBits)))
		return v
	case "str":
		return squall.String(g.Str)
	case "bytes":
		return squall.Bytes(g.Bytes)
	case "list", "set":
		items := make([]squall.Value, len(g.Items))
		for i, it := range g.Items {
			items[i] = fromGolden(it)
		}
		if g.Kind == "set" {
			return squall.Set(items...)
		}
		return squall.List(items...)
	case "map":
		es := make([]squall.MapEntry, len(g.Entries))
		for i, e := range g.Entries {
			es[i] = squall.MapEntry{Key: fromGolden(e[0]), Val: fromGolden(e[1])}
		}
		return squall.Map(es...)
	}
	return squall.Nil()
}

func readFrames(t *testing.T, name string) []golden.Line {
	t.Helper()
	lines, err := golden.Read(golden.Dir+"/frames", name)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return lines
}

func TestGoldenPartitions(t *testing.T) {
	for _, l := range readFrames(t, "partition.jsonl") {
		key := fromGolden(l.Val("key"))
		h, err := HashKey(key)
		if err != nil || strconv.FormatUint(h, 10) != l.Str("hash") {
			t.Fatalf("%s: hash %d (%v), want %s", l.Str("name"), h, err, l.Str("hash"))
		}
		var parts [][2]int
		if err := jsonUnmarshal(l["partitions"], &parts); err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if got, _ := KeyPartition(key, p[0]); got != p[1] {
				t.Fatalf("%s: partition of %d = %d, want %d", l.Str("name"), p[0], got, p[1])
			}
		}
	}
}

func TestGoldenHostEncoders(t *testing.T) {
	for _, l := range readFrames(t, "init.jsonl") {
		f := l.Obj("fields")
		got := appendInit(nil, uint16(f.Int("flags")), uint16(f.Int("host_minor")), uint32(f.Int("tasks")), f.Int("time_unix_nano"), f.Uint("seed"))
		if !bytes.Equal(got, l.Hex("hex")) {
			t.Fatalf("init %s: %x, want %s", l.Str("name"), got, l.Str("hex"))
		}
	}
	kinds := map[string]uint8{"RECORD": wire.ItemRecord, "HOP": wire.ItemHop, "INVOKE": wire.ItemInvoke}
	for _, l := range readFrames(t, "batch.jsonl") {
		h := l.Obj("header")
		hdr := batchHeader{flags: uint16(h.Int("flags")), batchID: h.Uint("batch_id"), partition: uint32(h.Int("partition")), attempt: uint32(h.Int("attempt")),
			topology: uint16(h.Int("topology")), timeUnixNano: h.Int("time_unix_nano"), seed: h.Uint("seed")}
		var items []batchItem
		for _, w := range l.Objs("items") {
			p, err := squall.Encode(fromGolden(w.Val("payload")))
			if err != nil {
				t.Fatal(err)
			}
			items = append(items, batchItem{kind: kinds[w.Str("kind")], stage: uint16(w.Int("stage")), depot: uint16(w.Int("depot")),
				attempt: uint16(w.Int("attempt")), sourcePartition: uint32(w.Int("source_partition")), offset: w.Uint("offset"),
				eventTimeUnixNano: w.Int("event_time_unix_nano"), payload: p})
		}
		if got := appendBatch(nil, hdr, items); !bytes.Equal(got, l.Hex("hex")) {
			t.Fatalf("batch %s:\n%x\nwant\n%s", l.Str("name"), got, l.Str("hex"))
		}
	}
	for _, l := range readFrames(t, "response.jsonl") {
		var rs []result
		for _, w := range l.Objs("results") {
			r := result{status: int32(w.Int("code")), message: w.Str("message")}
			if w.Has("value") {
				r.value = fromGolden(w.Val("value"))
			}
			rs = append(rs, r)
		}
		got, err := appendResponse(nil, rs)
		if err != nil || !bytes.Equal(got, l.Hex("hex")) {
			t.Fatalf("response %s: %x %v, want %s", l.Str("name"), got, err, l.Str("hex"))
		}
	}
}

func TestGoldenHostDecoders(t *testing.T) {
	ops := map[string]uint8{"APPEND": 1, "HOP": 2, "TRANSFORM": 3, "EMIT": 4, "LOG": 5, "OUTCOME": 6, "DEFINE": 7, "ERROR": 8, "AGGREGATE": 9}
	for _, l := range readFrames(t, "effects.jsonl") {
		es, err := decodeEffects(l.Hex("hex"), true)
		if err != nil {
			t.Fatalf("%s: %v", l.Str("name"), err)
		}
		want := l.Objs("effects")
		if len(es) != len(want) {
			t.Fatalf("%s: %d effects, want %d", l.Str("name"), len(es), len(want))
		}
		for i, w := range want {
			e := es[i]
			if e.op != ops[w.Str("op")] || e.flags != uint8(w.Int("flags")) || e.target != uint16(w.Int("target")) || e.item != uint32(w.Uint("item")) {
				t.Fatalf("%s: effect %d header %+v, want %v", l.Str("name"), i, e, w)
			}
			for _, f := range []string{"record", "payload", "path", "value", "definition"} {
				if w.Has(f) && !squall.Equal(e.value, fromGolden(w.Val(f))) {
					t.Fatalf("%s: effect %d %s = %s", l.Str("name"), i, f, e.value)
				}
			}
			if w.Has("keys") && (!squall.Equal(e.key, fromGolden(w.Val("keys"))) || e.n != w.Int("n")) {
				t.Fatalf("%s: effect %d keys %s n %d", l.Str("name"), i, e.key, e.n)
			}
			if w.Has("key") && !squall.Equal(e.key, fromGolden(w.Val("key"))) {
				t.Fatalf("%s: effect %d key %s", l.Str("name"), i, e.key)
			}
			if e.partition != uint32(w.Int("partition")) || e.text != w.Str("text") {
				t.Fatalf("%s: effect %d %+v", l.Str("name"), i, e)
			}
			d := w.Obj("detail")
			if e.detail != (detail{Kind: d.Str("kind"), Message: d.Str("message"), Stack: d.Str("stack")}) {
				t.Fatalf("%s: effect %d detail %+v", l.Str("name"), i, e.detail)
			}
		}
	}
	for _, l := range readFrames(t, "query.jsonl") {
		qs, err := decodeQuery(l.Hex("hex"), true)
		if err != nil {
			t.Fatalf("%s: %v", l.Str("name"), err)
		}
		want := l.Objs("queries")
		for i, w := range want {
			if w.Str("op") == "INVOKE" {
				if qs[i].op != wire.QueryInvoke || qs[i].pstate != uint16(w.Int("query")) || !squall.Equal(qs[i].path, fromGolden(w.Val("args"))) {
					t.Fatalf("%s: query %d %+v", l.Str("name"), i, qs[i])
				}
				continue
			}
			op := uint8(wire.QuerySelect)
			if w.Str("op") == "SELECT_ONE" {
				op = wire.QuerySelectOne
			}
			if qs[i].op != op || qs[i].pstate != uint16(w.Int("pstate")) || !squall.Equal(qs[i].path, fromGolden(w.Val("path"))) {
				t.Fatalf("%s: query %d %+v", l.Str("name"), i, qs[i])
			}
		}
	}
}

func TestGoldenHostInvalidFrames(t *testing.T) {
	n := 0
	for _, l := range readFrames(t, "invalid.jsonl") {
		var decode func([]byte) error
		switch l.Str("frame") {
		case "effects":
			decode = func(b []byte) error { _, err := decodeEffects(b, false); return err }
		case "query":
			decode = func(b []byte) error { _, err := decodeQuery(b, false); return err }
		default:
			continue
		}
		n++
		err := decode(l.Hex("hex"))
		var fe *wire.FrameError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: got %v, want a frame error", l.Str("name"), err)
		}
		if fe.Err.Error() != l.Str("error") || fe.Index != int(l.Int("index")) || fe.Offset != int(l.Int("offset")) {
			t.Errorf("%s: %v: category %s index %d offset %d, want %s %d %d", l.Str("name"), err, fe.Err, fe.Index, fe.Offset,
				l.Str("error"), l.Int("index"), l.Int("offset"))
		}
		if fe.Errno() != errnoOf(l.Str("errno")) {
			t.Errorf("%s: errno %d, want %s", l.Str("name"), fe.Errno(), l.Str("errno"))
		}
	}
	if n < 30 {
		t.Fatalf("only %d host-side invalid frames", n)
	}
}

func errnoOf(name string) int32 {
	for c := int32(-1); c >= -11; c-- {
		if wire.ErrnoName(c) == name {
			return c
		}
	}
	return 0
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
