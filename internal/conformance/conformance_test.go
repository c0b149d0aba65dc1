package conformance

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// confModule is the module of behaviours (a) to (h), one topology each.
const confModule = "internal/conformance/modules/conformance/"

// confPaths are the dump paths of the conformance module's PStates that
// are not top-level maps.
var confPaths = map[string]abi.Path{"$$ran": abi.P().Key(abi.String("seen")).All()}

// transcript is what a scenario observed, one line per fact, in a fixed
// order; the suite requires the same transcript from every SDK.
type transcript struct{ lines []string }

func (tr *transcript) add(format string, args ...any) {
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
}

// ack appends a record with ACK and records its ack returns (or error).
func (tr *transcript) ack(n *node, module, depot string, rec abi.Value) map[string]abi.Value {
	rets, err := n.appendAck(module, depot, rec)
	if err != nil {
		tr.add("append %s %s: error %v", depot, show(rec), err)
		return nil
	}
	var ks []string
	for k := range rets {
		ks = append(ks, k)
	}
	for _, k := range sortedStrings(ks) {
		tr.add("append %s %s: ack %s = %s", depot, show(rec), k, show(rets[k]))
	}
	if len(rets) == 0 {
		tr.add("append %s %s: no ack return", depot, show(rec))
	}
	return rets
}

// acrossSDKs builds src/<language> with every SDK (for examples, the
// directory of the language), deploys it on a fresh node, runs the
// scenario and requires the same transcript from each.
func acrossSDKs(t *testing.T, src func(lang string) string, scenario func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript)) {
	t.Helper()
	acrossSDKsWith(t, "", src, scenario)
}

// acrossSDKsWith is acrossSDKs for the SDKs that support feature (all
// when it is ""): an SDK that does not (yet) is skipped, with a note.
func acrossSDKsWith(t *testing.T, feature string, src func(lang string) string, scenario func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript)) {
	t.Helper()
	var first *transcript
	var firstLang string
	for _, s := range sdks {
		if feature != "" && !s.supports(feature) {
			t.Logf("%s: skipped: the SDK does not declare feature %q", s.name, feature)
			continue
		}
		wasm := moduleWasm(t, s, src(s.name))
		tr := &transcript{}
		t.Run(s.name, func(t *testing.T) {
			n := newNode(t)
			def := n.deploy(s.name, wasm)
			scenario(t, n, def, tr)
		})
		if dir := os.Getenv("SQUALL_CONFORMANCE_OUT"); dir != "" {
			name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"."+s.name+".txt")
			if err := os.WriteFile(name, []byte(strings.Join(tr.lines, "\n")+"\n"), 0o644); err != nil {
				t.Error(err)
			}
		}
		if first == nil {
			first, firstLang = tr, s.name
			continue
		}
		diff(t, firstLang, first.lines, s.name, tr.lines)
	}
}

// diff reports the lines where two transcripts differ.
func diff(t *testing.T, an string, a []string, bn string, b []string) {
	t.Helper()
	shown := 0
	for i := 0; i < max(len(a), len(b)); i++ {
		var la, lb string
		if i < len(a) {
			la = a[i]
		}
		if i < len(b) {
			lb = b[i]
		}
		if la != lb {
			if shown < 15 {
				t.Errorf("%s and %s differ at line %d:\n  %s: %s\n  %s: %s", an, bn, i, an, la, bn, lb)
			}
			shown++
		}
	}
	if shown > 15 {
		t.Errorf("... %d differing lines in all (%d and %d lines)", shown, len(a), len(b))
	}
}

func rec(kv ...any) abi.Value {
	es := make([]abi.MapEntry, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		es = append(es, abi.MapEntry{Key: abi.String(kv[i].(string)), Val: val(kv[i+1])})
	}
	return abi.Map(es...)
}

