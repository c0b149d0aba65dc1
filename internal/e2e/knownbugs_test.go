package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/squall-run/squall/internal/engine"
)

// Engine bugs the end-to-end tests found, as reproductions that fail
// until they are fixed. They do not run by default (the other tests steer
// clear of them); SQUALL_E2E_KNOWN_BUGS=1 runs them:
//
//	SQUALL_E2E_KNOWN_BUGS=1 go test ./internal/e2e/ -run TestDrainWithBacklog -v

func knownBug(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("SQUALL_E2E_KNOWN_BUGS") == "" {
		t.Skip("known engine bug (" + what + "); SQUALL_E2E_KNOWN_BUGS=1 runs it")
	}
}

// TestDrainWithBacklog closes the engine just after a deploy that found
// a backlog in the depots, many times: Close must drain (finish the trees
// in flight and stop) within its deadline, and after a restart nothing
// appended is lost.
//
// It fails in about half the runs with the engine as of this writing (a
// known bug, see knownBug): a task that checked "draining" (task.collect) just before
// Close set it reads new records and hops their words to tasks that,
// seeing no tree in flight (module.drained), have already exited; those
// trees never complete and Close times out. The draining check and the
// inflight increment need to be atomic with respect to drained().
func TestDrainWithBacklog(t *testing.T) {
	knownBug(t, "drain race")
	wasm := moduleWasm(t, wordcountSrc)
	c := newCorpus(2, 200, 9)
	for i := range 60 {
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
