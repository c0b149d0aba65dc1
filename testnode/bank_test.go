package testnode_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/testnode"
)

// The bank example through the public API: a microbatch topology and
// query topologies invoked with Client.Invoke, with the errors a client
// sees for wrong arguments, unknown queries and deadlines.
func TestBankQueries(t *testing.T) {
	ctx := t.Context()
	n := testnode.Start(t)
	if _, err := n.DeployDir(ctx, "../examples/bank/go", client.DeployOptions{Tasks: 4}); err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	for _, r := range []abi.Value{rec("account", "ann", "amount", 100), rec("account", "bob", "amount", 20)} {
		if _, err := c.Append(ctx, "bank", "deposits", r, client.AckAppend); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []abi.Value{
		rec("id", "t1", "from", "ann", "to", "bob", "amount", 30),
		rec("id", "t2", "from", "bob", "to", "ann", "amount", 90), // refused: bob has 50
	} {
		if _, err := c.Append(ctx, "bank", "transfers", r, client.AckAppend); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.WaitProcessed(ctx, "bank"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Invoke(ctx, "bank", "account", abi.String("bob"), abi.Int(5))
	if err != nil {
		t.Fatal(err)
	}
	bal, _ := v.Get(abi.String("balance"))
	trs, _ := v.Get(abi.String("transfers"))
	if !abi.Equal(bal, abi.Int(50)) || trs.Len() != 2 {
		t.Errorf("account bob = %v", v)
	}
	if v, err := c.Invoke(ctx, "bank", "total"); err != nil || !abi.Equal(v, abi.Int(120)) {
		t.Errorf("total = %v, %v", v, err)
	}

	_, err = c.Invoke(ctx, "bank", "account", abi.String("bob"))
	var ce *client.Error
	if !errors.Is(err, client.ErrInvalidArgument) || !errors.As(err, &ce) ||
		ce.Message != "query bank/account: query account takes 2 arguments (id, limit); got 1" {
		t.Errorf("one argument: %v", err)
	}
	if _, err = c.Invoke(ctx, "bank", "nope"); !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "its queries: account, total, stats") {
		t.Errorf("unknown query: %v", err)
	}
	if _, err = c.Invoke(ctx, "bank", "account", abi.String("bob"), abi.Int(5000)); !errors.Is(err, client.ErrProcessingFailed) ||
		!strings.Contains(err.Error(), "limit must be from 0 to 1000") {
		t.Errorf("a stage that fails: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-short.Done()
	if _, err = c.Invoke(short, "bank", "total"); !errors.Is(err, client.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("past its deadline: %v", err)
	}
	desc, err := c.Describe(ctx, "bank")
	if err != nil {
		t.Fatal(err)
	}
	if q := desc.GetQueries(); len(q) != 3 || q[0].GetName() != "account" || strings.Join(q[0].GetArgs(), ",") != "id,limit" {
		t.Errorf("described queries %v", q)
	}
	if tp := desc.GetTopologies(); len(tp) != 1 || tp[0].GetKind() != squallv1.TopologyKind_TOPOLOGY_KIND_MICROBATCH {
		t.Errorf("described topologies %v", tp)
	}
}

// A microbatch that keeps failing pauses its topology: Status says so,
// with the error, and nothing of the microbatch is applied.
func TestMicrobatchPauseInStatus(t *testing.T) {
	ctx := t.Context()
	n := testnode.Start(t, testnode.WithRetries(3, time.Millisecond))
	if _, err := n.DeployDir(ctx, "testdata/pausemod", client.DeployOptions{Tasks: 2}); err != nil {
		t.Fatal(err)
	}
	c := n.Client()
	if _, err := c.Append(ctx, "pausemod", "jobs", rec("n", 1), client.AckAppend); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitProcessed(ctx, "pausemod"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx, "pausemod", "jobs", abi.Map(abi.MapEntry{Key: abi.String("fail"), Val: abi.Bool(true)}), client.AckAppend); err != nil {
		t.Fatal(err)
	}
	var ts *squallv1.TopologyStatus
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ts = st.GetModules()[0].GetTopologies()[0]
		if ts.GetPaused() || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !ts.GetPaused() || !strings.Contains(ts.GetError(), "the ledger is unreachable") || !strings.Contains(ts.GetError(), "microbatch 1 failed 3 times") ||
		ts.GetMicrobatches() != 1 || ts.GetLag() != 1 {
		t.Fatalf("status %v", ts)
	}
	var done int64
	for p := range uint32(2) {
		v, err := c.SelectOne(ctx, "pausemod", "done", abi.P(), client.OnPartition(p))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := v.AsInt()
		done += d
	}
	if done != 1 {
		t.Errorf("done = %d, want 1", done)
	}
}
