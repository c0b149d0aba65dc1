package testnode_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/testnode"
)

// TestShutdownUnderLoadLosesNoAcknowledgedAppend closes (drains) a node
// while concurrent clients append with APPEND_ACK and ACK, starts it again
// on the same data directory, and checks that every acknowledged record is
// there and processed exactly once: each record carries a unique word,
// whose count must be 1.
func TestShutdownUnderLoadLosesNoAcknowledgedAppend(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	n := testnode.Start(t, testnode.WithDataDir(dir))
	if _, err := n.DeployDir(ctx, "../examples/wordcount/go"); err != nil {
		t.Fatal(err)
	}
	const appenders = 8
	var (
		mu     sync.Mutex
		acked  = map[string]client.AppendResult{}
		total  atomic.Int64
		wg     sync.WaitGroup
		errsMu sync.Mutex
		errs   = map[string]int{}
	)
	for a := range appenders {
		wg.Go(func() {
			level := client.AckAppend
			if a%2 == 1 {
				level = client.Ack
			}
			c := n.Client()
			for i := 0; ; i++ {
				word := fmt.Sprintf("w%dx%d", a, i)
				res, err := c.Append(ctx, "wordcount", "sentences", rec("user", fmt.Sprint("u", a, "-", i%7), "text", word), level)
				if err != nil {
					var ce *client.Error
					kind := err.Error()
					if errors.As(err, &ce) {
						kind = ce.Code.String()
					}
					errsMu.Lock()
					errs[kind]++
					errsMu.Unlock()
					return
				}
				total.Add(1)
				mu.Lock()
				acked[word] = res
				mu.Unlock()
			}
		})
	}
	// Let the load build up, then drain the node under it.
	for total.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("close under load: %v", err)
	}
	wg.Wait()
	t.Logf("%d appends acknowledged before the shutdown; the appenders stopped on %v", len(acked), errs)

	n = testnode.Start(t, testnode.WithDataDir(dir))
	if err := n.WaitProcessed(ctx, "wordcount"); err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	type pos struct {
		p uint32
		o uint64
	}
	seen := map[pos]string{}
	for word, res := range acked {
		if other, dup := seen[pos{res.Partition, res.Offset}]; dup {
			t.Errorf("%q and %q were both acknowledged at partition %d offset %d", word, other, res.Partition, res.Offset)
		}
		seen[pos{res.Partition, res.Offset}] = word
	}
	missing := 0
	for word, res := range acked {
		v, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", abi.P().Key(abi.String(word)))
		if got, _ := v.AsInt(); err != nil || got != 1 {
			if missing++; missing <= 10 {
				t.Errorf("acknowledged append of %q (partition %d, offset %d): count %v, %v; want 1", word, res.Partition, res.Offset, v, err)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged appends are missing or miscounted", missing, len(acked))
	}
}
