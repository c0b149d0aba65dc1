package build

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
)

// The key the Go side computes must name the directory the script writes.
func TestPythonRuntimeKeyMatchesScript(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("SQUALL_PYTHON_RUNTIME", "")
	out, err := exec.Command("bash", "pyruntime/build.sh", "--print-dir").CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh --print-dir: %v\n%s", err, out)
	}
	_, err = PythonRuntimeDir()
	if !errors.Is(err, ErrNoPythonRuntime) {
		t.Fatalf("PythonRuntimeDir with an empty cache: %v, want ErrNoPythonRuntime", err)
	}
	want := strings.TrimSpace(string(out))
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), RuntimeScript) {
		t.Errorf("error %q does not name the directory %s the script builds, or the script", err, want)
	}
}

// needPython skips when the host has no CPython 3.11 and fails when the
// runtime is not built (scripts/setup.sh builds it).
func needPython(t *testing.T) string {
	t.Helper()
	if _, err := pythonTool(); err != nil {
		t.Skip("python3.11 is not installed: Python modules cannot be built here")
	}
	dir, err := PythonRuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// fileTree returns the files of a built module's squall.files section.
func fileTree(t *testing.T, wasm []byte) map[string][]byte {
	t.Helper()
	off := 8
	for off < len(wasm) {
		id := wasm[off]
		size, n := readULEB(wasm[off+1:])
		body := wasm[off+1+n : off+1+n+int(size)]
		off += 1 + n + int(size)
		l, m := readULEB(body)
		if id != 0 || string(body[m:m+int(l)]) != abi.FilesSection {
			continue
		}
		data := body[m+int(l):]
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = b
		}
		return files
	}
	t.Fatal("the module has no squall.files section")
	return nil
}

func buildPython(t *testing.T, dir string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "m.wasm")
	if err := Python(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPythonBuild(t *testing.T) {
	rt := needPython(t)
	wasm := buildPython(t, "testdata/python/app")
	files := fileTree(t, wasm)
	for _, name := range []string{
		"meta.json",
		"app/pyproject.toml",
		"app/pkg/entry.py", "app/pkg/__pycache__/entry.cpython-311.pyc",
		"app/pkg/helper.py", "app/pkg/__pycache__/helper.cpython-311.pyc",
		"app/pkg/data.txt",
		"site-packages/squall/__init__.py", "site-packages/squall/__pycache__/__init__.cpython-311.pyc",
		"site-packages/squall/_wasm.py",
		"lib/python3.11/os.pyc", "lib/python3.11/encodings/utf_8.pyc", "lib/python3.11/json/__init__.pyc",
	} {
		if _, ok := files[name]; !ok {
			t.Errorf("the file tree lacks %s", name)
		}
	}
	for name := range files {
		if strings.HasPrefix(name, "app/tests/") || strings.Contains(name, "/test/") || strings.HasPrefix(name, "lib/python3.11/tkinter") ||
			strings.HasPrefix(name, "lib/python3.11/idlelib") || strings.HasPrefix(name, "lib/python3.11/ensurepip") {
			t.Errorf("the file tree has %s, which a module does not need", name)
		}
	}
	if got := string(files["meta.json"]); got != `{"entry": "pkg.entry"}` {
		t.Errorf("meta.json = %s", got)
	}
	// The runtime binary is the prefix, unchanged: every Python module
	// shares its compiled code.
	runtime, err := os.ReadFile(filepath.Join(rt, "squall-python.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, runtime) {
		t.Error("the module does not start with the runtime binary")
	}
	if again := buildPython(t, "testdata/python/app"); !bytes.Equal(wasm, again) {
		t.Error("two builds of the same sources differ")
	}
}

// memHandler applies nothing: it records the effects.
type memHandler struct{ effects []abi.Effect }

func (h *memHandler) Effects(_ context.Context, effects []abi.Effect) []abi.Rejection {
	h.effects = append(h.effects, effects...)
	return nil
}

func (h *memHandler) Query(_ context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	return &abi.QueryResponse{Results: make([]abi.Result, len(q.Queries))}
}

// The built module runs: it declares itself, reads its own files and
// reports a stage's exception with the traceback of the user's code.
func TestPythonModuleRuns(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	r := newRuntime(t)
	m := compile(t, r, "files", buildPython(t, "testdata/python/app"))
	def, err := m.Describe(ctx, host.InitParams{Tasks: 1})
	if err != nil {
		t.Fatal(err)
	}
	if def.Name != "files" || len(def.Depots) != 1 || len(def.Topologies) != 1 {
		t.Fatalf("definition %+v", def)
	}
	in := instantiate(t, m)
	batch := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: 1, TimeUnixNano: 1e18}}
	for i, s := range []string{"data", "meta", "ab", "fail"} {
		enc, err := abi.Encode(abi.String(s))
		if err != nil {
			t.Fatal(err)
		}
		batch.Items = append(batch.Items, abi.BatchItem{Kind: abi.ItemRecord, Offset: uint64(i), Payload: enc})
	}
	h := &memHandler{}
	res, err := in.Process(ctx, batch, h)
	if err != nil {
		t.Fatal(err)
	}
	var emits []string
	for _, e := range h.effects {
		if e.Op == abi.EffectEmit {
			emits = append(emits, e.Value.String())
		}
	}
	want := []string{`"data for the module\n"`, `{"entry": "pkg.entry"}`, `"abab"`}
	if strings.Join(emits, " | ") != strings.Join(want, " | ") {
		t.Errorf("emitted %q, want %q", emits, want)
	}
	last := res.Outcomes[3]
	if last.Outcome != abi.OutcomeRetry || !strings.Contains(last.Detail.Message, "failing on purpose: fail") ||
		!strings.Contains(last.Detail.Stack, `File "/squall/app/pkg/helper.py", line 6, in fail`) ||
		!strings.Contains(last.Detail.Stack, `raise ValueError("failing on purpose: " + what)`) {
		t.Errorf("the failing item ended %v with %+v; want RETRY with the traceback of helper.py line 6 and its source", last.Outcome, last.Detail)
	}
}

