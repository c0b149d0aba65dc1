package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/host"
)

// The wasm tests and benchmarks run the Go SDK's example word count
// module (guest-sdks/go/internal/examplemod), built to wasip1 on demand
// and cached outside the repository, keyed by a hash of the SDK's sources
// and the Go version.

var exampleBuild struct {
	once sync.Once
	wasm []byte
	err  error
}

// exampleWasm returns the example module's wasm bytes.
func exampleWasm(t testing.TB) []byte {
	t.Helper()
	exampleBuild.once.Do(func() { exampleBuild.wasm, exampleBuild.err = buildExample() })
	if exampleBuild.err != nil {
		t.Skipf("cannot build the Go SDK's example module to wasm: %v", exampleBuild.err)
	}
	return exampleBuild.wasm
}

func buildExample() ([]byte, error) {
	sdk, err := filepath.Abs("../../guest-sdks/go")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(runtime.Version()))
	err = filepath.WalkDir(sdk, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "go.mod")) || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(os.TempDir(), "squall-engine-wasm")
	out := filepath.Join(dir, "examplemod-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if b, err := os.ReadFile(out); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp := out + ".tmp" + fmt.Sprint(os.Getpid())
	goCmd := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			goCmd = p
		}
	}
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-o", tmp, "./internal/examplemod")
	cmd.Dir = sdk
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// wasmExample compiles the example module on a fresh host runtime (closed
// when the test ends) and returns its definition and a factory of its
// instances for tasks partitions.
func wasmExample(t testing.TB, tasks uint32) (*abi.ModuleDef, ProcessorFactory) {
	t.Helper()
	wasm := exampleWasm(t)
	ctx := context.Background()
	cfg := host.DefaultConfig()
	cfg.Logger = testLogger(t)
	rt, err := host.NewRuntime(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	m, err := rt.Compile(ctx, "wordcount", wasm)
	if err != nil {
		t.Fatal(err)
	}
	def, err := m.Describe(ctx, host.InitParams{Tasks: tasks})
	if err != nil {
		t.Fatal(err)
	}
	return def, WasmFactory(m, tasks)
}

// TestWasmWordcount runs the Go SDK's example module through the engine:
// its definition is the one the native benchmark stages implement, ACK
// appends return its ack return with every word counted, and a sentence
// without text is dead-lettered.
func TestWasmWordcount(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module")
	}
	const tasks = 4
	env := newEnv(t, fastConfig())
	def, factory := wasmExample(t, tasks)
	if want := exampleDef(); !abi.Equal(def.Value(), want.Value()) {
		t.Fatalf("the example module's definition is\n%v\nand the native benchmark's\n%v\nkeep exampleDef and exampleNative in step with guest-sdks/go/internal/examplemod", def.Value(), want.Value())
	}
	env.deploy(def, tasks, factory)
	ctx := context.Background()
	sents, want := sentences(60, 5)
	total := int64(0)
	perUser := map[string]int64{}
	for i, s := range sents {
		user := fmt.Sprintf("user%d", i%7)
		res := env.append("wordcount", "sentences", sentenceRecord(user, s), AckAck)
		n := int64(len(strings.Fields(s)))
		total += n
		perUser[user]++
		want := abi.Map(abi.MapEntry{Key: abi.String("sentences"), Val: abi.Int(perUser[user])}, abi.MapEntry{Key: abi.String("words"), Val: abi.Int(n)})
		if got := res.AckReturns["wordcount"]; !abi.Equal(got, want) {
			t.Errorf("ack return %v for %q, want %v", got, s, want)
		}
	}
	var perr *ProcessingError
	if _, err := env.e.AppendToDepot(ctx, "wordcount", "sentences", sentenceRecord("nobody", ""), AckAck); !errors.As(err, &perr) {
		t.Errorf("a sentence without text: %v", err)
	}
	env.waitIdle("wordcount")
	for w, n := range want {
		if got := env.count("wordcount", "$$counts", abi.String(w)); got != n {
			t.Errorf("count[%s] = %d, want %d", w, got, n)
		}
	}
	vs, err := env.e.SelectPartition(ctx, "wordcount", "$$total", 0, abi.P())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := vs[0].AsInt(); got != total {
		t.Errorf("total %v, want %d", vs, total)
	}
	dls := env.deadLetters("wordcount", tasks)
	if len(dls) != 1 || dls[0].Reason != "poison" || !strings.Contains(dls[0].Error.Message, "no text") {
		t.Errorf("dead letters: %+v", dls)
	}
}

// BenchmarkWordcountWasm is BenchmarkWordcountNative with the Go SDK's
// example module compiled to wasm.
func BenchmarkWordcountWasm(b *testing.B) {
	benchWordcount(b, func(b *testing.B) (*abi.ModuleDef, ProcessorFactory) { return wasmExample(b, 4) })
}

// BenchmarkAckLatencyWasm is BenchmarkAckLatency with the Go SDK's example
// module compiled to wasm.
func BenchmarkAckLatencyWasm(b *testing.B) {
	benchAckLatency(b, func(b *testing.B) (*abi.ModuleDef, ProcessorFactory) { return wasmExample(b, 4) })
}
