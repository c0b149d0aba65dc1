package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/squall-run/squall/internal/build/quickjs"
)

// LangTypeScript is a TypeScript (or JavaScript) project: a folder with a
// package.json whose code uses @squall/sdk.
const LangTypeScript Language = "typescript"

// ErrNoNode is returned when node or npm cannot be found.
var ErrNoNode = errors.New("build: node and npm were not found; TypeScript modules need Node.js 20 or later (https://nodejs.org, or apt-get install nodejs npm) on PATH")

// The TypeScript toolchain used when a project does not bring its own (as
// devDependencies): installed once into the user cache.
const (
	typescriptVersion = "5.9.3"
	esbuildVersion    = "0.28.2"
)

// TypeScriptBundleFormat describes how the bundle is shipped, recorded in
// the artifact's meta.json.
const (
	bundleBytecode = "app/bundle.qjsbc"
	bundleSource   = "app/bundle.js"
	bundleMap      = "app/bundle.js.map"
)

// TypeScriptOptions tune [TypeScriptWith].
type TypeScriptOptions struct {
	// Source ships the bundle as JavaScript source (app/bundle.js) instead
	// of QuickJS bytecode; instances then parse it at every start.
	Source bool
}

// TypeScript builds the TypeScript project in dir to one WebAssembly
// artifact at out: it installs the project's npm dependencies when
// node_modules is missing, type-checks it with `tsc --noEmit` (a type
// error fails the build with tsc's message), bundles the entry file and
// its imports with esbuild (one script, with a source map), precompiles
// the bundle to QuickJS bytecode, and appends bytecode and map as the file
// tree of Squall's QuickJS runtime (see package quickjs). The entry is
// package.json's "squall": {"entry": ...}, else src/index.ts, else
// index.ts.
func TypeScript(ctx context.Context, dir, out string) error {
	return TypeScriptWith(ctx, dir, out, TypeScriptOptions{})
}