func val(x any) abi.Value {
	switch x := x.(type) {
	case abi.Value:
		return x
	case string:
		return abi.String(x)
	case int:
		return abi.Int(int64(x))
	case int64:
		return abi.Int(x)
	case bool:
		return abi.Bool(x)
	}
	panic(fmt.Sprintf("val: %T", x))
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func encode(t testing.TB, v abi.Value) []byte {
	b, err := abi.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenValues are records of every value kind, at the encoding's
// boundaries.
func goldenValues() []abi.MapEntry {
	s := abi.String
	i := func(n int64) abi.Value { return abi.Int(n) }
	f := abi.Float
	vals := []abi.Value{
		abi.Nil(), abi.Bool(true), abi.Bool(false),
		i(0), i(1), i(-1), i(127), i(128), i(-32), i(-33), i(255), i(256), i(65535), i(65536),
		i(math.MaxInt32), i(math.MinInt32), i(math.MaxUint32), i(math.MaxInt64), i(math.MinInt64),
		f(0), f(math.Copysign(0, -1)), f(1.5), f(0.1), f(math.NaN()), f(math.Inf(1)), f(math.Inf(-1)),
		f(math.MaxFloat64), f(math.SmallestNonzeroFloat64), f(-2.5e-300),
		s(""), s("hello"), s("héllo wörld"), s("日本語"), s("🙂👍🏽"), s("e\u0301"), s(strings.Repeat("é", 150)), s(strings.Repeat("x", 70000)),
		abi.Bytes(nil), abi.Bytes([]byte{0, 1, 255}), abi.Bytes(bytes.Repeat([]byte{7}, 300)),
		abi.List(), abi.List(i(1), s("a"), abi.List(i(2), abi.List(i(3))), abi.Map(), abi.Nil()),
		abi.Map(
			abi.MapEntry{Key: i(1), Val: s("int")},
			abi.MapEntry{Key: s("a"), Val: s("str")},
			abi.MapEntry{Key: abi.Bool(true), Val: s("bool")},
			abi.MapEntry{Key: abi.Bytes([]byte("b")), Val: s("bytes")},
			abi.MapEntry{Key: i(-7), Val: abi.Map(abi.MapEntry{Key: s("deep"), Val: abi.Set(i(1), s("x"))})},
		),
		abi.Set(), abi.Set(i(3), i(1), i(2)), abi.Set(s("b"), s("a")), abi.Set(i(1), s("a"), abi.Bool(true), abi.Bytes([]byte{1})),
	}
	var big []abi.Value
	var bigMap []abi.MapEntry
	for k := range 40 {
		big = append(big, i(int64(k*k)))
		bigMap = append(bigMap, abi.MapEntry{Key: s(fmt.Sprintf("k%02d", k)), Val: i(int64(-k))})
	}
	vals = append(vals, abi.List(big...), abi.Map(bigMap...))
	out := make([]abi.MapEntry, len(vals))
	for n, v := range vals {
		out[n] = abi.MapEntry{Key: s(fmt.Sprintf("v%02d-%s", n, v.Kind())), Val: v}
	}
	return out
}

// roundTrip appends each value and requires its ack return and its PState
// entry to be the value, byte for byte.
func roundTrip(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript, values []abi.MapEntry) {
	for _, e := range values {
		name, _ := e.Key.AsString()
		rets := tr.ack(n, def.Name, "values", rec("name", name, "value", e.Val))
		if got, ok := rets["values"]; !ok || !bytes.Equal(encode(t, got), encode(t, e.Val)) {
			t.Errorf("%s: ack return %s, want %s", name, show(got), show(e.Val))
		}
		vs, err := n.e.Select(context.Background(), def.Name, "$$values", abi.P().Key(abi.String(name)))
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || !bytes.Equal(encode(t, vs[0]), encode(t, e.Val)) {
			t.Errorf("%s: stored %v, want %s", name, vs, show(e.Val))
		}
	}
}

// (a) Every golden value kind through depot → stage → PState and ack return.
func TestValueRoundTrip(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		roundTrip(t, n, def, tr, goldenValues())
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
	})
}

// (f) A 4 MB bytes value and a 1 MB string through depot → PState → select.
func TestLargeValues(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, 4<<20)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		roundTrip(t, n, def, tr, []abi.MapEntry{
			{Key: abi.String("bytes-4MB"), Val: abi.Bytes(b)},
			{Key: abi.String("string-1MB"), Val: abi.String(strings.Repeat("ünï", 1<<20/5))},
		})
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
	})
}

// (g) Unicode keys, partitioned and stored by their exact bytes (NFC and
// NFD forms are different keys).
func TestUnicodeKeys(t *testing.T) {
	keys := []string{"é", "e\u0301", "ключ", "名前", "🔑", "Ω≈ç√", "\u0000nul", "ǅ", "ß", "SS"}
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		var vs []abi.MapEntry
		for i, k := range keys {
			vs = append(vs, abi.MapEntry{Key: abi.String(k), Val: abi.Int(int64(i))})
		}
		roundTrip(t, n, def, tr, vs)
		for _, k := range keys {
			tr.ack(n, def.Name, "rw", rec("k", k))
		}
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
	})
}

// (b) Every path navigator and terminal, inline and subindexed.
func TestPaths(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		for _, k := range []string{"alpha", "ß-key", "🙂"} {
			for _, op := range []string{"setup", "query", "mutate", "query"} {
				tr.ack(n, def.Name, "paths", rec("k", k, "op", op))
			}
		}
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

// (c) Every hop partitioner: which partition ran what, from where.
func TestHops(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		for i := range 8 {
			tr.ack(n, def.Name, "hops", rec("k", fmt.Sprintf("h%d", i), "n", i))
		}
		n.waitIdle(def.Name)
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

// (d, e) Ack returns, poison, retry that succeeds on attempt 2, retries
// exhausted, a transform the host rejects.
func TestFailures(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		for _, r := range [][2]string{{"ok1", "ok"}, {"p1", "poison"}, {"r1", "retry"}, {"a1", "always"}, {"b1", "badpath"}, {"ok2", "ok"}} {
			tr.ack(n, def.Name, "fails", rec("k", r[0], "mode", r[1]))
		}
		n.waitIdle(def.Name)
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
		tr.lines = append(tr.lines, n.deadLetters(def.Name)...)
	})
}

// (h) A stage that writes, reads its write, writes what it read.
func TestReadYourWrites(t *testing.T) {
	acrossSDKs(t, func(l string) string { return confModule + l }, func(t *testing.T, n *node, def *abi.ModuleDef, tr *transcript) {
		for _, k := range []string{"x", "y", "x", "x", "z", "y"} {
			tr.ack(n, def.Name, "rw", rec("k", k))
		}
		tr.lines = append(tr.lines, n.dump(def, confPaths)...)
	})
}
