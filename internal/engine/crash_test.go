package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/internal/crashtest"
	"github.com/squall-run/squall/storage"
)

// The crash test runs the engine in a child process (this test binary,
// re-executed) that appends records with APPEND_ACK from several
// goroutines while two topologies process them, kills it with SIGKILL
// mid-stream, restarts the engine on the same directory and checks:
//
//   - every acknowledged record is in the depot;
//   - topology "direct" (no hops: state and progress commit together)
//     counted every record in the depot exactly once;
//   - topology "hopped" (every record hops to the partition of another
//     key) counted every record at least once, and exactly once every
//     record whose processing its progress, as committed at the crash,
//     says was complete (those were not replayed).
const (
	crashChildEnv = "SQUALL_ENGINE_CRASH_CHILD"
	crashIterEnv  = "SQUALL_ENGINE_CRASH_ITER"
	crashTasks    = 4
)

func crashDef() *abi.ModuleDef {
	counts := abi.Schema{Type: abi.SchemaMap, Key: &abi.Schema{Type: abi.SchemaString}, Val: &abi.Schema{Type: abi.SchemaInt}}
	return &abi.ModuleDef{
		Name:    "crash",
		Depots:  []abi.DepotDef{{Name: "events", Partitioner: abi.DepotPartitioner{Kind: abi.DepotHash}}},
		PStates: []abi.PStateDef{{Name: "direct_counts", Schema: counts}, {Name: "hop_counts", Schema: counts}},
		Topologies: []abi.TopologyDef{
			{Name: "direct", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "events", Stage: "count"}}, Stages: []string{"count"}},
			{Name: "hopped", Kind: abi.TopologyStream, Sources: []abi.SourceDef{{Depot: "events", Stage: "first"}}, Stages: []string{"first", "second"}},
		},
	}
}

func crashNative() *NativeModule {
	return NewNativeModule(crashDef()).
		Stage("direct", "count", func(c *StageCtx, p abi.Value) error {
			return c.Transform("direct_counts", abi.P().Key(p).Incr(1))
		}).
		Stage("hopped", "first", func(c *StageCtx, p abi.Value) error {
			s, _ := p.AsString()
			return c.HopHash("second", abi.String(s+"#"), abi.String(s+"#"))
		}).
		Stage("hopped", "second", func(c *StageCtx, p abi.Value) error {
			return c.Transform("hop_counts", abi.P().Key(p).Incr(1))
		})
}

// crashChild is the child process: it appends until it is killed,
// printing "A id partition offset" for every acknowledged append.
func crashChild() int {
	dir := os.Getenv(crashChildEnv)
	iter := os.Getenv(crashIterEnv)
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := Open(Config{DB: db, Seed: 7, MaxBatchItems: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f, _ := crashNative().Factory()
	ctx := context.Background()
	if err := e.Deploy(ctx, ModuleSpec{Def: crashDef(), Tasks: crashTasks, NewProcessor: f}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	for g := range 4 {
		go func() {
			for n := 0; ; n++ {
				id := fmt.Sprintf("i%s-g%d-n%d", iter, g, n)
				res, err := e.AppendToDepot(ctx, "crash", "events", abi.String(id), AckAppendAck)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "A %s %d %d\n", id, res.Partition, res.Offset)
				mu.Unlock()
			}
		}()
	}
	select {}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: runs child processes")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	counts := map[string]int64{} // hopped's counts after the previous restart
	for iter := range 3 {
		runCrashChild(t, dir, iter, 300+200*iter, acked)
		checkAfterCrash(t, dir, acked, counts)
	}
}

// runCrashChild runs the child until it has acknowledged n appends (or for
// at most 10 s) and kills it.
func runCrashChild(t *testing.T, dir string, iter, n int, acked map[string]bool) {
	res := crashtest.Run(t, crashtest.Child{
		Env:     []string{crashChildEnv + "=" + dir, crashIterEnv + "=" + strconv.Itoa(iter)},
		Acks:    n,
		Timeout: 10 * time.Second,
		Ack:     crashtest.IDs(acked, 4),
	})
	t.Logf("iteration %d: killed the child after %d acknowledged appends", iter, res.Acks)
}

// checkAfterCrash restarts the engine after a crash and checks the counts.
// prev holds hopped's counts as the previous check left them (records
// replayed then were counted twice already); it is updated.
func checkAfterCrash(t *testing.T, dir string, acked map[string]bool, prev map[string]int64) {
	t.Helper()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The progress of "hopped" as the crash left it.
	progs := make([]srcProgress, crashTasks)
	for p := range uint32(crashTasks) {
		raw, ok, err := db.Progress("crash", "hopped", p)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			prog, err := decodeProgress(raw)
			if err != nil {
				t.Fatal(err)
			}
			progs[p] = prog.srcs[srcKey{"events", "first"}]
		}
	}
	e, err := Open(Config{DB: db, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	f, _ := crashNative().Factory()
	if err := e.Deploy(context.Background(), ModuleSpec{Def: crashDef(), NewProcessor: f}); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{t: t, db: db, e: e}
	env.waitIdle("crash")

	d, err := db.LookupDepot("crash", "events")
	if err != nil {
		t.Fatal(err)
	}
	inDepot := map[string]bool{}
	replayed, belowLow := 0, 0
	for p := range uint32(crashTasks) {
		_, next, err := d.Bounds(p)
		if err != nil {
			t.Fatal(err)
		}
		for off := uint64(0); off < next; {
			es, err := d.Read(p, off, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range es {
				off = en.Offset + 1
				v, _ := abi.Decode(en.Value)
				id, _ := v.AsString()
				inDepot[id] = true
				if n := env.count("crash", "direct_counts", v); n != 1 {
					t.Errorf("direct: record %s (partition %d offset %d) counted %d times, want exactly 1", id, p, en.Offset, n)
				}
				n := env.count("crash", "hop_counts", abi.String(id+"#"))
				want, seen := prev[id]
				if !seen {
					want = 1
				}
				switch {
				case n < 1:
					t.Errorf("hopped: record %s (partition %d offset %d) was not counted", id, p, en.Offset)
				case completed(&progs[p], en.Offset) && n != want:
					t.Errorf("hopped: record %s (partition %d offset %d, complete by the progress %+v) counted %d times, want %d: it was replayed", id, p, en.Offset, progs[p], n, want)
				case n > want:
					replayed++
				}
				prev[id] = n
				if completed(&progs[p], en.Offset) {
					belowLow++
				}
			}
		}
	}
	for id := range acked {
		if !inDepot[id] {
			t.Errorf("acknowledged record %s is not in the depot", id)
		}
	}
	t.Logf("%d records in the depot (%d acknowledged); %d complete by the hopped progress; %d counted more than once by hopped (replayed)",
		len(inDepot), len(acked), belowLow, replayed)
}

// completed reports whether a source's progress says the record at off
// was completely processed.
func completed(p *srcProgress, off uint64) bool { return off < p.low || p.done(off) }
