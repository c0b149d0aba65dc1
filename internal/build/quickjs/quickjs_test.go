package quickjs_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/build/quickjs"
)

// These tests run the real runtime (built by build-runtime.sh on first
// use) in the host with small hand-written bundles: no SDK, no esbuild.

var rtWasm struct {
	once sync.Once
	b    []byte
	err  error
}

func runtimeWasm(t *testing.T) []byte {
	t.Helper()
	rtWasm.once.Do(func() {
		p, err := quickjs.Runtime(context.Background())
		if err != nil {
			rtWasm.err = err
			return
		}
		rtWasm.b, rtWasm.err = os.ReadFile(p)
	})
	if rtWasm.err != nil {
		t.Fatal(rtWasm.err)
	}
	return rtWasm.b
}

// fixtureEntry defines a module with one depot named "d" by flushing a
// DEFINE effect it builds byte by byte.
const fixtureEntry = `
function bytes(s) { return Array.from(s, (c) => c.charCodeAt(0)); }
function str(s) { return [0xa0 | s.length, ...bytes(s)]; }
// {"depots": [{"name": "d", "partitioner": {"kind": "random"}}], "pstates": [], "topologies": []}
const def = [0x83, ...str("depots"), 0x91, 0x82, ...str("name"), ...str("d"),
  ...str("partitioner"), 0x81, ...str("kind"), ...str("random"),
  ...str("pstates"), 0x90, ...str("topologies"), 0x90];
function frame(op, body) {
  const n = body.length;
  return new Uint8Array([1, 3, 0, 0, 1, 0, 0, 0, n & 255, n >> 8, 0, 0, op, 0, 0, 0, 255, 255, 255, 255, ...body]);
}
globalThis.__squallEntry = {
  init(f) {
    if (!(f instanceof Uint8Array) || f.length !== 32 || f[0] !== 1 || f[1] !== 1) throw new Error("not an init frame");
    if (typeof hook === "function") hook();
    const r = __squall.flush(frame(7, def));
    return r === 0 ? 0 : 1;
  },
  process(f) { return 1; },
};
`

// describe runs the module made of the runtime and files (its file tree,
// mounted at /squall).
func describe(t *testing.T, files map[string][]byte) (*abi.ModuleDef, error) {
	t.Helper()
	return describeWith(t, host.DefaultConfig(), files)
}

func describeWith(t *testing.T, cfg host.Config, files map[string][]byte) (*abi.ModuleDef, error) {
	t.Helper()
	var fs []build.File
	for name, b := range files {
		fs = append(fs, build.File{Name: name, Data: b})
	}
	wasm, err := build.AppendFiles(runtimeWasm(t), fs)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := host.NewRuntime(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	m, err := r.Compile(ctx, "fixture", wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m.Describe(ctx, host.InitParams{Tasks: 4})
}

func guestDetail(t *testing.T, err error) *abi.ErrorDetail {
	t.Helper()
	var ge *host.GuestError
	if !errors.As(err, &ge) || ge.Kind != host.KindFailed || ge.Detail == nil {
		t.Fatalf("want a failed call with an ERROR detail, got %v", err)
	}
	return ge.Detail
}

func TestRuntimeRunsSourceBundle(t *testing.T) {
	def, err := describe(t, map[string][]byte{"app/bundle.js": []byte(fixtureEntry)})
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Depots) != 1 || def.Depots[0].Name != "d" {
		t.Errorf("definition %+v, want one depot d", def)
	}
}

func TestRuntimeRunsBytecodeBundle(t *testing.T) {
	// A throw on line 3 of the bundle, to see that line numbers survive
	// the bytecode.
	src := "function hook() {\n  const x = 1;\n  throw new RangeError('from bytecode ' + x);\n}\n" + fixtureEntry
	bc, err := quickjs.Compile(context.Background(), runtimeWasm(t), []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(bc) == 0 || strings.Contains(string(bc), "from bytecode ' + x") {
		t.Fatalf("bytecode of %d bytes, with source text: %v", len(bc), strings.Contains(string(bc), "' + x"))
	}
	_, err = describe(t, map[string][]byte{"app/bundle.qjsbc": bc})
	d := guestDetail(t, err)
	if d.Kind != "RangeError" || d.Message != "from bytecode 1" || !strings.Contains(d.Stack, "at hook (bundle.js:3:") {
		t.Errorf("detail %+v", d)
	}
}

func TestCompileReportsSyntaxErrors(t *testing.T) {
	_, err := quickjs.Compile(context.Background(), runtimeWasm(t), []byte("let x = ;\n"), "")
	var se *quickjs.SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "SyntaxError") || !strings.Contains(se.Message, "unexpected token") {
		t.Fatalf("Compile of bad syntax = %v", err)
	}
}

func TestRuntimeMapsStacksToSources(t *testing.T) {
	src := "function hook() {\n  null.x;\n}\n" + fixtureEntry
	// Generated line 2, column 0 (and on) comes from src/mod.ts line 41
	// (0-based 40), column 7 (0-based 6): VLQ "AAwCM" is [0, 0, 40, 6].
	sm := `{"version":3,"sources":["src/mod.ts"],"names":[],"mappings":";AAwCM"}`
	_, err := describe(t, map[string][]byte{"app/bundle.js": []byte(src), "app/bundle.js.map": []byte(sm)})
	d := guestDetail(t, err)
	if d.Kind != "TypeError" || !strings.Contains(d.Stack, "at hook (src/mod.ts:41:7)") {
		t.Errorf("detail %+v", d)
	}
	// Frames the map does not cover keep their bundle position.
	if !strings.Contains(d.Stack, "bundle.js:") {
		t.Errorf("stack %q lost the unmapped frames", d.Stack)
	}
}

func TestRuntimeReportsBadBundles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		kind  string
		want  string
	}{
		{"no bundle", map[string][]byte{"app/other.js": []byte("1")}, "", "the module has no JavaScript bundle"},
		{"no entry", map[string][]byte{"app/bundle.js": []byte("var x = 1;")}, "", "defined no Squall module"},
		{"throws", map[string][]byte{"app/bundle.js": []byte("throw new Error('top level');")}, "Error", "evaluating the module's code: top level"},
		{"throws a string", map[string][]byte{"app/bundle.js": []byte("throw 'just text';")}, "", "evaluating the module's code: just text"},
		{"syntax", map[string][]byte{"app/bundle.js": []byte("let = = 2")}, "SyntaxError", "evaluating the module's code: "},
		{"deep recursion", map[string][]byte{"app/bundle.js": []byte("function hook() { return 1 + hook(); }\n" + fixtureEntry)}, "InternalError", "stack overflow"},
		{"entry throws", map[string][]byte{"app/bundle.js": []byte("function hook() { throw new Error('in init'); }\n" + fixtureEntry)}, "Error", "in init"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := describe(t, tc.files)
			d := guestDetail(t, err)
			if d.Kind != tc.kind || !strings.Contains(d.Message, tc.want) {
				t.Errorf("detail %+v, want kind %q and a message containing %q", d, tc.kind, tc.want)
			}
			if tc.name == "deep recursion" && (strings.Count(d.Stack, "\n") != 64 || !strings.HasSuffix(d.Stack, " more frames")) {
				t.Errorf("the stack of a stack overflow has %d lines, want 64 frames and a count of the others:\n%s", strings.Count(d.Stack, "\n")+1, d.Stack)
			}
		})
	}
}

