package build

import (
	"context"
	"strings"
	"testing"

	"github.com/squall-run/squall/host"
)

// TestAppendFiles builds a real module with a file tree and runs it: the
// host must strip the section, share the compiled code and accept the zip.
func TestAppendFiles(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	files := []File{{Name: "app/main.py", Data: []byte("print(1)\n")}, {Name: "meta.json", Data: []byte(`{"entry":"main"}`)}}
	a, err := AppendFiles(wasm, files)
	if err != nil {
		t.Fatal(err)
	}
	b, err := AppendFiles(wasm, []File{files[1], files[0]})
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("the same files in another order gave other bytes; builds must be reproducible")
	}
	if _, err := AppendFiles(a, files); err == nil || !strings.Contains(err.Error(), "already has a squall.files section") {
		t.Errorf("appending twice: %v", err)
	}
	for _, bad := range []string{"/abs", "../up", "a/./b", ""} {
		if _, err := AppendFiles(wasm, []File{{Name: bad}}); err == nil || !strings.Contains(err.Error(), "relative slash path") {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, err := AppendFiles(wasm, []File{{Name: "x"}, {Name: "x"}}); err == nil || !strings.Contains(err.Error(), `"x" appears twice`) {
		t.Errorf("duplicate: %v", err)
	}
	// The host reads it back: an empty module with a valid tree fails the
	// ABI interface check, not the file tree's.
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	_, err = rt.Compile(ctx, "m", a)
	if err == nil || strings.Contains(err.Error(), "file tree") {
		t.Errorf("compile: %v; want an interface error, not a file tree error", err)
	}
}
