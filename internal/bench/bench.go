package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/squall-run/squall/internal/build"
)

// Config selects what [Run] runs.
type Config struct {
	// Squall is the squall binary: the harness runs `squall server` and
	// `squall bench-peer` from it (required).
	Squall string
	// RepoRoot is the repository's root, where the example modules are
	// (required).
	RepoRoot string
	// Scenarios names the scenarios to run, in order (empty: all of
	// [Scenarios]).
	Scenarios []string
	// Short runs every scenario with small sizes, to check the harness
	// (about a minute and a half); otherwise the full sizes of the report.
	Short bool
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// TempDir is where the peers' data directories go (default
	// os.TempDir()); the run's directory is removed at the end.
	TempDir string
	// CacheDir keeps built modules between runs (default
	// $XDG_CACHE_HOME/squall/bench, or ~/.cache/squall/bench).
	CacheDir string
}

// Scenarios lists the scenarios [Run] knows, in their default order.
var Scenarios = []string{"append", "wordcount", "fanout", "query"}

// env is one run's shared state.
type env struct {
	cfg Config
	sz  sizes
	dir string // the run's temporary directory
	log io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Run runs the configured scenarios and returns their report. Every peer
// it starts is stopped before it returns, also when ctx is cancelled
// (Ctrl-C) or a scenario fails.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Squall == "" || cfg.RepoRoot == "" {
		return nil, errors.New("bench: Config.Squall (the squall binary) and Config.RepoRoot are required")
	}
	if _, err := os.Stat(filepath.Join(cfg.RepoRoot, "examples", "wordcount")); err != nil {
		return nil, fmt.Errorf("bench: %s is not the repository's root (no examples/wordcount): run from the repository or pass --repo", cfg.RepoRoot)
	}
	names := cfg.Scenarios
	if len(names) == 0 {
		names = Scenarios
	}
	for _, n := range names {
		if !slices.Contains(Scenarios, n) {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", n, strings.Join(Scenarios, ", "))
		}
	}
	if cfg.CacheDir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("bench: no cache directory: %w", err)
			}
			base = filepath.Join(home, ".cache")
		}
		cfg.CacheDir = filepath.Join(base, "squall", "bench")
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	dir, err := os.MkdirTemp(cfg.TempDir, "squall-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	e := &env{cfg: cfg, sz: fullSizes, dir: dir, log: log}
	mode := "full"
	if cfg.Short {
		e.sz, mode = shortSizes, "short"
	}
	rep := &Report{Started: time.Now(), Mode: mode, Commit: gitCommit(cfg.RepoRoot), Machine: machine()}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.logf("scenario %s", n)
		// A bound on each scenario, so a peer that hangs fails the run
		// (with its output) instead of hanging it.
		sctx, cancel := context.WithTimeout(ctx, e.sz.scenarioTimeout)
		var s *ScenarioResult
		switch n {
		case "append":
			s, err = e.appendScenario(sctx)
		case "wordcount":
			s, err = e.wordcountScenario(sctx)
		case "fanout":
			s, err = e.fanoutScenario(sctx)
		case "query":
			s, err = e.queryScenario(sctx)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", n, err)
		}
		s.computeRatios()
		rep.Scenarios = append(rep.Scenarios, s)
	}
	rep.Duration = time.Since(rep.Started).Seconds()
	rep.Machine.LoadAfter = loadAvg()
	return rep, nil
}

// sizes are a mode's workload sizes.
type sizes struct {
	appendFor     time.Duration // each system's closed-loop run
	appendWorkers int
	wcEvents      int           // sentences ingested for the throughput
	wcRate        float64       // appends per second for the latency
	wcLatencyFor  time.Duration // how long the latency run lasts
	fanAuthors    int
	fanUsers      int
	fanPosts      map[int]int     // followers per author → posts
	fanRate       map[int]float64 // followers per author → posts per second for the latency
	fanLatencyFor time.Duration
	queryKeys     int
	queryFor      time.Duration
	queryWorkers  int
	ingestWorkers int // concurrent AppendBatch or publishing clients
	// scenarioTimeout bounds one scenario, builds included.
	scenarioTimeout time.Duration
}

