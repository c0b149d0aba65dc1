package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/testnode"
)

// needPythonRuntime skips without CPython 3.11 and fails without the
// Python runtime (scripts/setup.sh builds it).
func needPythonRuntime(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3.11"); err != nil {
		t.Skip("python3.11 is not installed: Python modules cannot be built here")
	}
	if _, err := build.PythonRuntimeDir(); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryPython builds and deploys the Python wordcount example with the
// binary, as a user does, and shows that Python errors reach the user with
// file and line: a syntax error at build, an import error at deploy.
func TestBinaryPython(t *testing.T) {
	bin := squallBinary(t)
	needPythonRuntime(t)
	n := testnode.Start(t)
	env := []string{"SQUALL_ADDR=" + n.URL(), "SQUALL_TOKEN="}
	dir := t.TempDir()

	wasm := filepath.Join(dir, "wc.wasm")
	code, out, errs := exe(t, bin, env, "build", "../../examples/wordcount/python", "-o", wasm)
	if code != 0 || !strings.Contains(out, "wrote "+wasm) {
		t.Fatalf("build: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, out, errs = exe(t, bin, env, "deploy", wasm, "--quiet")
	if code != 0 || !strings.Contains(out, `module "wordcount" deployed`) {
		t.Fatalf("deploy: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, out, errs = exe(t, bin, env, "append", "wordcount", "sentences", `{"user": "ada", "text": "the cat and the hat"}`)
	if code != 0 || !strings.Contains(out, "wordcount returned 5") {
		t.Errorf("append: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, out, _ = exe(t, bin, env, "select", "wordcount", "$$wordCounts", `key("the")`, "--one")
	if code != 0 || out != "2\n" {
		t.Errorf("select --one: exit %d, %q", code, out)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(bad, "main.py"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("import squall\n\napp = squall.Module(\"bad\"\n")
	code, _, errs = exe(t, bin, env, "build", bad, "-o", filepath.Join(dir, "bad.wasm"))
	if code != 1 || !strings.Contains(errs, `main.py", line 3`) || !strings.Contains(errs, "SyntaxError: '(' was never closed") {
		t.Errorf("build with a syntax error: exit %d, stderr %q; want 1 and the file, line and error", code, errs)
	}
	write("import squall\nimport no_such_module\n")
	if code, _, errs := exe(t, bin, env, "build", bad, "-o", filepath.Join(dir, "bad.wasm")); code != 0 {
		t.Fatalf("build with an import error (found only when it runs): exit %d, stderr %q", code, errs)
	}
	code, _, errs = exe(t, bin, env, "deploy", filepath.Join(dir, "bad.wasm"), "--quiet")
	if code != 1 || !strings.Contains(errs, `File "/squall/app/main.py", line 2, in <module>`) ||
		!strings.Contains(errs, "ModuleNotFoundError: No module named 'no_such_module'") {
		t.Errorf("deploy with an import error: exit %d, stderr %q; want 1 and the traceback", code, errs)
	}
}

// squall dev notices edits of a Python project's sources, and not the
// bytecode caches that running its tests writes.
func TestDevWatchesPythonSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.py", "import squall\n")
	write("pyproject.toml", "[project]\nname = \"x\"\n")
	s := &devSource{path: dir, isDir: true}
	before := s.stamp()
	write("__pycache__/main.cpython-311.pyc", "bytecode")
	if s.stamp() != before {
		t.Error("a __pycache__ file changed the stamp")
	}
	for _, name := range []string{"pkg/util.py", "pyproject.toml"} {
		write(name, "# changed "+name+"\n")
		if now := s.stamp(); now == before {
			t.Errorf("writing %s did not change the stamp", name)
		} else {
			before = now
		}
	}
}
