// Package build builds a module's source folder to a WebAssembly
// artifact: Go modules with the Go toolchain (GOOS=wasip1 GOARCH=wasm go
// build -buildmode=c-shared), Rust packages with cargo for the WASI target,
// Python projects onto the shared CPython runtime (see [Python]) and
// TypeScript projects with tsc, esbuild and the shared QuickJS runtime (see
// [TypeScript]); [Module] detects which.
package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoGo is returned when the go command cannot be found.
var ErrNoGo = errors.New("build: the go command was not found; install Go 1.24 or later (https://go.dev/dl) and put it on PATH, or build the module yourself with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")

// goTool returns the go command: $GOROOT/bin/go when GOROOT is set, else
// go from PATH.
func goTool() (string, error) {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", ErrNoGo
	}
	return p, nil
}

// Error is a failed build: the command and its output.
type Error struct {
	Dir     string
	Command string // the build command as a user would type it
	Output  string
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("build %s: %s: %v\n%s", e.Dir, e.Command, e.Err, strings.TrimSpace(e.Output))
}

func (e *Error) Unwrap() error { return e.Err }

// Go builds the Go module in dir to WebAssembly and writes it to out
// (created or replaced). dir must hold a go.mod (the module's main
// package).
func Go(ctx context.Context, dir, out string) error {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return fmt.Errorf("build: %s has no go.mod (point at the folder of a Go module's main package)", dir)
	}
	gobin, err := goTool()
	if err != nil {
		return err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return err
	}
	// A unique temporary name: concurrent builds of the same sources (test
	// packages run in parallel) must not write the same file.
	f, err := os.CreateTemp(filepath.Dir(absOut), filepath.Base(absOut)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_ = f.Close()
	cmd := exec.CommandContext(ctx, gobin, "build", "-buildmode=c-shared", "-o", tmp, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return &Error{Dir: dir, Command: "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared", Output: buf.String(), Err: err}
	}
	return publish(tmp, absOut)
}

// GoCached builds the Go module in dir like [Go], into cacheDir under a
// name derived from the Go version and the contents of the module's
// sources and of the local modules its go.mod replaces it with, and
// returns the artifact's path. An artifact already there is reused.
func GoCached(ctx context.Context, dir, cacheDir string) (string, error) {
	gobin, err := goTool()
	if err != nil {
		return "", err
	}
	ver, err := exec.CommandContext(ctx, gobin, "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("build: go env GOVERSION: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", bytes.TrimSpace(ver))
	dirs := []string{dir}
	if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
		for _, line := range strings.Split(string(mod), "\n") {
			if _, target, ok := strings.Cut(line, "=>"); ok {
				if t := strings.Fields(target); len(t) == 1 && (strings.HasPrefix(t[0], ".") || filepath.IsAbs(t[0])) {
					p := t[0]
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					dirs = append(dirs, p)
				}
			}
		}
	}
	for _, d := range dirs {
		if err := hashSources(h, d); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, filepath.Base(filepath.Dir(abs))+"-"+filepath.Base(abs)+"-"+hex.EncodeToString(h.Sum(nil))[:20]+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	return out, Go(ctx, dir, out)
}

// hashSources hashes the files of dir a build reads: Go files other than
// tests, go.mod and go.sum, by path and content, in a fixed order, leaving
// out nested modules, testdata and hidden directories.
func hashSources(h hash.Hash, base string) error {
	var files []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != base && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if (strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go")) || n == "go.mod" || n == "go.sum" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
