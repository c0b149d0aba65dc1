package build

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/squall-run/squall/host"
)

// TestNativeCodecMatchesTypeScript runs testdata/codecdiff inside the
// QuickJS runtime: the runtime's native MessagePack codec against the
// SDK's pure-TS codec (the reference mapping) on every golden input of
// abi/testdata and on constructed JS values. The driver fails squall_init
// with the differences it found.
func TestNativeCodecMatchesTypeScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with npm, tsc, esbuild and the QuickJS runtime")
	}
	sdk, err := filepath.Abs("../../guest-sdks/typescript/src")
	if err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(sdk, "msgpack.ts")) {
		t.Skip("the TypeScript SDK's codec (guest-sdks/typescript/src/msgpack.ts) is not there yet")
	}
	var inputs [][3]string
	read := func(file string, row func(m map[string]any) [3]string) {
		b, err := os.ReadFile(filepath.Join("../../abi/testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			inputs = append(inputs, row(m))
		}
	}
	s := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	read("values.jsonl", func(m map[string]any) [3]string { return [3]string{s(m, "name"), s(m, "hex"), s(m, "hex")} })
	read("noncanonical.jsonl", func(m map[string]any) [3]string { return [3]string{s(m, "name"), s(m, "input"), s(m, "hex")} })
	read("invalid.jsonl", func(m map[string]any) [3]string { return [3]string{s(m, "name"), s(m, "hex"), ""} })
	vectors, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	driver, err := os.ReadFile("testdata/codecdiff/index.ts")
	if err != nil {
		t.Fatal(err)
	}
	tsconfig, _ := json.Marshal(map[string]any{
		"compilerOptions": map[string]any{
			"strict": true, "target": "ES2020", "module": "ESNext", "moduleResolution": "Bundler",
			"lib": []string{"ES2020"}, "noEmit": true, "skipLibCheck": true,
			"allowImportingTsExtensions": true,
			"paths":                      map[string]any{"@sdk/*": []string{sdk + "/*"}},
		},
		"include": []string{"src"},
	})
	dir := writeTree(t, map[string]string{
		"package.json":   `{"name": "codecdiff", "private": true}`,
		"tsconfig.json":  string(tsconfig),
		"src/index.ts":   string(driver),
		"src/vectors.ts": "export const inputs: Array<[string, string, string]> = " + string(vectors) + ";\n",
	})
	out := filepath.Join(t.TempDir(), "codecdiff.wasm")
	ctx := context.Background()
	if err := TypeScript(ctx, dir, out); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := compile(t, newRuntime(t), "codecdiff", wasm)
	if _, err := m.Describe(ctx, host.InitParams{Tasks: 1}); err != nil {
		var ge *host.GuestError
		if errors.As(err, &ge) && ge.Detail != nil {
			t.Fatalf("the native codec differs from the TypeScript one: %s", ge.Detail.Message)
		}
		t.Fatal(err)
	}
}
