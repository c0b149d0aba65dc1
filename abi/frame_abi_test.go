package abi

import (
	"errors"
	"strings"
	"testing"
)

func frFn(name string, t FuncType) Export { return Export{Name: name, Kind: ExternFunc, Type: t} }

// frGoodModule is the interface of a well-formed guest.
func frGoodModule() ModuleInterface {
	return ModuleInterface{
		Imports: []Import{
			{Module: ImportModule, Name: ImportFlush, Kind: ExternFunc, Type: HostFuncs()[ImportFlush]},
			{Module: ImportModule, Name: ImportQuery, Kind: ExternFunc, Type: HostFuncs()[ImportQuery]},
			{Module: WASIModule, Name: "fd_write", Kind: ExternFunc,
				Type: FuncType{Params: []ValType{ValI32, ValI32, ValI32, ValI32}, Results: []ValType{ValI32}}},
		},
		Exports: []Export{
			{Name: ExportMemory, Kind: ExternMemory},
			frFn(ExportInitialize, FuncType{}),
			frFn(ExportInbox, GuestFuncs()[ExportInbox]),
			frFn(ExportInit, GuestFuncs()[ExportInit]),
			frFn(ExportProcess, GuestFuncs()[ExportProcess]),
			frFn(MarkerName(1, 0), FuncType{}),
		},
		MemoryMinPages: 550,
	}
}

func TestFrameCheckInterface_OK(t *testing.T) {
	minor, err := CheckInterface(frGoodModule(), Minor, 4096)
	if err != nil || minor != 0 {
		t.Fatalf("CheckInterface = %d, %v", minor, err)
	}
	// _initialize is optional.
	m := frGoodModule()
	m.Exports = append(m.Exports[:1], m.Exports[2:]...)
	if _, err := CheckInterface(m, Minor, 0); err != nil {
		t.Fatalf("without _initialize: %v", err)
	}
}

func TestFrameCheckInterface_Problems(t *testing.T) {
	i32 := []ValType{ValI32}
	cases := []struct {
		name   string
		edit   func(m *ModuleInterface)
		minor  int
		limit  uint32
		want   []string
		single bool
	}{
		{"env import", func(m *ModuleInterface) {
			m.Imports = append(m.Imports, Import{Module: "env", Name: "abort", Kind: ExternFunc})
		}, 0, 0, []string{`import "env"."abort": a Squall module may import only from "squall_v1" and "wasi_snapshot_preview1"`}, true},
		{"v2 module", func(m *ModuleInterface) {
			m.Imports = append(m.Imports,
				Import{Module: "squall_v2", Name: "flush", Kind: ExternFunc},
				Import{Module: "squall_v2", Name: "query", Kind: ExternFunc})
			m.Exports[5] = frFn(MarkerName(2, 0), FuncType{})
		}, 0, 0, []string{
			`import "squall_v2"."flush": the module was built for Squall ABI v2 and this host speaks v1 (import module "squall_v1"); deploy it to a host that supports that version, or rebuild it with a v1 SDK`,
			`export "squall_abi_2_0": the module needs Squall ABI 2.0 and this host speaks 1.0`,
		}, false},
		{"unknown host function", func(m *ModuleInterface) {
			m.Imports = append(m.Imports, Import{Module: ImportModule, Name: "metric", Kind: ExternFunc, Type: FuncType{Params: i32s(2)}})
		}, 0, 0, []string{`import "squall_v1"."metric": this host (Squall ABI 1.0) has no such function; the module may need a newer host`}, true},
		{"wrong import type", func(m *ModuleInterface) {
			m.Imports[0].Type = FuncType{Params: i32, Results: i32}
		}, 0, 0, []string{`import "squall_v1"."flush": has type (i32) -> i32; ABI v1 defines (i32, i32) -> i32`}, true},
		{"imported memory", func(m *ModuleInterface) {
			m.Imports = append(m.Imports, Import{Module: WASIModule, Name: "memory", Kind: ExternMemory})
		}, 0, 0, []string{`import "wasi_snapshot_preview1"."memory": is a memory; a Squall module may import only functions (it must define and export its own memory)`}, true},
		{"unknown wasi function", func(m *ModuleInterface) {
			m.Imports = append(m.Imports, Import{Module: WASIModule, Name: "thread_spawn", Kind: ExternFunc})
		}, 0, 0, []string{`import "wasi_snapshot_preview1"."thread_spawn": not a WASI preview1 function`}, true},
		{"command module", func(m *ModuleInterface) {
			m.Exports = append(m.Exports, frFn(ExportStart, FuncType{}))
		}, 0, 0, []string{`export "_start": the module is a WASI command; build it as a reactor (Go: -buildmode=c-shared; Rust: crate-type cdylib; C: -mexec-model=reactor)`}, true},
		{"missing exports", func(m *ModuleInterface) {
			m.Exports = []Export{{Name: ExportMemory, Kind: ExternMemory}, frFn(ExportInbox, FuncType{Results: i32}), frFn(MarkerName(1, 0), FuncType{})}
		}, 0, 0, []string{
			`export "squall_inbox": has type () -> i32; want (i32) -> i32`,
			`export "squall_init": missing; it must be a function of type (i32) -> i32 (Squall SDKs define it)`,
			`export "squall_process": missing; it must be a function of type (i32) -> i32 (Squall SDKs define it)`,
		}, false},
		{"no memory", func(m *ModuleInterface) { m.Exports = m.Exports[1:] }, 0, 0,
			[]string{`export "memory": missing; a Squall module must export its linear memory as "memory"`}, true},
		{"memory too big", func(m *ModuleInterface) {}, 0, 512, []string{
			`export "memory": the module needs at least 550 pages (34.375 MiB) of memory and the limit is 512 pages (32 MiB); raise the memory limit or reduce the module's initial memory`,
		}, true},
		{"no marker", func(m *ModuleInterface) { m.Exports = m.Exports[:5] }, 0, 0,
			[]string{`no ABI version marker: the module must export a function named "squall_abi_1_<minor>"; was it built with a Squall SDK?`}, true},
		{"two markers", func(m *ModuleInterface) { m.Exports = append(m.Exports, frFn(MarkerName(1, 1), FuncType{})) }, 1, 0,
			[]string{`several ABI version markers ("squall_abi_1_0", "squall_abi_1_1"); export exactly one`}, true},
		{"newer minor", func(m *ModuleInterface) { m.Exports[5] = frFn(MarkerName(1, 3), FuncType{}) }, 0, 0,
			[]string{`export "squall_abi_1_3": the module needs Squall ABI 1.3 and this host supports up to 1.0; upgrade the host`}, true},
		{"malformed marker", func(m *ModuleInterface) { m.Exports[5] = frFn("squall_abi_1_01", FuncType{}) }, 0, 0,
			[]string{`export "squall_abi_1_01": not a valid ABI version marker; the form is "squall_abi_<major>_<minor>" in decimal`}, true},
		{"marker with a type", func(m *ModuleInterface) { m.Exports[5] = frFn(MarkerName(1, 0), FuncType{Results: i32}) }, 0, 0,
			[]string{`export "squall_abi_1_0": the ABI version marker must be a function of type () -> ()`}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := frGoodModule()
			tc.edit(&m)
			_, err := CheckInterface(m, tc.minor, tc.limit)
			var ie *InterfaceError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an *InterfaceError", err)
			}
			if strings.Join(ie.Problems, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems\n got:\n\t%s\nwant:\n\t%s", strings.Join(ie.Problems, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			prefix := "abi: the module cannot run on this host (Squall ABI 1." + itoa(int64(tc.minor)) + "): "
			if tc.single && err.Error() != prefix+tc.want[0] {
				t.Errorf("message %q", err.Error())
			}
		})
	}
}

