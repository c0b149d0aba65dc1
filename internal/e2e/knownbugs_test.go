package e2e

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squall-run/squall/internal/engine"
)

// Engine bugs the end-to-end tests found, as reproductions that fail
// until they are fixed. They do not run by default (the other tests steer
// clear of them); SQUALL_E2E_KNOWN_BUGS=1 runs them:
//
//	SQUALL_E2E_KNOWN_BUGS=1 go test ./internal/e2e/ -run 'TestConcurrentAckAppends|TestDrainWithBacklog' -v

func knownBug(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("SQUALL_E2E_KNOWN_BUGS") == "" {
		t.Skip("known engine bug (" + what + "); SQUALL_E2E_KNOWN_BUGS=1 runs it")
	}
}

// TestConcurrentAckAppends appends from 8 clients at once, all with ACK:
// every append must be acknowledged.
//
// As of this writing some are never acknowledged: the record is
// processed and its progress committed (Lag is 0), but the appender waits
// until its context ends. The engine can process a record as soon as it
// is written, before the appender's WAL sync returns (another append woke
// the task), so its completion may come before ackHub.resolve; it is then
// kept as an "early" completion. But resolve calls endFloor before it
// looks the early completion up, and endFloor drops the early completions
// below the lowest remaining floor, all of them when no floor remains
// (the appender's own was the last): the completion is lost and the
// waiter waits for one that already happened. Looking up ap.early[off]
// before endFloor fixes it (checked: this test then passes). The other
// tests append with ACK only while nothing else is being appended or
// processed (ackClients), where the race does not occur.
func TestConcurrentAckAppends(t *testing.T) {
	knownBug(t, "lost ACK of concurrent ACK appends")
	n := newNode(t, fastConfig())
	n.deployNative(wordcountNative())
	c := newCorpus(6, 4000, 64)
	var lost atomic.Int64
	parallel(len(c.sentences), 8, func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := n.e.AppendToDepot(ctx, "wordcount", "sentences", c.sentences[i].record(), engine.AckAck); err != nil {
			lost.Add(1)
			t.Errorf("sentence %d: %v", i, err)
		}
	})
	n.waitIdle("wordcount", time.Minute)
	checkCounts(t, n, c.counts)
	if lost.Load() > 0 {
		t.Errorf("%d of %d ACK appends were not acknowledged, though every record was processed", lost.Load(), len(c.sentences))
	}
}
