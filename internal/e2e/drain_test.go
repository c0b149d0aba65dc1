package e2e

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/squall-run/squall/internal/engine"
)

// TestDrainWithBacklog closes the engine just after a deploy that found
// a backlog in the depots, many times: Close must drain (finish the trees
// in flight and stop) within its deadline, and after a restart nothing
// appended is lost.
//
// It failed in about half the 60-run loops before module.reading: a task
// that checked "draining" (task.collect) just before Close set it read new
// records and hopped their words to tasks that, seeing no tree in flight
// (module.drained), had already exited; those trees never completed and
// Close timed out. -short runs fewer rounds; SQUALL_E2E_DRAIN_RUNS sets
// the count.
func TestDrainWithBacklog(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 5
	}
	if v, err := strconv.Atoi(os.Getenv("SQUALL_E2E_DRAIN_RUNS")); err == nil && v > 0 {
		runs = v
	}
	wasm := moduleWasm(t, wordcountSrc)
	c := newCorpus(2, 200, 9)
	for i := range runs {
		n := newNode(t, fastConfig())
		n.deployWasm("wordcount", wasm)
		for _, s := range c.sentences {
			n.append("wordcount", "sentences", s.record(), engine.AckNone)
		}
		// A drained close leaves the records not yet read to the restart.
		n.restart()
		n.deployWasm("wordcount", wasm) // starts on the backlog
		// Close at various points of the backlog's processing.
		time.Sleep(time.Duration(i%20) * 150 * time.Microsecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := n.e.Close(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run %d: close just after a deploy with a backlog: %v", i, err)
		}
		n.e = nil
		n.close()
		n.open()
		n.deployWasm("wordcount", wasm)
		n.waitIdle("wordcount", time.Minute)
		got := n.intMap("wordcount", "$$wordCounts")
		for w, want := range c.counts {
			if got[w] < want {
				t.Fatalf("run %d: count[%q] = %d, want at least %d", i, w, got[w], want)
			}
		}
		n.close()
	}
}
