package interrupt

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// mod assembles a module from sections given as (id, body) pairs.
func mod(sections ...any) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for i := 0; i < len(sections); i += 2 {
		id := sections[i].(int)
		body := cat(sections[i+1].([]any)...)
		b = append(b, byte(id))
		b = appendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b
}

// cat concatenates bytes, byte slices, strings (as names) and ints (as
// unsigned LEB128).
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case byte:
			b = append(b, p)
		case []byte:
			b = append(b, p...)
		case string:
			b = appendName(b, p)
		case int:
			b = appendU32(b, uint32(p))
		default:
			panic(p)
		}
	}
	return b
}

// body is a function body: no locals, the code, end.
func body(code ...any) []byte {
	c := cat(append([]any{0}, code...)...)
	c = append(c, 0x0b)
	return cat(len(c), c)
}

type tickHost struct {
	calls, stopAfter int
}

var errStop = errors.New("stopped by the tick")

// runtime starts wazero with the tick host function and an "env" module
// whose add1 adds one.
func newRuntime(t *testing.T, h *tickHost) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { r.Close(ctx) })
	_, err := r.NewHostModuleBuilder(ImportModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			h.calls++
			if h.stopAfter > 0 && h.calls >= h.stopAfter {
				panic(errStop)
			}
			stack[0] = 1000
		}), nil, []api.ValueType{api.ValueTypeI32}).Export(ImportName).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(x uint32) uint32 { return x + 1 }).Export("add1").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func instantiate(t *testing.T, r wazero.Runtime, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	out, err := Instrument(wasm, 1000)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	i32     = 0x7f
	funcref = 0x70
)

func TestLoopIsInterrupted(t *testing.T) {
	// (func (export "run") (loop (br 0)))
	wasm := mod(
		secType, []any{1, byte(0x60), 0, 0},
		secFunction, []any{1, 0},
		secExport, []any{1, "run", byte(0), 0},
		secCode, []any{1, body(byte(0x03), byte(0x40), byte(0x0c), 0, byte(0x0b))},
	)
	h := &tickHost{stopAfter: 3}
	m := instantiate(t, newRuntime(t, h), wasm)
	_, err := m.ExportedFunction("run").Call(context.Background())
	if !errors.Is(err, errStop) || h.calls != 3 {
		t.Fatalf("error %v after %d ticks, want errStop after 3", err, h.calls)
	}
}

func TestRecursionIsInterrupted(t *testing.T) {
	// (func $f (export "run") (param i32)
	//   (if (local.get 0) (then
	//     (call $f (i32.sub (local.get 0) (i32.const 1)))
	//     (call $f (i32.sub (local.get 0) (i32.const 1))))))
	// has no loop and runs 2^n calls.
	rec := []any{byte(0x20), 0, byte(0x41), 1, byte(0x6b), byte(0x10), 0}
	code := append([]any{byte(0x20), 0, byte(0x04), byte(0x40)}, rec...)
	code = append(code, rec...)
	code = append(code, byte(0x0b))
	wasm := mod(
		secType, []any{1, byte(0x60), 1, byte(i32), 0},
		secFunction, []any{1, 0},
		secExport, []any{1, "run", byte(0), 0},
		secCode, []any{1, body(code...)},
	)
	h := &tickHost{stopAfter: 5}
	m := instantiate(t, newRuntime(t, h), wasm)
	_, err := m.ExportedFunction("run").Call(context.Background(), 60)
	if !errors.Is(err, errStop) || h.calls != 5 {
		t.Fatalf("error %v after %d ticks, want errStop after 5", err, h.calls)
	}
}

func TestBudget(t *testing.T) {
	// (func (export "run") (param i32) (result i32): counts down from the
	// argument in a loop, each iteration one check.
	code := []any{
		byte(0x03), byte(0x40), // loop
		byte(0x20), 0, byte(0x41), 1, byte(0x6b), byte(0x22), 0, // local.tee 0 (n-1)
		byte(0x0d), 0, // br_if 0
		byte(0x0b), // end
		byte(0x20), 0,
	}
	wasm := mod(
		secType, []any{1, byte(0x60), 1, byte(i32), 1, byte(i32)},
		secFunction, []any{1, 0},
		secExport, []any{1, "run", byte(0), 0},
		secCode, []any{1, body(code...)},
	)
	h := &tickHost{}
	m := instantiate(t, newRuntime(t, h), wasm)
	// The initial budget is 1000 and each tick returns 1000: 10000
	// iterations (and the function entry) tick 10 times.
	if _, err := m.ExportedFunction("run").Call(context.Background(), 10000); err != nil || h.calls != 10 {
		t.Fatalf("error %v, %d ticks, want 10", err, h.calls)
	}
}

