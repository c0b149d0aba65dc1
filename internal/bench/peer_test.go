package bench

import (
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testEnv is a harness environment whose "squall binary" is this test
// binary (TestMain runs `bench-peer` itself), with tiny sizes.
func testEnv(t *testing.T) *env {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: Config{Squall: self}, dir: t.TempDir(), log: io.Discard, sz: sizes{
		appendFor: 200 * time.Millisecond, appendWorkers: 4,
		wcEvents: 300, wcRate: 50, wcLatencyFor: 200 * time.Millisecond,
		fanAuthors: 3, fanUsers: 200, fanPosts: map[int]int{10: 30}, fanRate: map[int]float64{10: 50}, fanLatencyFor: 200 * time.Millisecond,
		queryKeys: 50, queryFor: 200 * time.Millisecond, queryWorkers: 2,
		ingestWorkers: 2,
	}}
}

// needRedis fails the test without redis-server: the pipeline is what
// the tests are about (scripts/setup.sh installs it).
func needRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run scripts/install-redis.sh")
	}
}

func checkRow(t *testing.T, row *Row, procs int, latency bool) {
	t.Helper()
	if row.Ops <= 0 || row.Throughput <= 0 || row.Seconds <= 0 || len(row.Procs) != procs || row.PeakRSSBytes <= 0 {
		t.Errorf("implausible row %+v", row)
	}
	if latency && (row.P50Ms <= 0 || row.P99Ms < row.P50Ms || row.LatencyOps <= 0) {
		t.Errorf("implausible latency in row %+v", row)
	}
	for _, p := range row.Procs {
		if p.CPUSeconds < 0 || p.PeakRSSBytes <= 0 {
			t.Errorf("implausible usage %+v", p)
		}
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestRunPeerRejectsBadArguments(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		kind string
		args []string
		want string
	}{
		{"kafka", nil, `unknown kind "kafka"`},
		{"nats", nil, "--store-dir is required"},
		{"nats", []string{"--store-dir", "x", "--listen", "nope"}, "--listen"},
		{"pebble", []string{"--workers", "0"}, "--dir is required"},
		{"consumer", []string{"--job", "sort"}, `--job "sort"`},
		{"consumer", []string{"--job", "fanout"}, "--nats and --redis are required"},
		{"pebble", []string{"--bogus"}, "flag provided but not defined"},
	} {
		err := RunPeer(ctx, c.kind, c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RunPeer(%s %v) = %v, want %q", c.kind, c.args, err, c.want)
		}
	}
}

func TestAppendBaselines(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	row, err := e.appendPebble(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, row, 1, true)
	for _, sync := range []bool{true, false} {
		row, err := e.appendJetStream(ctx, sync)
		if err != nil {
			t.Fatal(err)
		}
		checkRow(t, row, 1, true)
	}
}

func TestWordcountPipeline(t *testing.T) {
	needRedis(t)
	e := testEnv(t)
	row, err := e.wordcountPipeline(context.Background(), sentences(e.sz.wcEvents, 1), sentences(20, 2))
	if err != nil {
		t.Fatal(err) // it checks the counts in Redis itself
	}
	checkRow(t, row, 3, true)
	if !row.Baseline || !approx(metric(row.Extra, "words/s"), row.Throughput*wcWords) {
		t.Errorf("row %+v", row)
	}
}

func TestFanoutPipeline(t *testing.T) {
	needRedis(t)
	e := testEnv(t)
	w := e.fanoutWork(10, 30, 50)
	row, err := e.fanoutPipeline(context.Background(), w)
	if err != nil {
		t.Fatal(err) // it checks post counts and timeline lengths itself
	}
	checkRow(t, row, 3, true)
	if !approx(metric(row.Extra, "timeline writes/s"), row.Throughput*10) {
		t.Errorf("row %+v", row)
	}
}

func TestQueryRedis(t *testing.T) {
	needRedis(t)
	e := testEnv(t)
	row, err := e.queryRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkRow(t, row, 1, true)
}

func TestFanoutWork(t *testing.T) {
	e := testEnv(t)
	w := e.fanoutWork(10, 30, 50)
	if len(w.authors) != 3 || len(w.posts) != 30 || len(w.latPosts) != 11 || w.latPosts[0].ID != 30 {
		t.Fatalf("%d authors, %d posts", len(w.authors), len(w.posts))
	}
	for _, a := range w.authors {
		fs := w.follows[a]
		seen := map[string]bool{}
		for _, f := range fs {
			seen[f] = true
		}
		if len(fs) != 10 || len(seen) != 10 {
			t.Errorf("%s has followers %v, want 10 distinct", a, fs)
		}
	}
}

func TestSentencesAndWords(t *testing.T) {
	a, b := sentences(50, 1), sentences(50, 1)
	for i := range a {
		if a[i] != b[i] || len(Words(a[i].Text)) != wcWords {
			t.Fatalf("sentence %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	if got := strings.Join(Words("Don't stop, DON'T! 42x"), " "); got != "don t stop don t 42x" {
		t.Errorf("Words = %q (must split as examples/wordcount does)", got)
	}
}

// A consumer that dies fails the wait for the pipeline to drain, instead
// of hanging it.
func TestPipelineConsumerDeath(t *testing.T) {
	needRedis(t)
	e := testEnv(t)
	ctx := context.Background()
	p, err := e.startPipeline(ctx, "wordcount", wordcountStream, wordcountSubject)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := p.cons.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := publishAll(ctx, p.nats.js, wordcountSubject, [][]byte{[]byte(`{"user":"u","text":"a b"}`)}); err != nil {
		t.Fatal(err)
	}
	err = p.nats.waitDrained(ctx, wordcountStream, p.cons)
	if err == nil || !strings.Contains(err.Error(), "exited with 1 messages pending") {
		t.Errorf("waitDrained = %v, want the consumer's exit", err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Config{}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("empty config: %v", err)
	}
	if _, err := Run(ctx, Config{Squall: "squall", RepoRoot: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not the repository's root") {
		t.Errorf("bad root: %v", err)
	}
	if _, err := Run(ctx, Config{Squall: "squall", RepoRoot: "../..", Scenarios: []string{"sort"}}); err == nil || !strings.Contains(err.Error(), `unknown scenario "sort"`) {
		t.Errorf("bad scenario: %v", err)
	}
}

func TestExamplesSkipsWhatCannotBuild(t *testing.T) {
	e := testEnv(t)
	root := t.TempDir()
	e.cfg.RepoRoot = root
	e.cfg.CacheDir = t.TempDir()
	// A language internal/build does not know: skipped with a note.
	if err := os.MkdirAll(root+"/examples/demo/cobol", 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.examples(context.Background(), "demo")
	if err == nil || !strings.Contains(err.Error(), "no language's examples/demo builds here") || !strings.Contains(err.Error(), "Squall (cobol) not measured") {
		t.Errorf("err = %v", err)
	}
	// A Go module that does not compile is a failure, not a skip.
	dir := root + "/examples/demo/go"
	os.MkdirAll(dir, 0o755)
	os.WriteFile(dir+"/go.mod", []byte("module demo\n\ngo 1.24\n"), 0o644)
	os.WriteFile(dir+"/main.go", []byte("package main\n\nfunc main() { undefined() }\n"), 0o644)
	if _, _, err := e.examples(context.Background(), "demo"); err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("a broken module: %v", err)
	}
}
