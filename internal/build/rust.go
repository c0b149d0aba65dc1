package build

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoRustWasm is returned when no Rust toolchain that targets WASI is
// installed.
var ErrNoRustWasm = errors.New("build: no Rust toolchain with a WASI target found; on Debian run scripts/install-rust-wasm.sh (rustc, cargo and libstd-rust-dev-wasm32), with rustup run `rustup target add wasm32-wasip1`")

// rustToolchain is how to run cargo for a WASI target.
type rustToolchain struct {
	cargo  string
	env    []string
	target string
}

// findRust prefers Debian's rustc (1.63, target wasm32-wasi), because
// rustup's toolchains here have no wasm target and rustup's cargo, first on
// PATH, cannot drive Debian's rustc; elsewhere it uses cargo from PATH with
// wasm32-wasip1 when rustup reports that target installed.
func findRust(ctx context.Context) (rustToolchain, error) {
	if exists("/usr/bin/cargo") && exists("/usr/bin/rustc") && globExists("/usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib") {
		return rustToolchain{cargo: "/usr/bin/cargo", env: []string{"RUSTC=/usr/bin/rustc", "RUSTDOC=/usr/bin/rustdoc"}, target: "wasm32-wasi"}, nil
	}
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		return rustToolchain{}, ErrNoRustWasm
	}
	if rustup, err := exec.LookPath("rustup"); err == nil {
		out, err := exec.CommandContext(ctx, rustup, "target", "list", "--installed").Output()
		if err == nil && bytes.Contains(out, []byte("wasm32-wasip1")) {
			return rustToolchain{cargo: cargo, target: "wasm32-wasip1"}, nil
		}
	}
	return rustToolchain{}, ErrNoRustWasm
}

func globExists(pattern string) bool {
	m, _ := filepath.Glob(pattern)
	return len(m) > 0
}

// Rust builds the Cargo package in dir (a cdylib using the squall crate)
// to WebAssembly in release mode and writes the artifact to out.
func Rust(ctx context.Context, dir, out string) error {
	if !exists(filepath.Join(dir, "Cargo.toml")) {
		return fmt.Errorf("build: %s has no Cargo.toml", dir)
	}
	tc, err := findRust(ctx)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tc.cargo, "build", "--release", "--target", tc.target, "--message-format=json-render-diagnostics")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), tc.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return &Error{Dir: dir, Command: "cargo build --release --target " + tc.target, Output: stderr.String(), Err: err}
	}
	wasm, err := cargoArtifact(stdout.Bytes())
	if err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	return copyAtomic(wasm, out)
}

// cargoArtifact finds the .wasm file among cargo's JSON messages: the
// artifact of the package's cdylib target.
func cargoArtifact(messages []byte) (string, error) {
	var found []string
	sc := bufio.NewScanner(bytes.NewReader(messages))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m struct {
			Reason    string   `json:"reason"`
			Filenames []string `json:"filenames"`
			Target    struct {
				CrateTypes []string `json:"crate_types"`
			} `json:"target"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.Reason != "compiler-artifact" {
			continue
		}
		for _, f := range m.Filenames {
			if strings.HasSuffix(f, ".wasm") {
				found = append(found, f)
			}
		}
	}
	switch len(found) {
	case 0:
		return "", errors.New("cargo built no .wasm file: the package needs `[lib] crate-type = [\"cdylib\"]` and `squall::module!(...)`")
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("cargo built several .wasm files (%s); build one package", strings.Join(found, ", "))
}

// copyAtomic copies src to dst through a unique temporary file.
func copyAtomic(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeAtomic(b, dst)
}

// writeAtomic writes b to dst through a unique temporary file.
func writeAtomic(b []byte, dst string) error {
	absOut, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(absOut), filepath.Base(absOut)+".*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return publish(f.Name(), absOut)
}

// ErrUnknownLanguage is wrapped by Detect's error for a folder that holds
// no module of a language Squall builds.
var ErrUnknownLanguage = errors.New("no module source found")

// Language is the kind of module source a folder holds.
type Language string

// The languages Module builds.
const (
	LangGo     Language = "go"
	LangRust   Language = "rust"
	LangPython Language = "python"
)

// Detect tells which language's module dir holds: go.mod means Go,
// Cargo.toml means Rust, pyproject.toml or main.py means Python, package.json
// means TypeScript.
func Detect(dir string) (Language, error) {
	switch {
	case exists(filepath.Join(dir, "go.mod")):
		return LangGo, nil
	case exists(filepath.Join(dir, "Cargo.toml")):
		return LangRust, nil
	case exists(filepath.Join(dir, "pyproject.toml")):
		return LangPython, nil
	case exists(filepath.Join(dir, "package.json")):
		return LangTypeScript, nil
	case IsPythonProject(dir):
		return LangPython, nil
	}
	if fi, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("build: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("build: %s is a file; give the folder of a module (with go.mod, Cargo.toml, pyproject.toml, main.py or package.json) or a .wasm file", dir)
	}
	return "", fmt.Errorf("build: %s has no go.mod (Go), Cargo.toml (Rust), pyproject.toml or main.py (Python), or package.json (TypeScript); point at a module's folder: %w", dir, ErrUnknownLanguage)
}

// Module builds the module in dir, whatever its language, to out.
func Module(ctx context.Context, dir, out string) (Language, error) {
	lang, err := Detect(dir)
	if err != nil {
		return "", err
	}
	switch lang {
	case LangRust:
		return lang, Rust(ctx, dir, out)
	case LangTypeScript:
		return lang, TypeScript(ctx, dir, out)
	case LangPython:
		return lang, Python(ctx, dir, out)
	default:
		return lang, Go(ctx, dir, out)
	}
}

// publish gives a finished temporary artifact the usual file mode (a
// temporary file is private) and renames it into place.
func publish(tmp, out string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}