// TestRenumbering runs a module whose defined functions are referred to
// from every place a function index can appear, instrumented and not,
// and compares the results and the function names.
func TestRenumbering(t *testing.T) {
	// Imports: env.add1 (func 0). Defined: $a (1) = add1(x) * 2 via $b,
	// $b (2) = x * 2, $c (3) = call_indirect table[i](x), $start (4) sets
	// global 0 to 7, $d (5) returns the ref.func global's target called
	// with x through table.set + call_indirect.
	types := []any{3,
		byte(0x60), 1, byte(i32), 1, byte(i32), // 0: (i32) -> i32
		byte(0x60), 2, byte(i32), byte(i32), 1, byte(i32), // 1: (i32, i32) -> i32
		byte(0x60), 0, 0, // 2: () -> ()
	}
	imports := []any{1, "env", "add1", byte(0), 0}
	funcs := []any{5, 0, 0, 1, 2, 0}
	table := []any{1, byte(funcref), byte(0), 4}
	globals := []any{2,
		byte(i32), byte(1), byte(0x41), 0, byte(0x0b), // mut i32 = 0
		byte(funcref), byte(0), byte(0xd2), 2, byte(0x0b), // funcref = ref.func $b
	}
	exports := []any{5, "a", byte(0), 1, "c", byte(0), 3, "d", byte(0), 5, "g", byte(3), 0, "t", byte(1), 0}
	start := []any{4}
	elems := []any{2,
		0, byte(0x41), 0, byte(0x0b), 2, 1, 2, // active, table 0 at 0: $a, $b
		7, byte(funcref), 1, byte(0xd2), 5, byte(0x0b), // declarative: ref.func $d
	}
	code := []any{5,
		body(byte(0x20), 0, byte(0x10), 0, byte(0x10), 2),                                                 // $a
		body(byte(0x20), 0, byte(0x41), 2, byte(0x6c)),                                                    // $b
		body(byte(0x20), 1, byte(0x20), 0, byte(0x11), 0, 0),                                              // $c
		body(byte(0x41), 7, byte(0x24), 0),                                                                // $start
		body(byte(0x41), 3, byte(0x23), 1, byte(0x26), 0, byte(0x20), 0, byte(0x41), 3, byte(0x11), 0, 0), // $d
	}
	names := []any{"name",
		byte(1), cat(5, 1, "a", 2, "b", 3, "c", 4, "start", 5, "d"),
	}
	names[2] = cat(len(names[2].([]byte)), names[2].([]byte))
	wasm := mod(
		secType, types, secImport, imports, secFunction, funcs, secTable, table,
		secGlobal, globals, secExport, exports, secStart, start, secElement, elems,
		secCode, code, secCustom, names,
	)
	ctx := context.Background()
	h := &tickHost{}
	r := newRuntime(t, h)
	plain, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName("plain"))
	if err != nil {
		t.Fatal(err)
	}
	inst := instantiate(t, r, wasm)
	call := func(m api.Module, fn string, args ...uint64) uint64 {
		t.Helper()
		res, err := m.ExportedFunction(fn).Call(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	for _, tc := range []struct {
		fn   string
		args []uint64
		want uint64
	}{
		{"a", []uint64{5}, 12}, {"c", []uint64{0, 5}, 12}, {"c", []uint64{1, 5}, 10}, {"d", []uint64{5}, 10},
	} {
		if got, orig := call(inst, tc.fn, tc.args...), call(plain, tc.fn, tc.args...); got != tc.want || orig != tc.want {
			t.Errorf("%s%v = %d instrumented, %d plain; want %d", tc.fn, tc.args, got, orig, tc.want)
		}
	}
	if g := inst.ExportedGlobal("g").Get(); g != 7 {
		t.Errorf("the start function set g to %d, want 7", g)
	}
	for fn, want := range map[string]string{"a": "a", "c": "c", "d": "d"} {
		if got := inst.ExportedFunction(fn).Definition().Name(); got != want {
			t.Errorf("function %s is named %q, want %q", fn, got, want)
		}
	}
	if h.calls != 0 {
		t.Errorf("%d ticks", h.calls)
	}
}

func TestNoImportsNoGlobals(t *testing.T) {
	// A module with no type-less sections but code: the rewrite creates
	// the import and global sections in their places.
	wasm := mod(
		secType, []any{1, byte(0x60), 0, 1, byte(i32)},
		secFunction, []any{1, 0},
		secMemory, []any{1, byte(0), 1},
		secExport, []any{1, "run", byte(0), 0},
		secCode, []any{1, body(byte(0x41), 42)},
		secData, []any{0},
	)
	m := instantiate(t, newRuntime(t, &tickHost{}), wasm)
	res, err := m.ExportedFunction("run").Call(context.Background())
	if err != nil || res[0] != 42 {
		t.Fatalf("run() = %v, %v", res, err)
	}
}

func TestRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		wasm []byte
		want string
	}{
		"atomics": {mod(
			secType, []any{1, byte(0x60), 0, 0},
			secFunction, []any{1, 0},
			secCode, []any{1, body(byte(0xfe), 3, byte(0))},
		), "instruction 0xfe"},
		"tags":       {mod(secTag, []any{0}), "exception handling"},
		"huge type":  {[]byte("\x00asm\x01\x00\x00\x00\x01\x060`\xff\xff\xff\x7f"), "overruns"},
		"huge table": {[]byte("\x00asm\x01\x00\x00\x00\x04\x1c\x8b\x8b\x8b0\x8b00000000000000000000000"), "overruns"},
		"many locals": {mod(secType, []any{1, byte(0x60), 0, 0}, secFunction, []any{1, 0},
			secCode, []any{1, cat(8, 1, 0xffffffff, byte(i32), byte(0x0b))}), "declares 4294967295 locals"},
		"truncated": {mod(secCode, []any{1, 5, 0}), "overrun"},
		"not wasm":  {[]byte("hello"), "not a WebAssembly"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, 1000)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzInstrument checks that Instrument never panics, and that what it
// returns for a module wazero compiles, wazero compiles too.
func FuzzInstrument(f *testing.F) {
	f.Add(mod(
		secType, []any{1, byte(0x60), 0, 0},
		secFunction, []any{1, 0},
		secCode, []any{1, body(byte(0x03), byte(0x40), byte(0x0c), 0, byte(0x0b))},
	))
	f.Add(mod(secType, []any{1, byte(0x60), 1, byte(i32), 1, byte(i32)}, secFunction, []any{1, 0},
		secCode, []any{1, body(byte(0x02), byte(0x7f), byte(0x20), 0, byte(0x0b), byte(0xfd), 12, make([]byte, 16), byte(0x1a))}))
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, 1000)
		if err != nil {
			return
		}
		if cm, err := r.CompileModule(ctx, wasm); err == nil {
			cm.Close(ctx)
			cm2, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("wazero compiles the module but not its instrumented version: %v", err)
			}
			cm2.Close(ctx)
		}
	})
}

