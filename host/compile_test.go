package host

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

func TestCompileRejects(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	r := newRuntime(t, cfg)
	for _, tc := range []struct {
		name     string
		wasm     func(t *testing.T) []byte
		problems []string // the interface problems, in order; nil: not an interface error
		msg      string
	}{
		{name: "elf", wasm: func(*testing.T) []byte { return []byte("\x7fELF\x02\x01\x01\x00") },
			msg: `host: module "elf": not a WebAssembly module: starts with 7f 45 4c 46 ("\x7fELF"); expected "\x00asm" (00 61 73 6d)`},
		{name: "empty", wasm: func(*testing.T) []byte { return nil },
			msg: `host: module "empty": not a WebAssembly module: starts with nothing (the input is empty); expected "\x00asm"`},
		{name: "component", wasm: func(*testing.T) []byte { return []byte("\x00asm\x0d\x00\x01\x00") },
			msg: `a WebAssembly component, not a core module`},
		{name: "garbage", wasm: func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00\xff\xff") },
			msg: `host: module "garbage": not a valid WebAssembly module: `},
		{name: "v2import", wasm: func(t *testing.T) []byte { return fixture(t, "v2import") }, problems: []string{
			`import "squall_v2"."flush": the module was built for Squall ABI v2 and this host speaks v1 (import module "squall_v1"); deploy it to a host that supports that version, or rebuild it with a v1 SDK`}},
		{name: "unknownimport", wasm: func(t *testing.T) []byte { return fixture(t, "unknownimport") }, problems: []string{
			`import "squall_v1"."frobnicate": this host (Squall ABI 1.1) has no such function; the module may need a newer host`,
			`import "env"."abort": a Squall module may import only from "squall_v1" and "wasi_snapshot_preview1"`}},
		{name: "nomarker", wasm: func(t *testing.T) []byte { return fixture(t, "nomarker") }, problems: []string{
			`no ABI version marker: the module must export a function named "squall_abi_1_<minor>"; was it built with a Squall SDK?`}},
		{name: "command", wasm: func(t *testing.T) []byte { return fixture(t, "command") }, problems: []string{
			`export "_start": the module is a WASI command; build it as a reactor (Go: -buildmode=c-shared; Rust: crate-type cdylib; C: -mexec-model=reactor)`,
			`export "squall_inbox": missing; it must be a function of type (i32) -> i32 (Squall SDKs define it)`,
			`export "squall_init": missing; it must be a function of type (i32) -> i32 (Squall SDKs define it)`,
			`export "squall_process": missing; it must be a function of type (i32) -> i32 (Squall SDKs define it)`,
			`no ABI version marker: the module must export a function named "squall_abi_1_<minor>"; was it built with a Squall SDK?`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Compile(ctx, tc.name, tc.wasm(t))
			t.Logf("%v", err)
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("error %v, want one matching ErrInvalidModule", err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
			var ie *abi.InterfaceError
			if tc.problems == nil {
				if errors.As(err, &ie) {
					t.Errorf("unexpected interface error %v", err)
				}
				return
			}
			if !errors.As(err, &ie) {
				t.Fatalf("error %v, want an *abi.InterfaceError", err)
			}
			if strings.Join(ie.Problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ie.Problems, "\n"), strings.Join(tc.problems, "\n"))
			}
			if !strings.HasPrefix(err.Error(), `host: module "`+tc.name+`": abi: the module cannot run on this host (Squall ABI 1.1): `) {
				t.Errorf("error %q", err)
			}
		})
	}
	// The runtime still compiles and runs good modules.
	stillWorks(t, compile(t, r, "echo"))
}

func TestCompileMemoryTooLarge(t *testing.T) {
	cfg := testConfig(t)
	cfg.MemoryLimitPages = 16
	r := newRuntime(t, cfg)
	_, err := r.Compile(context.Background(), "echo", fixture(t, "echo"))
	want := regexp.MustCompile(`export "memory": the module needs at least \d+ pages \([0-9.]+ MiB\) of memory and the limit is 16 pages \(1 MiB\); raise the memory limit or reduce the module's initial memory$`)
	if !errors.Is(err, ErrInvalidModule) || !want.MatchString(err.Error()) {
		t.Errorf("error %v, want one matching %s", err, want)
	}
}

func TestCompileSharesCode(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, testConfig(t))
	wasm := fixture(t, "echo")
	a, err := r.Compile(ctx, "a", wasm)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Compile(ctx, "b", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if a.c != b.c || a.Name() != "a" || b.Name() != "b" {
		t.Fatalf("two compilations of the same bytes do not share their code")
	}
	in := instantiate(t, a)
	a.Close(ctx)
	if _, err := a.Instantiate(ctx, initParams); err == nil {
		t.Errorf("Instantiate on a closed module succeeded")
	}
	if _, err := b.Describe(ctx, initParams); err != nil {
		t.Errorf("b after closing a: %v", err)
	}
	b.Close(ctx)
	r.mu.Lock()
	n := len(r.compiled)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("%d compiled modules left after closing every module", n)
	}
	// Instances keep running after their module is closed.
	if _, err := in.Process(ctx, batchOf(abi.Int(1)), &memHandler{}); err != nil {
		t.Errorf("an instance of a closed module: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MemoryLimitPages = 70000
	cfg.BatchTimeout = 0
	cfg.InitTimeout = -time.Second
	cfg.MaxLogBytesPerCall = -1
	cfg.MaxOutputBytesPerCall = -1
	cfg.MaxEffectBytesPerCall = 0
	cfg.Mounts = []Mount{{HostDir: t.TempDir(), GuestPath: "lib"}, {HostDir: "/nonexistent", GuestPath: "/a/../b"},
		{HostDir: "host_test.go", GuestPath: "/x"}, {GuestPath: "/x"}}
	_, err := NewRuntime(context.Background(), cfg)
	want := `host: invalid Config: 12 problems:
	MemoryLimitPages is 70000; it must be between 1 and 65536 pages of 64 KiB (DefaultConfig has 4096, 256 MiB)
	BatchTimeout is 0s; it must be positive (DefaultConfig has 10s)
	InitTimeout is -1s; it must be positive (DefaultConfig has 30s)
	MaxLogBytesPerCall is -1; it must be 0 (no LOG output) or more
	MaxOutputBytesPerCall is -1; it must be 0 (no stdout/stderr output) or more
	MaxEffectBytesPerCall is 0; it must be at least 8 (DefaultConfig has 64 MiB)
	Mounts[0].GuestPath is "lib"; it must be an absolute path such as /usr/local/lib/python3.11
	Mounts[1].GuestPath is "/a/../b"; write it as "/b"
	Mounts[1].HostDir: stat /nonexistent: no such file or directory
	Mounts[2].HostDir "host_test.go" is not a directory
	Mounts[3].GuestPath "/x" is also Mounts[2].GuestPath`
	if err == nil || err.Error() != want+"\n\tMounts[3].HostDir is empty" {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if _, err := NewRuntime(context.Background(), Config{}); err == nil || !strings.Contains(err.Error(), "MemoryLimitPages is 0") {
		t.Errorf("a zero Config: %v", err)
	}
}

func TestInitParams(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	m := compile(t, r, "echo")
	for _, tasks := range []uint32{0, 3, 12} {
		if _, err := m.Instantiate(context.Background(), InitParams{Tasks: tasks}); err == nil || MustDiscard(err) ||
			!strings.Contains(err.Error(), "must be a power of two") {
			t.Errorf("tasks %d: %v", tasks, err)
		}
	}
}