func TestFrameMarker(t *testing.T) {
	if got := MarkerName(1, 12); got != "squall_abi_1_12" {
		t.Errorf("MarkerName = %q", got)
	}
	for name, want := range map[string][2]int{"squall_abi_1_0": {1, 0}, "squall_abi_1_12": {1, 12}, "squall_abi_2_65535": {2, 65535}} {
		mj, mn, ok := ParseMarker(name)
		if !ok || mj != want[0] || mn != want[1] {
			t.Errorf("ParseMarker(%q) = %d, %d, %v", name, mj, mn, ok)
		}
	}
	for _, name := range []string{"squall_abi_1", "squall_abi_1_", "squall_abi__0", "squall_abi_01_0", "squall_abi_1_0_0",
		"squall_abi_1_65536", "squall_abi_1_-1", "squall_abi_1_x", "squall_v1", "__squall_abi_1_0"} {
		if _, _, ok := ParseMarker(name); ok {
			t.Errorf("ParseMarker(%q) accepted", name)
		}
	}
}

func TestFrameNames(t *testing.T) {
	if EINVAL.String() != "EINVAL" || EMULTI.Error() != "EMULTI: more than one value" || Errno(-99).String() != "errno(-99)" {
		t.Errorf("errno names: %v %v %v", EINVAL, EMULTI.Error(), Errno(-99))
	}
	if ResultStatusString(ResultNotFound) != "NOT_FOUND" || ResultStatusString(int32(EWRONGPART)) != "EWRONGPART" {
		t.Error("result status names")
	}
	if EffectHop.String() != "HOP" || PartitionDirect.String() != "DIRECT" || AckAppendAck.String() != "APPEND_ACK" ||
		OutcomeRetry.String() != "RETRY" || LogWarn.String() != "WARN" || QuerySelectOne.String() != "SELECT_ONE" ||
		ItemHop.String() != "HOP" || FrameResponse.String() != "response" {
		t.Error("enum names")
	}
	if got := (FuncType{Params: i32s(4), Results: []ValType{ValI32}}).String(); got != "(i32, i32, i32, i32) -> i32" {
		t.Errorf("FuncType.String = %q", got)
	}
}

func TestFrameKeyPartition(t *testing.T) {
	// FNV-1a of the empty input is its offset basis; the finalizer maps it.
	if KeyPartition(nil, 0) != 0 {
		t.Error("0 tasks")
	}
	// Keys that differ only in high bits of a byte land on different
	// partitions (plain FNV-1a mod 2^k would not separate "a" and "q").
	a, q := KeyPartition(frEnc(String("a")), 16), KeyPartition(frEnc(String("q")), 16)
	if a == q {
		t.Errorf("\"a\" and \"q\" both on partition %d of 16", a)
	}
	// Spread: 64k int keys over 64 partitions, each within 20% of the mean.
	counts := make([]int, 64)
	for i := range 1 << 16 {
		counts[KeyPartition(frEnc(Int(int64(i))), 64)]++
	}
	for p, c := range counts {
		if c < 1024*8/10 || c > 1024*12/10 {
			t.Errorf("partition %d got %d of 65536 keys", p, c)
		}
	}
}