// TestRuntimeCannotHangOrExhaustTheHost: an endless loop in JS is stopped
// at the deadline, and JS that allocates without end gets QuickJS's out of
// memory error at the host's memory limit (or the host stops the growth),
// never a crash of the host.
func TestRuntimeCannotHangOrExhaustTheHost(t *testing.T) {
	cfg := host.DefaultConfig()
	cfg.InitTimeout = 500 * time.Millisecond
	_, err := describeWith(t, cfg, map[string][]byte{"app/bundle.js": []byte("function hook() { for (;;) {} }\n" + fixtureEntry)})
	var ge *host.GuestError
	if !errors.As(err, &ge) || ge.Kind != host.KindTimeout {
		t.Errorf("endless loop: %v, want a timeout", err)
	}

	cfg = host.DefaultConfig()
	cfg.MemoryLimitPages = 256 // 16 MiB
	_, err = describeWith(t, cfg, map[string][]byte{"app/bundle.js": []byte(
		"function hook() { const keep = []; for (;;) keep.push(new Array(100000).fill(keep.length)); }\n" + fixtureEntry)})
	switch {
	case errors.As(err, &ge) && ge.Kind == host.KindFailed && ge.Detail != nil:
		if !strings.Contains(ge.Detail.Message, "out of memory") {
			t.Errorf("allocating without end: detail %+v, want out of memory", ge.Detail)
		}
	case errors.As(err, &ge) && ge.Kind == host.KindOutOfMemory:
		t.Logf("allocating without end: %v", ge.Msg)
	default:
		t.Errorf("allocating without end: %v, want QuickJS's out of memory error or the host's memory limit", err)
	}
}

// TestRuntimeConsole: console.log and console.error reach the host's log
// (stdout at info, stderr at warn), objects as JSON, errors with their
// stack.
func TestRuntimeConsole(t *testing.T) {
	var out bytes.Buffer
	cfg := host.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&out, nil))
	hook := "function hook() { console.log('hello', {a: 1}, [1, 'x'], 2.5, null); console.error(new TypeError('careful')); }\n"
	if _, err := describeWith(t, cfg, map[string][]byte{"app/bundle.js": []byte(hook + fixtureEntry)}); err != nil {
		t.Fatal(err)
	}
	log := out.String()
	for _, want := range []string{
		`level=INFO msg="hello {\"a\":1} [1,\"x\"] 2.5 null"`,
		`level=WARN msg="TypeError: careful"`,
		`level=WARN msg="    at hook (bundle.js:1:`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
}