var fullSizes = sizes{
	appendFor: 10 * time.Second, appendWorkers: 64,
	wcEvents: 100_000, wcRate: 200, wcLatencyFor: 10 * time.Second,
	fanAuthors: 64, fanUsers: 5000, fanPosts: map[int]int{100: 5000, 1000: 1000},
	fanRate: map[int]float64{100: 30, 1000: 3}, fanLatencyFor: 10 * time.Second,
	queryKeys: 10_000, queryFor: 10 * time.Second, queryWorkers: 32,
	ingestWorkers: 4, scenarioTimeout: 30 * time.Minute,
}

var shortSizes = sizes{
	appendFor: 1500 * time.Millisecond, appendWorkers: 16,
	wcEvents: 2000, wcRate: 100, wcLatencyFor: time.Second,
	fanAuthors: 8, fanUsers: 2000, fanPosts: map[int]int{100: 200, 1000: 20},
	fanRate: map[int]float64{100: 20, 1000: 3}, fanLatencyFor: time.Second,
	queryKeys: 1000, queryFor: time.Second, queryWorkers: 8,
	ingestWorkers: 2, scenarioTimeout: 5 * time.Minute,
}

// guestModule is one language's build of an example.
type guestModule struct {
	lang string // display name: "Go", "Rust"
	wasm []byte
}

// examples builds every language's version of examples/NAME that
// internal/build can build here: a new language is picked up as soon as
// its folder exists and internal/build knows it. A folder it cannot build
// (unknown language, or its toolchain missing) is skipped with a note.
func (e *env) examples(ctx context.Context, name string) ([]guestModule, []string, error) {
	root := e.path(filepath.Join("examples", name))
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	var mods []guestModule
	var notes []string
	for _, d := range ents {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, d.Name())
		lang := langName(d.Name())
		wasm, err := e.buildModule(ctx, dir, name+"-"+d.Name())
		if err != nil {
			if skippable(err) {
				notes = append(notes, fmt.Sprintf("Squall (%s) not measured: examples/%s/%s does not build here: %v", lang, name, d.Name(), firstLine(err)))
				e.logf("  skip %s: %v", dir, firstLine(err))
				continue
			}
			return nil, nil, err
		}
		mods = append(mods, guestModule{lang: lang, wasm: wasm})
	}
	if len(mods) == 0 {
		return nil, nil, fmt.Errorf("bench: no language's examples/%s builds here: %s", name, strings.Join(notes, "; "))
	}
	return mods, notes, nil
}

// buildModule builds the module in dir: Go modules through the
// content-keyed cache, other languages with their toolchain's own
// incremental build.
func (e *env) buildModule(ctx context.Context, dir, name string) ([]byte, error) {
	lang, err := build.Detect(dir)
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(e.cfg.CacheDir, "wasm")
	var out string
	if lang == build.LangGo {
		out, err = build.GoCached(ctx, dir, cache)
	} else {
		out = filepath.Join(cache, name+".wasm")
		_, err = build.Module(ctx, dir, out)
	}
	if err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// skippable reports whether a build failed for want of a toolchain or a
// builder (the folder is skipped with a note), not because the module is
// broken (the run fails).
func skippable(err error) bool {
	var be *build.Error
	if errors.As(err, &be) {
		return false
	}
	return errors.Is(err, build.ErrNoGo) || errors.Is(err, build.ErrNoRustWasm) || errors.Is(err, exec.ErrNotFound) ||
		errors.Is(err, build.ErrUnknownLanguage) || errors.Is(err, build.ErrNoPython) ||
		errors.Is(err, build.ErrNoPythonRuntime) || errors.Is(err, build.ErrNoNode) ||
		strings.Contains(err.Error(), "install")
}

func langName(dir string) string {
	switch dir {
	case "go":
		return "Go"
	case "rust":
		return "Rust"
	case "python":
		return "Python"
	case "typescript", "ts":
		return "TypeScript"
	}
	return dir
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+changes"
	}
	return c
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = float64(kb) / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		f := strings.Fields(string(out))
		if len(f) >= 3 {
			m.Redis = strings.Join(f[:3], " ")
		}
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
