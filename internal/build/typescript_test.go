package build

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/squall-run/squall/host"
)

// tsFixture is a TypeScript project without the SDK: its entry defines
// globalThis.__squallEntry itself, with a class, generics and a closure,
// and flushes a hand-made DEFINE. When the init frame's DESCRIBE flag is
// clear (an instance start), it throws from src/fail.ts, line 3.
var tsFixture = map[string]string{
	"package.json":  `{"name": "fixture", "private": true, "version": "1.0.0"}`,
	"tsconfig.json": `{"compilerOptions": {"strict": true, "target": "ES2020", "module": "ESNext", "moduleResolution": "Bundler", "lib": ["ES2020"], "noEmit": true}, "include": ["src"]}`,
	"src/fail.ts": `export function fail(why: string): never {
  const prefix = "fixture";
  throw new TypeError(prefix + ": " + why);
}
`,
	"src/index.ts": `import { fail } from "./fail";

declare const __squall: { flush(frame: Uint8Array): number };

class Writer<T extends number> {
  private out: T[] = [];
  push(...xs: T[]): this { this.out.push(...xs); return this; }
  str(s: string): this { return this.push((0xa0 | s.length) as T, ...Array.from(s, (c) => c.charCodeAt(0) as T)); }
  bytes(): Uint8Array { return new Uint8Array(this.out); }
}

const def = new Writer<number>().push(0x83).str("depots").push(0x91, 0x82).str("name").str("d")
  .str("partitioner").push(0x81).str("kind").str("random")
  .str("pstates").push(0x90).str("topologies").push(0x90).bytes();

function effect(op: number, body: Uint8Array): Uint8Array {
  const head = [1, 3, 0, 0, 1, 0, 0, 0, body.length & 255, body.length >> 8, 0, 0, op, 0, 0, 0, 255, 255, 255, 255];
  return new Writer<number>().push(...head, ...body).bytes();
}

(globalThis as any).__squallEntry = {
  init(frame: Uint8Array): number {
    const describe = (frame[2] & 1) === 1;
    if (!describe) fail("instance start refused");
    return __squall.flush(effect(7, def)) === 0 ? 0 : 1;
  },
  process(_frame: Uint8Array): number { return 1; },
};
`,
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTypeScriptBuildRuns builds the fixture with the real toolchain (npm,
// tsc, esbuild, the QuickJS runtime), as bytecode and as source, and runs
// the artifact in the host: the definition comes through, and a throw at
// instance start reports the TypeScript file and line.
func TestTypeScriptBuildRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with npm, tsc, esbuild and the QuickJS runtime")
	}
	ctx := context.Background()
	dir := writeTree(t, tsFixture)
	for _, source := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "m.wasm")
		if err := TypeScriptWith(ctx, dir, out, TypeScriptOptions{Source: source}); err != nil {
			t.Fatal(err)
		}
		wasm, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m := compile(t, newRuntime(t), "fixture", wasm)
		def, err := m.Describe(ctx, host.InitParams{Tasks: 2})
		if err != nil {
			t.Fatalf("source=%v: %v", source, err)
		}
		if len(def.Depots) != 1 || def.Depots[0].Name != "d" {
			t.Errorf("source=%v: definition %+v", source, def)
		}
		_, err = m.Instantiate(ctx, host.InitParams{Tasks: 2})
		var ge *host.GuestError
		if !errors.As(err, &ge) || ge.Detail == nil {
			t.Fatalf("source=%v: instance start = %v, want the fixture's TypeError", source, err)
		}
		d := ge.Detail
		if d.Kind != "TypeError" || d.Message != "fixture: instance start refused" ||
			!strings.Contains(d.Stack, "at fail (src/fail.ts:3:") || !strings.Contains(d.Stack, "src/index.ts:") {
			t.Errorf("source=%v: detail %+v, want the stack mapped to src/fail.ts:3", source, d)
		}
	}
}

func TestTypeScriptBuildErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm and tsc")
	}
	typeErr := map[string]string{}
	for k, v := range tsFixture {
		typeErr[k] = v
	}
	typeErr["src/fail.ts"] = "export function fail(why: string): never {\n  const n: number = why;\n  throw new Error(String(n));\n}\n"
	noEntry := map[string]string{"package.json": `{"name": "x"}`}
	badEntry := map[string]string{"package.json": `{"name": "x", "squall": {"entry": "src/main.ts"}}`}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"type error", typeErr, "src/fail.ts(2,9): error TS2322: Type 'string' is not assignable to type 'number'."},
		{"no entry", noEntry, "has no src/index.ts or index.ts"},
		{"bad entry", badEntry, `"squall": {"entry": "src/main.ts"} names no file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := TypeScript(context.Background(), writeTree(t, tc.files), filepath.Join(t.TempDir(), "m.wasm"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("TypeScript() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// copyTree copies the files of src to dst, leaving out node_modules and
// dist (what a fresh checkout lacks).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTypeScriptBuildFreshCheckout builds the wordcount example as a fresh
// checkout has it: neither the example nor the SDK it depends on
// (file:../../../guest-sdks/typescript) has node_modules or dist. The
// builder installs the SDK's dependencies first, so that npm can run the
// SDK's prepare script when it installs the example's.
func TestTypeScriptBuildFreshCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("installs npm packages and builds with the real toolchain")
	}
	root := t.TempDir()
	copyTree(t, "../../guest-sdks/typescript", filepath.Join(root, "guest-sdks/typescript"))
	copyTree(t, "../../examples/wordcount/typescript", filepath.Join(root, "examples/wordcount/typescript"))
	out := filepath.Join(t.TempDir(), "wc.wasm")
	ctx := context.Background()
	if err := TypeScript(ctx, filepath.Join(root, "examples/wordcount/typescript"), out); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := compile(t, newRuntime(t), "wordcount", wasm)
	def, err := m.Describe(ctx, host.InitParams{Tasks: 4})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "wordcount" || len(def.Depots) != 1 || def.Depots[0].Name != "sentences" {
		t.Errorf("definition %+v", def)
	}
}

// TestTypeScriptBundlesNpmPackages builds a project that imports a
// CommonJS package from npm (fast-deep-equal): esbuild bundles it and it
// runs in QuickJS. The module's definition depends on what the package computes.
func TestTypeScriptBundlesNpmPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("installs an npm package and builds with the real toolchain")
	}
	files := map[string]string{}
	for k, v := range tsFixture {
		files[k] = v
	}
	files["package.json"] = `{"name": "withdeps", "private": true, "dependencies": {"fast-deep-equal": "3.1.3"}}`
	files["src/index.ts"] = strings.Replace(files["src/index.ts"], `import { fail } from "./fail";`,
		"import { fail } from \"./fail\";\nimport equal from \"fast-deep-equal\";\nconst depot = equal({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }) && !equal([1], [2]) ? \"d\" : \"x\";", 1)
	files["src/index.ts"] = strings.Replace(files["src/index.ts"], `.str("name").str("d")`, `.str("name").str(depot)`, 1)
	files["tsconfig.json"] = strings.Replace(files["tsconfig.json"], `"noEmit": true`, `"noEmit": true, "esModuleInterop": true`, 1)
	dir := writeTree(t, files)
	out := filepath.Join(t.TempDir(), "m.wasm")
	ctx := context.Background()
	if err := TypeScript(ctx, dir, out); err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := compile(t, newRuntime(t), "withdeps", wasm)
	def, err := m.Describe(ctx, host.InitParams{Tasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Depots) != 1 || def.Depots[0].Name != "d" {
		t.Errorf("definition %+v: the npm package did not compute what it should", def)
	}
}

// TestTypeScriptBuildWithoutTsconfig: a project without tsconfig.json is
// type-checked with strict defaults (a type error still fails the build)
// and builds.
func TestTypeScriptBuildWithoutTsconfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tsc and esbuild")
	}
	files := map[string]string{}
	for k, v := range tsFixture {
		if k != "tsconfig.json" {
			files[k] = v
		}
	}
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "m.wasm")
	if err := TypeScript(ctx, writeTree(t, files), out); err != nil {
		t.Fatal(err)
	}
	files["src/fail.ts"] = "export function fail(why: string): never {\n  let n = 1;\n  n = why;\n  throw new Error(String(n));\n}\n"
	err := TypeScript(ctx, writeTree(t, files), out)
	if err == nil || !strings.Contains(err.Error(), "src/fail.ts(3,3): error TS2322") {
		t.Errorf("a type error without tsconfig.json: %v", err)
	}
}
