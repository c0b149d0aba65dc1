package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleBuildsEachLanguage builds the wordcount example from its Go,
// Rust and TypeScript sources with the real toolchains.
func TestModuleBuildsEachLanguage(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		lang Language
	}{
		{"../../examples/wordcount/go", LangGo},
		{"../../examples/wordcount/rust", LangRust},
		{"../../examples/wordcount/typescript", LangTypeScript},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.wasm")
			lang, err := Module(context.Background(), tc.dir, out)
			if err != nil {
				t.Fatal(err)
			}
			if lang != tc.lang {
				t.Errorf("language %q, want %q", lang, tc.lang)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x00asm")) {
				t.Errorf("%s: not a wasm module (starts %x)", out, b[:min(8, len(b))])
			}
			if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
				t.Errorf("artifact mode %v, want 0644", st.Mode().Perm())
			}
		})
	}
}

func TestModuleErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "x.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badRust := t.TempDir()
	if err := os.WriteFile(filepath.Join(badRust, "Cargo.toml"), []byte("[package]\nname = \"x\"\nversion = \"0.1.0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{empty, "has no go.mod (Go), Cargo.toml (Rust), pyproject.toml or main.py (Python), or package.json (TypeScript)"},
		{file, "is a file; give the folder of a module"},
		{filepath.Join(empty, "missing"), "no such file or directory"},
		{badRust, "cargo build --release --target"},
	} {
		_, err := Module(context.Background(), tc.dir, filepath.Join(t.TempDir(), "o.wasm"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Module(%s) = %v, want an error containing %q", tc.dir, err, tc.want)
		}
	}
}

func TestCargoArtifact(t *testing.T) {
	msgs := `{"reason":"compiler-artifact","target":{"crate_types":["lib"]},"filenames":["/t/libsquall.rlib"]}
{"reason":"compiler-artifact","target":{"crate_types":["cdylib"]},"filenames":["/t/wasm32-wasi/release/wc.wasm"]}
{"reason":"build-finished","success":true}
`
	if got, err := cargoArtifact([]byte(msgs)); err != nil || got != "/t/wasm32-wasi/release/wc.wasm" {
		t.Errorf("cargoArtifact = %q, %v", got, err)
	}
	if _, err := cargoArtifact([]byte(`{"reason":"build-finished"}`)); err == nil || !strings.Contains(err.Error(), "crate-type = [\"cdylib\"]") {
		t.Errorf("no artifact: %v", err)
	}
}

// TestCacheKeyFollowsSources checks the key GoCached derives from the
// sources: the same tree hashes the same, and a change to a module's
// source or the SDK's changes it, while test files and testdata do not.
func TestCacheKeyFollowsSources(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func() string {
		h := sha256.New()
		for _, d := range []string{"ex", "sdk"} {
			if err := hashSources(h, filepath.Join(root, d)); err != nil {
				t.Fatal(err)
			}
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	write("ex/go.mod", "module ex\n")
	write("ex/main.go", "package main\n")
	write("sdk/go.mod", "module sdk\n")
	write("sdk/a.go", "package squall\n")
	k0 := key()
	if key() != k0 {
		t.Fatal("the key is not deterministic")
	}
	write("ex/main_test.go", "package main\n")
	write("sdk/testdata/x.go", "package x\n")
	if key() != k0 {
		t.Error("a test file or testdata changed the key")
	}
	write("ex/main.go", "package main // changed\n")
	k1 := key()
	if k1 == k0 {
		t.Error("a change to the module's source kept the key")
	}
	write("sdk/internal/b.go", "package internal\n")
	if key() == k1 {
		t.Error("a new SDK source file kept the key")
	}
}
