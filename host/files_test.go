package host

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
)

// withFiles appends a file tree section holding files (name → content).
func withFiles(t *testing.T, wasm []byte, files map[string]string) []byte {
	t.Helper()
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return appendCustom(wasm, abi.FilesSection, zbuf.Bytes())
}

func appendCustom(wasm []byte, name string, content []byte) []byte {
	leb := func(b []byte, v int) []byte {
		for {
			c := byte(v & 0x7f)
			v >>= 7
			if v == 0 {
				return append(b, c)
			}
			b = append(b, c|0x80)
		}
	}
	body := append(leb(nil, len(name)), name...)
	body = append(body, content...)
	out := append(append([]byte{}, wasm...), 0)
	out = leb(out, len(body))
	return append(out, body...)
}

func TestFileTree(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	ctx := context.Background()
	echo := fixture(t, "echo")
	read := func(m *Module) abi.Value {
		t.Helper()
		in := instantiate(t, m)
		h := &memHandler{}
		if _, err := in.Process(ctx, batchOf(abi.String("read-files")), h); err != nil {
			t.Fatal(err)
		}
		return emitted(t, h)
	}

	a, err := r.Compile(ctx, "a", withFiles(t, echo, map[string]string{"app/hello.txt": "hello from a", "app/b/c.txt": "c"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Compile(ctx, "b", withFiles(t, echo, map[string]string{"app/hello.txt": "hello from b"}))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Compile(ctx, "plain", echo)
	if err != nil {
		t.Fatal(err)
	}
	// One runtime binary, one compilation, whatever files ride along.
	if a.c != b.c || a.c != plain.c {
		t.Error("modules that differ only in their file trees do not share compiled code")
	}

	v := read(a)
	data, _ := v.Index(0).AsBytes()
	readErr, _ := v.Index(1).AsString()
	if string(data) != "hello from a" || readErr != "" {
		t.Errorf("module a read %q, error %q", data, readErr)
	}
	var names []string
	for _, n := range v.Index(3).Items() {
		s, _ := n.AsString()
		names = append(names, s)
	}
	if got := strings.Join(names, " "); got != "b hello.txt" {
		t.Errorf("module a lists /squall/app as %q", got)
	}
	for i, what := range []string{"WriteFile", "open O_RDONLY|O_CREATE", "open O_RDONLY|O_TRUNC", "Remove", "Mkdir"} {
		e, _ := v.Index(2).Index(i).AsString()
		if !strings.Contains(e, "Read-only file system") {
			t.Errorf("%s on the file tree: error %q, want EROFS", what, e)
		}
	}
	if data, _ := read(b).Index(0).AsBytes(); string(data) != "hello from b" {
		t.Errorf("module b read %q: each module must see its own files", data)
	}
	if readErr, _ := read(plain).Index(1).AsString(); readErr == "" {
		t.Errorf("a module without a file tree read /squall/app/hello.txt: error %q", readErr)
	}
}

func TestFileTreeInvalid(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	echo := fixture(t, "echo")
	for _, tc := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"not a zip", appendCustom(echo, abi.FilesSection, []byte("not a zip")),
			`host: module "m": its file tree (custom section squall.files) is invalid: the file tree is not a zip archive`},
		{"escaping name", withFiles(t, echo, map[string]string{"../etc/passwd": "x"}),
			`file tree entry "../etc/passwd": names must be relative`},
		{"two sections", withFiles(t, withFiles(t, echo, map[string]string{"a": "1"}), map[string]string{"b": "2"}),
			`a second "squall.files" custom section`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Compile(context.Background(), "m", tc.wasm)
			if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidModule containing %q", err, tc.want)
			}
		})
	}
}