// Errors the user must fix are reported at build time, with file and line.
func TestPythonBuildErrors(t *testing.T) {
	needPython(t)
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"syntax error", map[string]string{"main.py": "import squall\n\ndef f(:\n    pass\n"},
			[]string{"main.py\", line 3", "SyntaxError: invalid syntax"}},
		{"syntax error in a package", map[string]string{"main.py": "from lib import x\n", "lib/__init__.py": "x = (1,\n"},
			[]string{filepath.Join("lib", "__init__.py") + "\", line 1", "SyntaxError: '(' was never closed"}},
		{"no entry module", map[string]string{"pyproject.toml": "[tool.squall]\nmodule = \"app\"\n", "main.py": ""},
			[]string{"the entry module 'app' is missing (no app.py)", `[tool.squall] module = "..."`}},
		{"bad entry name", map[string]string{"pyproject.toml": "[tool.squall]\nmodule = \"my-app\"\n"},
			[]string{"[tool.squall] module = 'my-app'", "dotted name"}},
		{"bad toml", map[string]string{"pyproject.toml": "[project\n"},
			[]string{"pyproject.toml: "}},
		{"entry named squall", map[string]string{"pyproject.toml": "[tool.squall]\nmodule = \"squall\"\n", "squall.py": ""},
			[]string{`may not be called "squall"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := write(c.files)
			err := Python(context.Background(), dir, filepath.Join(t.TempDir(), "m.wasm"))
			if err == nil {
				t.Fatal("the build succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if err := Python(context.Background(), t.TempDir(), "x.wasm"); err == nil || !strings.Contains(err.Error(), "neither pyproject.toml nor main.py") {
		t.Errorf("empty folder: %v", err)
	}
}

// wheel writes a wheel of one module, name.py, into dir.
func wheel(t *testing.T, dir, name, tag, body string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+"-1.0-"+tag+".whl"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	info := name + "-1.0.dist-info/"
	for file, data := range map[string]string{
		name + ".py":           body,
		info + "METADATA":      "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n",
		info + "WHEEL":         "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: " + tag + "\n",
		info + "RECORD":        "",
		info + "top_level.txt": name + "\n",
	} {
		w, err := zw.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Pure-Python dependencies are vendored; others are refused, saying why.
// The wheels come from a local folder (pip's PIP_* settings) so that the
// test needs no package index.
func TestPythonDependencies(t *testing.T) {
	rt := needPython(t)
	wheels := t.TempDir()
	wheel(t, wheels, "puredep", "py3-none-any", "def hello():\n    return 'hello from puredep'\n")
	wheel(t, wheels, "cdep", "cp311-cp311-linux_x86_64", "x = 1\n")
	t.Setenv("PIP_NO_INDEX", "1")
	t.Setenv("PIP_FIND_LINKS", wheels)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // vendored dependencies are cached there
	t.Setenv("SQUALL_PYTHON_RUNTIME", rt)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte("[project]\nname = \"x\"\ndependencies = [\"squall\", \"puredep>=1\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("import puredep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := fileTree(t, buildPython(t, dir))
	for _, name := range []string{"site-packages/puredep.py", "site-packages/__pycache__/puredep.cpython-311.pyc", "site-packages/puredep-1.0.dist-info/METADATA"} {
		if _, ok := files[name]; !ok {
			t.Errorf("the file tree lacks %s", name)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte("[project]\nname = \"x\"\ndependencies = [\"cdep\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Python(context.Background(), dir, filepath.Join(t.TempDir(), "m.wasm"))
	if err == nil || !strings.Contains(err.Error(), "vendoring the dependencies cdep failed") || !strings.Contains(err.Error(), "only pure-Python packages") {
		t.Errorf("a dependency without a pure-Python wheel: %v", err)
	}
}

// Whatever Python raises out of the SDK's entry points, and a failure to
// import the SDK, reaches the host as an ERROR with the traceback: the
// shim never traps on a Python error.
func TestPythonShimReportsErrors(t *testing.T) {
	needPython(t)
	sdk, err := filepath.Abs("testdata/python/fakesdk/squall")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SQUALL_PYTHON_SDK", sdk)
	ctx := context.Background()
	r := newRuntime(t)
	for _, c := range []struct {
		entry string
		want  []string
	}{
		{"raises", []string{"ValueError: squall._wasm.init: ValueError: raised out of init",
			`File "/squall/site-packages/squall/_wasm.py", line 13, in _deeper`, `raise ValueError("raised out of init")`}},
		{"import_fails", []string{"ImportError: cannot import the Squall SDK (squall._wasm): ImportError: the SDK cannot start",
			`File "/squall/site-packages/squall/_wasm.py", line 9, in <module>`}},
		{"host_error", []string{"HostError: squall._wasm.init: _squall.HostError: (-2, 'take: ENOENT (-2): nothing parked')"}},
		{"not_int", []string{"TypeError: squall._wasm.init: TypeError: 'str' object cannot be interpreted as an integer"}},
		{"exits", []string{"SystemExit: squall._wasm.init: SystemExit: 3"}},
		{"frame_len", []string{"frame of 32 bytes starting 0101"}},
	} {
		t.Run(c.entry, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, c.entry+".py"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte("[tool.squall]\nmodule = \""+c.entry+"\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := r.Compile(ctx, c.entry, buildPython(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			_, err = m.Describe(ctx, host.InitParams{Tasks: 1})
			var ge *host.GuestError
			if !errors.As(err, &ge) || ge.Kind != host.KindFailed {
				t.Fatalf("Describe: %v, want a GuestError of kind failed", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// goldenHex returns every "hex" and "input" encoding of the jsonl files of
// abi/testdata (canonical, non-canonical and invalid values).
func goldenHex(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"values.jsonl", "noncanonical.jsonl", "invalid.jsonl"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "abi", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var v struct{ Hex, Input *string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, h := range []*string{v.Hex, v.Input} {
				if h == nil {
					continue
				}
				enc, err := hex.DecodeString(*h)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				out = append(out, enc)
			}
		}
	}
	return out
}

// The runtime's C codec gives exactly what the SDK's pure-Python codec
// gives, values and errors, on the golden vectors and on random values and
// corrupted encodings (testdata/python/codec compares them in the wasm).
func TestPythonCodec(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	r := newRuntime(t)
	m := compile(t, r, "codec", buildPython(t, "testdata/python/codec"))
	in := instantiate(t, m)
	var items []abi.Value
	for _, enc := range goldenHex(t) {
		items = append(items, abi.Bytes(enc))
	}
	for seed := range 8 {
		items = append(items, abi.Int(int64(seed)))
	}
	// One batch for the vectors, one per seed: each within the deadline.
	golden := len(items) - 8
	h := &memHandler{}
	for start := 0; start < len(items); {
		end := start + 1
		if start == 0 {
			end = golden
		}
		batch := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: uint64(start + 1), TimeUnixNano: 1e18}}
		for i, v := range items[start:end] {
			enc, err := abi.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			batch.Items = append(batch.Items, abi.BatchItem{Kind: abi.ItemRecord, Offset: uint64(i), Payload: enc})
		}
		res, err := in.Process(ctx, batch, h)
		if err != nil {
			t.Fatalf("items %d to %d: %v", start, end, err)
		}
		for i, o := range res.Outcomes {
			if o.Outcome != abi.OutcomeOK {
				t.Errorf("item %d (%s): %s", start+i, items[start+i], o.Detail.Message)
			}
		}
		start = end
	}
	checks := int64(0)
	for _, e := range h.effects {
		if e.Op == abi.EffectEmit {
			n, _ := e.Value.AsInt()
			checks += n
		}
	}
	if checks < 8*60 {
		t.Errorf("%d comparisons, want at least %d", checks, 8*60)
	}
	t.Logf("%d comparisons of the C and pure-Python codecs", checks)
}

// Every module the runtime keeps of the standard library imports.
func TestPythonStdlibImports(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	r := newRuntime(t)
	m := compile(t, r, "stdlib", buildPython(t, "testdata/python/stdlib"))
	if _, err := m.Describe(ctx, host.InitParams{Tasks: 1}); err != nil {
		t.Fatal(err)
	}
}

// Outside the repository, the SDK is the squall package installed for the
// python3.11 that builds (here a virtual environment's).
func TestPythonSDKInstalled(t *testing.T) {
	needPython(t)
	py, err := pythonTool()
	if err != nil {
		t.Fatal(err)
	}
	venv := t.TempDir()
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("python3.11 -m venv: %v\n%s", err, out)
	}
	site, err := filepath.Glob(filepath.Join(venv, "lib", "python3.11", "site-packages"))
	if err != nil || len(site) != 1 {
		t.Fatalf("no site-packages in the venv: %v", err)
	}
	pkg := filepath.Join(site[0], "squall")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"__init__.py", "_wasm.py"} {
		if err := os.WriteFile(filepath.Join(pkg, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SQUALL_PYTHON_SDK", "")
	t.Setenv("SQUALL_PYTHON", filepath.Join(venv, "bin", "python"))
	t.Chdir(t.TempDir()) // not inside the repository
	got, err := PythonSDKDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.EvalSymlinks(pkg); got != pkg && got != want {
		t.Errorf("PythonSDKDir = %s, want the installed package %s", got, pkg)
	}
	bare := t.TempDir() // a venv without the SDK
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", bare).CombinedOutput(); err != nil {
		t.Fatalf("python3.11 -m venv: %v\n%s", err, out)
	}
	t.Setenv("SQUALL_PYTHON", filepath.Join(bare, "bin", "python"))
	if _, err := PythonSDKDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "pip install guest-sdks/python") {
		t.Errorf("without an installed SDK: %v", err)
	}
}

// String hashes, and so the iteration order of sets, and the random
// module's numbers are the same for a batch in every instance, whatever its
// seed and what it ran before: a retried batch replays the same effects.
func TestPythonDeterministic(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	r := newRuntime(t)
	m := compile(t, r, "hashseed", buildPython(t, "testdata/python/hashseed"))
	var got []string
	for seed := range uint64(3) {
		in, err := m.Instantiate(ctx, host.InitParams{Tasks: 1, Seed: seed * 7919})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := abi.Encode(abi.String("abc"))
		if err != nil {
			t.Fatal(err)
		}
		// Instance i runs i other batches first: the compared batch (seed
		// 99) must not depend on them.
		for batch := range seed + 1 {
			h := &memHandler{}
			bseed := 99 + batch
			if batch == seed {
				bseed = 99
			}
			b := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: batch + 1, Seed: bseed, TimeUnixNano: 1e18}, Items: []abi.BatchItem{{Kind: abi.ItemRecord, Payload: enc}}}
			if _, err := in.Process(ctx, b, h); err != nil {
				t.Fatal(err)
			}
			if batch == seed {
				for _, e := range h.effects {
					if e.Op == abi.EffectEmit {
						got = append(got, e.Value.String())
					}
				}
			}
		}
		_ = in.Close(ctx)
	}
	if len(got) != 3 || got[0] != got[1] || got[1] != got[2] {
		t.Errorf("instances with different seeds emitted %q; want the same set order, hash and random number", got)
	}
}

// queryHandler answers every query with a bytes value of the size the
// path's key names, and rejects every TRANSFORM.
type queryHandler struct{ memHandler }

func (h *queryHandler) Effects(ctx context.Context, effects []abi.Effect) []abi.Rejection {
	h.memHandler.Effects(ctx, effects)
	var rs []abi.Rejection
	for i, e := range effects {
		if e.Op == abi.EffectTransform {
			rs = append(rs, abi.Rejection{Effect: i, Item: e.Item, Code: abi.EPATH, Message: "the test host rejects every transform"})
		}
	}
	return rs
}

func (h *queryHandler) Query(_ context.Context, q *abi.QueryFrame) *abi.QueryResponse {
	resp := &abi.QueryResponse{}
	for _, qu := range q.Queries {
		p, err := abi.ParsePath(qu.Path)
		size := 0
		if err == nil && len(p) > 0 && p[0].Op == abi.OpKey {
			s, _ := p[0].Arg.AsString()
			size, _ = strconv.Atoi(s)
		}
		resp.Results = append(resp.Results, abi.Result{Value: abi.Bytes(make([]byte, size))})
	}
	return resp
}

// The shim's host calls: query answers of any size (the shim fetches one
// larger than its buffer with take) and rejections (fetched with take) that
// poison the item with the host's message.
func TestPythonHostCalls(t *testing.T) {
	needPython(t)
	ctx := context.Background()
	r := newRuntime(t)
	m := compile(t, r, "query", buildPython(t, "testdata/python/query"))
	in := instantiate(t, m)
	keys := []string{"0", "100", "65000", "70000", "5000000", "write"}
	batch := &abi.BatchFrame{Header: abi.BatchHeader{BatchID: 1, TimeUnixNano: 1e18}}
	for i, k := range keys {
		enc, err := abi.Encode(abi.String(k))
		if err != nil {
			t.Fatal(err)
		}
		batch.Items = append(batch.Items, abi.BatchItem{Kind: abi.ItemRecord, Offset: uint64(i), Payload: enc})
	}
	h := &queryHandler{}
	res, err := in.Process(ctx, batch, h)
	if err != nil {
		t.Fatal(err)
	}
	var emits []string
	for _, e := range h.effects {
		if e.Op == abi.EffectEmit {
			emits = append(emits, e.Value.String())
		}
	}
	// Emits of the rejected item are passed to the Handler too (its
	// effects are discarded by the outcome).
	if want := "0 100 65000 70000 5000000"; !strings.HasPrefix(strings.Join(emits, " "), want) {
		t.Errorf("emitted %v, want the sizes %s", emits, want)
	}
	last := res.Outcomes[len(keys)-1]
	if last.Outcome != abi.OutcomePoison || !last.Rejected || !strings.Contains(last.Detail.Message, "the test host rejects every transform") {
		t.Errorf("the rejected item ended %v %+v", last.Outcome, last.Detail)
	}
	if res.Queries != 5 {
		t.Errorf("%d queries, want 5", res.Queries)
	}
}
