package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
)

// The interrupt check compiled into every module (host/internal/interrupt)
// replaces wazero's WithCloseOnContextDone. These tests check what it must
// guarantee beyond the deadline tests of TestProcessFailures.

// TestLoopingGuests runs two endless loops at once, on one P and on two.
// Each must stop at its deadline. Native code cannot be preempted, but the
// guests come back to Go at every tick, so the garbage collector, which
// has to stop every goroutine, must not wait for them to end (on one P it
// does, as it does with wazero's own check: the two loops take turns with
// the collector's goroutines, 10 ms at a time, and the collector needs
// many turns; it must still end).
func TestLoopingGuests(t *testing.T) {
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprint(procs, "P"), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			const deadline = 3 * time.Second
			cfg := testConfig(t)
			cfg.BatchTimeout = deadline
			m := compile(t, newRuntime(t, cfg), "chaos")
			ins := []*Instance{instantiate(t, m), instantiate(t, m)}
			var wg sync.WaitGroup
			errs := make([]error, len(ins))
			start := time.Now()
			for i, in := range ins {
				wg.Go(func() { _, errs[i] = in.Process(context.Background(), batchOf(abi.String("loop")), &memHandler{}) })
			}
			time.Sleep(200 * time.Millisecond) // both guests are looping
			gcStart := time.Now()
			runtime.GC()
			if d := time.Since(gcStart); procs > 1 && d > deadline/2 {
				t.Errorf("a garbage collection took %v while guests looped", d)
			}
			wg.Wait()
			for _, err := range errs {
				guestErr(t, err, KindTimeout, "the call did not finish within its deadline of 3s")
			}
			if d := time.Since(start); d > deadline+2*time.Second {
				t.Errorf("the loops stopped after %v", d)
			}
		})
	}
}

// TestRuntimeCloseStopsARunningCall closes the runtime under a looping
// guest.
func TestRuntimeCloseStopsARunningCall(t *testing.T) {
	cfg := testConfig(t)
	cfg.BatchTimeout = time.Minute
	r, err := NewRuntime(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := instantiate(t, compile(t, r, "chaos"))
	go func() {
		time.Sleep(100 * time.Millisecond)
		r.Close(context.Background())
	}()
	_, err = in.Process(context.Background(), batchOf(abi.String("loop")), &memHandler{})
	guestErr(t, err, KindCanceled)
}

// TestCompileHugeCounts: a few bytes declaring billions of entries are
// rejected before the compiler sizes anything by them.
func TestCompileHugeCounts(t *testing.T) {
	r := newRuntime(t, testConfig(t))
	for _, wasm := range []string{
		"\x00asm\x01\x00\x00\x00\x01\x060`\xff\xff\xff\x7f",                                                               // a type of 2^28 params
		"\x00asm\x01\x00\x00\x00\x04\x1c\x8b\x8b\x8b0\x8b00000000000000000000000",                                         // 100 million tables
		"\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b", // 2^32-1 locals
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := r.Compile(context.Background(), "huge", []byte(wasm))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), `host: module "huge": not a valid WebAssembly module: section `) {
			t.Errorf("error %v", err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("compiling %q allocated %d MiB", wasm, n>>20)
		}
	}
}
