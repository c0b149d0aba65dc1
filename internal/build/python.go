package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// CPythonVersion is the CPython release the Python runtime is built from
// (Debian's source package; pyruntime/build.sh checks it).
const CPythonVersion = "3.11.2"

// The recipe and C shim of the Python runtime. The squall binary carries
// them to know which runtime build it needs: their hash names the cache
// directory the build script writes (see pythonRuntimeKey).
//
//go:embed pyruntime
var pyRuntimeSrc embed.FS

// pythonStage is the helper that stages a project's files, run with the
// host's CPython 3.11.
//
//go:embed python_stage.py
var pythonStage []byte

// RuntimeScript is the script that builds the Python runtime, relative to
// the repository root.
const RuntimeScript = "scripts/build-python-runtime.sh"

// ErrNoPythonRuntime is wrapped by the error returned when the Python
// runtime this binary needs has not been built on this machine.
var ErrNoPythonRuntime = errors.New("the Python runtime is not built")

// ErrNoPython is returned when no CPython 3.11 is found to compile a
// project's code with.
var ErrNoPython = errors.New("build: python3.11 was not found: Python modules are compiled with CPython 3.11, the runtime's version; install it (Debian: apt-get install python3.11) or set SQUALL_PYTHON to its path")

// pythonRuntimeKey hashes the files of pyruntime as build.sh's runtime_key
// does: sha256 over each file in name order as "<name>\n<size>\n<content>",
// the first 16 hex digits.
func pythonRuntimeKey() (string, error) {
	entries, err := fs.ReadDir(pyRuntimeSrc, "pyruntime")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range entries { // sorted by name
		if e.IsDir() {
			continue
		}
		b, err := pyRuntimeSrc.ReadFile("pyruntime/" + e.Name())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n%d\n", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// PythonRuntimeDir returns the directory of the Python runtime build this
// binary needs: $SQUALL_PYTHON_RUNTIME when set, else
// <user cache>/squall/python/<CPython version>-<key>. The error, when it is
// not built, says how to build it (wrapping ErrNoPythonRuntime).
func PythonRuntimeDir() (string, error) {
	if d := os.Getenv("SQUALL_PYTHON_RUNTIME"); d != "" {
		if !exists(filepath.Join(d, "squall-python.wasm")) {
			return "", fmt.Errorf("build: SQUALL_PYTHON_RUNTIME=%s has no squall-python.wasm: %w; unset it or point it at a directory %s made", d, ErrNoPythonRuntime, RuntimeScript)
		}
		return d, nil
	}
	key, err := pythonRuntimeKey()
	if err != nil {
		return "", fmt.Errorf("build: python runtime key: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("build: no cache directory for the Python runtime: %w", err)
	}
	dir := filepath.Join(cache, "squall", "python", CPythonVersion+"-"+key)
	if !exists(filepath.Join(dir, "runtime.json")) {
		return "", fmt.Errorf("build: %w (CPython %s for WebAssembly with Squall's shim, version %s): run %s (or make python-runtime) in the Squall repository once; it builds it into %s in a few minutes", ErrNoPythonRuntime, CPythonVersion, key, RuntimeScript, dir)
	}
	return dir, nil
}

// PythonBuildID identifies what a Python build depends on besides the
// module's and the SDK's sources: the runtime build (its directory names
// the CPython version and the shim's hash) and the staging code of this
// package. Caches of built modules put it in their key.
func PythonBuildID() (string, error) {
	rt, err := PythonRuntimeDir()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(pythonStage)
	return filepath.Base(rt) + " stage " + hex.EncodeToString(h[:8]), nil
}

// pythonTool returns $SQUALL_PYTHON, else python3.11 from PATH.
func pythonTool() (string, error) {
	if p := os.Getenv("SQUALL_PYTHON"); p != "" {
		return p, nil
	}
	p, err := exec.LookPath("python3.11")
	if err != nil {
		return "", ErrNoPython
	}
	return p, nil
}

// PythonSDKDir returns the directory of the Python SDK package (the
// folder of squall/__init__.py): $SQUALL_PYTHON_SDK (that folder, or the
// SDK's project folder with src/squall), else guest-sdks/python/src/squall
// of the Squall repository that holds dir or the working directory, else
// the squall package installed for python3.11 (pip install
// guest-sdks/python).
func PythonSDKDir(dir string) (string, error) {
	if d := os.Getenv("SQUALL_PYTHON_SDK"); d != "" {
		for _, c := range []string{d, filepath.Join(d, "src", "squall")} {
			if exists(filepath.Join(c, "__init__.py")) {
				return c, nil
			}
		}
		return "", fmt.Errorf("build: SQUALL_PYTHON_SDK=%s holds neither squall/__init__.py nor src/squall/__init__.py", d)
	}
	var starts []string
	if abs, err := filepath.Abs(dir); err == nil {
		starts = append(starts, abs)
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "guest-sdks", "python", "src", "squall")
			if exists(filepath.Join(c, "__init__.py")) {
				return c, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if py, err := pythonTool(); err == nil {
		// -E: no PYTHON* variables; -P: not the working directory's squall.
		out, err := exec.Command(py, "-E", "-P", "-c", "import os, squall; print(os.path.dirname(squall.__file__))").Output()
		if c := strings.TrimSpace(string(out)); err == nil && exists(filepath.Join(c, "_wasm.py")) {
			return c, nil
		}
	}
	return "", fmt.Errorf("build: the Squall Python SDK was not found: build from inside the Squall repository (it has guest-sdks/python), install it for python3.11 (pip install guest-sdks/python), or set SQUALL_PYTHON_SDK to the SDK's folder")
}

// IsPythonProject reports whether dir holds a Python module: a
// pyproject.toml or a main.py.
func IsPythonProject(dir string) bool {
	return exists(filepath.Join(dir, "pyproject.toml")) || exists(filepath.Join(dir, "main.py"))
}

// Python builds the Python project in dir (a pyproject.toml, or a main.py)
// to one WebAssembly artifact at out: the shared CPython runtime with a
// file tree (AppendFiles) of the standard library subset (lib/python3.11),
// the SDK and the vendored pure-Python dependencies (site-packages), the
// project's files (app) and meta.json naming the entry module
// ([tool.squall] module, default main). Every .py is compiled first with
// the host's CPython 3.11, so a syntax error fails the build with its file
// and line, and ships with its .pyc so instances start without compiling.
func Python(ctx context.Context, dir, out string) error {
	if !IsPythonProject(dir) {
		return fmt.Errorf("build: %s has neither pyproject.toml nor main.py (a Python module needs one)", dir)
	}
	rt, err := PythonRuntimeDir()
	if err != nil {
		return err
	}
	py, err := pythonTool()
	if err != nil {
		return err
	}
	sdk, err := PythonSDKDir(dir)
	if err != nil {
		return err
	}
	runtime, err := os.ReadFile(filepath.Join(rt, "squall-python.wasm"))
	if err != nil {
		return fmt.Errorf("build: python runtime: %w", err)
	}
	stage, err := os.MkdirTemp("", "squall-pybuild-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	script := filepath.Join(stage, "python_stage.py")
	if err := os.WriteFile(script, pythonStage, 0o644); err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return fmt.Errorf("build: no cache directory for vendored dependencies: %w", err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tree := filepath.Join(stage, "tree")
	// -I: ignore PYTHON* variables and the user's site directory; -B: no
	// .pyc of the helper itself.
	cmd := exec.CommandContext(ctx, py, "-I", "-B", script, absDir, sdk, tree, filepath.Join(cache, "squall", "python", "deps"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			return fmt.Errorf("build %s: %s", dir, strings.TrimSpace(stderr.String()))
		}
		return &Error{Dir: dir, Command: "python3.11 (staging the module's files)", Output: stderr.String(), Err: err}
	}
	var files []File
	if files, err = addTree(files, filepath.Join(rt, "lib"), "lib"); err != nil {
		return err
	}
	if files, err = addTree(files, tree, ""); err != nil {
		return err
	}
	wasm, err := AppendFiles(runtime, files)
	if err != nil {
		return err
	}
	return writeAtomic(wasm, out)
}

// addTree appends every regular file under root to files, named prefix/rel.
func addTree(files []File, root, prefix string) ([]File, error) {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, File{Name: path.Join(prefix, filepath.ToSlash(rel)), Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build: reading %s: %w", root, err)
	}
	return files, nil
}