// TypeScriptWith is [TypeScript] with options.
func TypeScriptWith(ctx context.Context, dir, out string, opt TypeScriptOptions) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entry, err := tsEntry(dir)
	if err != nil {
		return err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return ErrNoNode
	}
	if _, err := exec.LookPath("node"); err != nil {
		return ErrNoNode
	}
	if err := npmInstall(ctx, npm, dir, map[string]bool{}); err != nil {
		return err
	}
	tools, err := tsTools(ctx, dir)
	if err != nil {
		return err
	}

	// Type-check: esbuild only strips types.
	tscArgs := []string{"--noEmit", "--pretty", "false"}
	if exists(filepath.Join(dir, "tsconfig.json")) {
		tscArgs = append(tscArgs, "-p", dir)
	} else {
		tscArgs = append(tscArgs, "--strict", "--target", "es2020", "--module", "esnext", "--moduleResolution", "bundler", "--skipLibCheck", entry)
	}
	if err := run(ctx, dir, "tsc --noEmit", tools.tsc, tscArgs...); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "squall-ts-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bundle := filepath.Join(tmp, "bundle.js")
	// An IIFE script: QuickJS evaluates it as a global script (the SDK sets
	// globalThis.__squallEntry). platform=neutral: there is no Node.js or
	// browser API in the sandbox, so imports of node builtins fail here.
	if err := run(ctx, dir, "esbuild --bundle", tools.esbuild, entry,
		"--bundle", "--format=iife", "--platform=neutral", "--target=es2020",
		"--main-fields=module,main", "--sourcemap", "--sources-content=false",
		"--log-level=warning", "--outfile="+bundle); err != nil {
		return err
	}
	code, err := os.ReadFile(bundle)
	if err != nil {
		return fmt.Errorf("build %s: esbuild wrote no bundle: %w", dir, err)
	}
	smap, err := os.ReadFile(bundle + ".map")
	if err != nil {
		return fmt.Errorf("build %s: esbuild wrote no source map: %w", dir, err)
	}
	if smap, err = relocateSourceMap(smap, tmp, dir); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}

	rtPath, err := quickjs.Runtime(ctx)
	if err != nil {
		return err
	}
	rt, err := os.ReadFile(rtPath)
	if err != nil {
		return err
	}
	name, body := bundleSource, code
	if !opt.Source {
		cache, _ := quickjs.CacheDir()
		if cache != "" {
			cache = filepath.Join(cache, "wazero")
		}
		bc, err := quickjs.Compile(ctx, rt, code, cache)
		if err != nil {
			return fmt.Errorf("build %s: precompiling the bundle to QuickJS bytecode: %w", dir, err)
		}
		name, body = bundleBytecode, bc
	}
	rel, _ := filepath.Rel(dir, entry)
	meta, err := json.MarshalIndent(map[string]string{
		"runtime": "quickjs " + quickjs.Version,
		"bundle":  name,
		"map":     bundleMap,
		"entry":   filepath.ToSlash(rel),
	}, "", "  ")
	if err != nil {
		return err
	}
	wasm, err := AppendFiles(rt, []File{
		{Name: name, Data: body},
		{Name: bundleMap, Data: smap},
		{Name: "meta.json", Data: append(meta, '\n')},
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	return writeAtomic(wasm, out)
}

// tsEntry finds the project's entry file.
func tsEntry(dir string) (string, error) {
	pj, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("build: %s has no package.json: %w", dir, err)
	}
	var p struct {
		Squall struct {
			Entry string `json:"entry"`
		} `json:"squall"`
	}
	if err := json.Unmarshal(pj, &p); err != nil {
		return "", fmt.Errorf("build: %s: %w", filepath.Join(dir, "package.json"), err)
	}
	if p.Squall.Entry != "" {
		e := filepath.Join(dir, filepath.FromSlash(p.Squall.Entry))
		if !exists(e) {
			return "", fmt.Errorf("build: %s: \"squall\": {\"entry\": %q} names no file", filepath.Join(dir, "package.json"), p.Squall.Entry)
		}
		return e, nil
	}
	for _, e := range []string{"src/index.ts", "index.ts"} {
		if p := filepath.Join(dir, e); exists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("build: %s has no src/index.ts or index.ts; create the module's entry file there or name it in package.json as \"squall\": {\"entry\": \"path/to/file.ts\"}", dir)
}

// npmInstall installs the npm dependencies of the package in dir when it
// has no node_modules (npm ci with a lock file, else npm install), local
// packages it depends on ("file:../sdk") first: npm runs a local package's
// prepare script (such as the SDK's tsc build) while installing it, which
// needs that package's own devDependencies installed already.
func npmInstall(ctx context.Context, npm, dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	// Locked even to look: node_modules appears as soon as another build's
	// npm starts filling it.
	cache, err := quickjs.CacheDir()
	if err != nil {
		return err
	}
	unlock, err := lockDir(cache, dir)
	if err != nil {
		return err
	}
	defer unlock()
	if exists(filepath.Join(dir, "node_modules")) {
		return nil
	}
	pj, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	var p struct {
		Dependencies    map[string]string `json:"dependencies"`
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(pj, &p); err != nil {
		return fmt.Errorf("build: %s: %w", filepath.Join(dir, "package.json"), err)
	}
	for _, deps := range []map[string]string{p.Dependencies, p.DevDependencies} {
		for _, spec := range deps {
			local, ok := strings.CutPrefix(spec, "file:")
			if !ok {
				continue
			}
			if !filepath.IsAbs(local) {
				local = filepath.Join(dir, filepath.FromSlash(local))
			}
			if exists(filepath.Join(local, "package.json")) {
				if err := npmInstall(ctx, npm, local, seen); err != nil {
					return err
				}
			}
		}
	}
	args := []string{"install", "--no-audit", "--no-fund"}
	if exists(filepath.Join(dir, "package-lock.json")) {
		args = []string{"ci", "--no-audit", "--no-fund"}
	}
	if err := run(ctx, dir, "npm "+strings.Join(args, " "), npm, args...); err != nil {
		// A half-filled node_modules would pass for an installed one.
		_ = os.RemoveAll(filepath.Join(dir, "node_modules"))
		return err
	}
	return nil
}

type tsToolchain struct{ tsc, esbuild string }

var tsHelper sync.Mutex

// tsTools returns tsc and esbuild: the project's own (devDependencies),
// else a pinned pair installed once into the user cache.
func tsTools(ctx context.Context, dir string) (tsToolchain, error) {
	t := tsToolchain{
		tsc:     filepath.Join(dir, "node_modules", ".bin", "tsc"),
		esbuild: filepath.Join(dir, "node_modules", ".bin", "esbuild"),
	}
	if exists(t.tsc) && exists(t.esbuild) {
		return t, nil
	}
	cache, err := quickjs.CacheDir()
	if err != nil {
		return t, err
	}
	helper := filepath.Join(cache, "ts-toolchain", "typescript-"+typescriptVersion+"-esbuild-"+esbuildVersion)
	bin := filepath.Join(helper, "node_modules", ".bin")
	tsHelper.Lock()
	defer tsHelper.Unlock()
	if !exists(filepath.Join(bin, "tsc")) || !exists(filepath.Join(bin, "esbuild")) {
		if err := os.MkdirAll(helper, 0o755); err != nil {
			return t, err
		}
		if err := os.WriteFile(filepath.Join(helper, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
			return t, err
		}
		if err := run(ctx, helper, "npm install typescript esbuild", "npm", "install", "--no-audit", "--no-fund", "-E",
			"typescript@"+typescriptVersion, "esbuild@"+esbuildVersion); err != nil {
			return t, err
		}
	}
	if !exists(t.tsc) {
		t.tsc = filepath.Join(bin, "tsc")
	}
	if !exists(t.esbuild) {
		t.esbuild = filepath.Join(bin, "esbuild")
	}
	return t, nil
}

// relocateSourceMap rewrites the sources of esbuild's map, relative to the
// bundle's directory, to the names stack traces show: the project's own
// files relative to the project folder (src/index.ts), files of other
// packages (npm dependencies, a local SDK) as the package's name and the
// path inside it (@squall/sdk/src/ctx.ts), independent of where the
// package was installed.
func relocateSourceMap(b []byte, from, project string) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("esbuild's source map: %w", err)
	}
	srcs, _ := m["sources"].([]any)
	names := map[string]string{} // package directory → its name
	for i, s := range srcs {
		str, ok := s.(string)
		if !ok {
			continue
		}
		srcs[i] = sourceName(filepath.Join(from, filepath.FromSlash(str)), project, names)
	}
	delete(m, "sourceRoot")
	return json.Marshal(m)
}

// sourceName names the source file abs for stack traces (see
// relocateSourceMap).
func sourceName(abs, project string, names map[string]string) string {
	if rel, err := filepath.Rel(project, abs); err == nil && !strings.HasPrefix(rel, "..") &&
		!strings.HasPrefix(filepath.ToSlash(rel), "node_modules/") {
		return filepath.ToSlash(rel)
	}
	for d := filepath.Dir(abs); d != filepath.Dir(d); d = filepath.Dir(d) {
		name, ok := names[d]
		if !ok {
			var p struct {
				Name string `json:"name"`
			}
			if b, err := os.ReadFile(filepath.Join(d, "package.json")); err == nil && json.Unmarshal(b, &p) == nil {
				name = p.Name
			}
			names[d] = name
		}
		if name != "" {
			rel, _ := filepath.Rel(d, abs)
			return name + "/" + filepath.ToSlash(rel)
		}
		if d == project {
			break
		}
	}
	if rel, err := filepath.Rel(project, abs); err == nil {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(abs)
}

// run runs a build tool in dir; a failure is an *Error with its output.
func run(ctx context.Context, dir, command, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return &Error{Dir: dir, Command: command, Output: buf.String(), Err: err}
	}
	return nil
}
