package wasmbin

import (
	"strings"
	"testing"
)

// module assembles a binary from sections given as (id, contents).
func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s[0])
		b = append(b, leb(uint32(len(s)-1))...)
		b = append(b, s[1:]...)
	}
	return b
}

func leb(v uint32) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, c|0x80)
			continue
		}
		return append(out, c)
	}
}

func name(s string) []byte { return append(leb(uint32(len(s))), s...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestRead(t *testing.T) {
	imports := cat([]byte{2}, leb(5),
		name("squall_v1"), name("flush"), []byte{KindFunc}, leb(0),
		name("env"), name("table"), []byte{KindTable, 0x70, 0x01}, leb(1), leb(10),
		name("env"), name("memory"), []byte{KindMemory, 0x00}, leb(17),
		name("env"), name("g"), []byte{KindGlobal, 0x7f, 0x00},
		name("wasi_snapshot_preview1"), name("fd_write"), []byte{KindFunc}, leb(300),
	)
	exports := cat([]byte{7}, leb(3),
		name("memory"), []byte{KindMemory}, leb(0),
		name("squall_abi_1_0"), []byte{KindFunc}, leb(2),
		name("g"), []byte{KindGlobal}, leb(0),
	)
	custom := cat([]byte{0}, name("name"), []byte{1, 2, 3})
	s, err := Read(module(custom, imports, exports))
	if err != nil {
		t.Fatal(err)
	}
	want := []Import{{"squall_v1", "flush", KindFunc, 0}, {"env", "table", KindTable, 0}, {"env", "memory", KindMemory, 0},
		{"env", "g", KindGlobal, 0}, {"wasi_snapshot_preview1", "fd_write", KindFunc, 1}}
	if len(s.Imports) != len(want) {
		t.Fatalf("imports %+v", s.Imports)
	}
	for i := range want {
		if s.Imports[i] != want[i] {
			t.Errorf("import %d: %+v, want %+v", i, s.Imports[i], want[i])
		}
	}
	if len(s.Exports) != 3 || s.Exports[1] != (Export{"squall_abi_1_0", KindFunc, 2}) || s.Exports[2].Kind != KindGlobal {
		t.Errorf("exports %+v", s.Exports)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"\x00asm\x01\x00\x00\x00", ""},
		{"", `not a WebAssembly module: starts with nothing (the input is empty); expected "\x00asm" (00 61 73 6d)`},
		{"PK\x03\x04zipzip", `not a WebAssembly module: starts with 50 4b 03 04 ("PK\x03\x04"); expected "\x00asm" (00 61 73 6d)`},
		{"\x00asm\x01", "truncated WebAssembly module: 5 bytes, shorter than its 8-byte preamble"},
		{"\x00asm\x0d\x00\x01\x00", "a WebAssembly component, not a core module"},
		{"\x00asm\x02\x00\x00\x00", "unsupported WebAssembly binary version 02 00 00 00; expected 01 00 00 00"},
	} {
		err := Check([]byte(tc.in))
		if (err == nil) != (tc.want == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("Check(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		bin  []byte
		want string
	}{
		{"section overrun", append([]byte("\x00asm\x01\x00\x00\x00"), 2, 50, 1), "section 2 of 50 bytes overruns the binary"},
		{"import count", module(cat([]byte{2}, leb(1000))), "import count 1000 overruns its section"},
		{"import name", module(cat([]byte{2}, leb(1), leb(40), []byte("abcd"))), "name of 40 bytes overruns its section"},
		{"import kind", module(cat([]byte{2}, leb(1), name("a"), name("b"), []byte{9})), `import "a"."b" has unknown kind 0x09`},
		{"long leb", module(cat([]byte{2}, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01})), "LEB128 longer than 5 bytes"},
		{"export kind", module(cat([]byte{7}, leb(1), name("x"), []byte{7, 0})), `export "x" has unknown kind 0x07`},
	} {
		_, err := Read(tc.bin)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(module(cat([]byte{2}, leb(1), name("squall_v1"), name("flush"), []byte{KindFunc}, leb(0))))
	f.Add(module(cat([]byte{7}, leb(1), name("memory"), []byte{KindMemory}, leb(0))))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Read(b)
		if err == nil && s == nil {
			t.Fatal("nil sections without an error")
		}
	})
}

func TestSplitCustom(t *testing.T) {
	files := cat([]byte{0}, name("squall.files"), []byte("PK-zip"))
	other := cat([]byte{0}, name("name"), []byte{1, 2, 3})
	types := cat([]byte{1}, leb(0))
	for _, tc := range []struct {
		name        string
		in          []byte
		rest        []byte
		content     string
		errContains string
	}{
		{name: "none", in: module(other, types), rest: module(other, types)},
		{name: "first", in: module(files, other, types), rest: module(other, types), content: "PK-zip"},
		{name: "last", in: module(types, files), rest: module(types), content: "PK-zip"},
		{name: "empty content", in: module(cat([]byte{0}, name("squall.files"))), rest: module(), content: ""},
		{name: "two", in: module(files, types, files), errContains: `a second "squall.files" custom section`},
		{name: "name overruns", in: module(cat([]byte{0}, leb(40), []byte("squall"))), errContains: "overruns its section"},
		{name: "section overruns", in: append(module(), 0, 9, 1), errContains: "overruns the binary"},
		{name: "not wasm", in: []byte("hello world"), errContains: "not a WebAssembly module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rest, content, err := SplitCustom(tc.in, "squall.files")
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.errContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != string(tc.rest) {
				t.Errorf("rest = % x, want % x", rest, tc.rest)
			}
			if string(content) != tc.content {
				t.Errorf("content = %q, want %q", content, tc.content)
			}
		})
	}
}
