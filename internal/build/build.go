// Package build builds a module's source folder to a WebAssembly
// artifact. Go modules are built with the Go toolchain
// (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared); other languages
// come with their SDKs.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	Dir    string
	Output string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("build %s: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared: %v\n%s", e.Dir, e.Err, strings.TrimSpace(e.Output))
}

func (e *Error) Unwrap() error { return e.Err }

// Go builds the Go module in dir to WebAssembly and writes it to out
// (created or replaced). dir must hold a go.mod (the module's main
// package).
func Go(ctx context.Context, dir, out string) error {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return fmt.Errorf("build: %s has no go.mod: only Go modules can be built yet (point at the folder of a module's main package)", dir)
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
	tmp := absOut + ".tmp"
	cmd := exec.CommandContext(ctx, gobin, "build", "-buildmode=c-shared", "-o", tmp, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return &Error{Dir: dir, Output: buf.String(), Err: err}
	}
	return os.Rename(tmp, absOut)
}