// TestForeignBudget: code of the module as written cannot name the
// budget global (the index after its own globals), nor the tick's type.
func TestForeignBudget(t *testing.T) {
	// (loop (global.set 0 (i32.const 5)) (br 0)) with no globals of its
	// own: global 0 is the budget after the rewrite.
	wasm := mod(
		secType, []any{1, byte(0x60), 0, 0},
		secFunction, []any{1, 0},
		secExport, []any{1, "run", byte(0), 0},
		secCode, []any{1, body(byte(0x03), byte(0x40), byte(0x41), 5, byte(0x24), 0, byte(0x0c), 0, byte(0x0b))},
	)
	if _, err := Instrument(wasm, 1000); err == nil || !strings.Contains(err.Error(), "global 0") {
		t.Fatalf("error %v, want one about global 0", err)
	}
	// The same through an export of the global, and call_indirect of the
	// tick's type (type 1, the module has one).
	for name, w := range map[string][]byte{
		"export": mod(secType, []any{1, byte(0x60), 0, 0}, secExport, []any{1, "g", byte(3), 0}),
		"call_indirect": mod(secType, []any{1, byte(0x60), 0, 0}, secFunction, []any{1, 0}, secTable, []any{1, byte(funcref), byte(0), 1},
			secCode, []any{1, body(byte(0x41), 0, byte(0x11), 1, 0)}),
		"block type": mod(secType, []any{1, byte(0x60), 0, 0}, secFunction, []any{1, 0},
			secCode, []any{1, body(byte(0x02), 1, byte(0x0b))}),
	} {
		if _, err := Instrument(w, 1000); err == nil {
			t.Errorf("%s: instrumented", name)
		}
	}
}
