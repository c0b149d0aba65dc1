package testnode_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/testnode"
)

// TestUpdateAndDestroy updates a running module with a rebuilt artifact of
// the same definition (byte-for-byte the same: builds are cached), refuses
// an update that changes the definition, and destroys the module.
func TestUpdateAndDestroy(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	n := testnode.Start(t, testnode.WithDataDir(dir))
	c := n.Client()
	if _, err := n.DeployDir(ctx, "../examples/wordcount/go", client.DeployOptions{Tasks: 2}); err != nil {
		t.Fatal(err)
	}
	appendHi := func(k int) {
		t.Helper()
		for i := range k {
			if _, err := c.Append(ctx, "wordcount", "sentences", rec("user", fmt.Sprint("u", i), "text", "hi there"), client.AckNone); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(word string) string {
		t.Helper()
		if err := n.WaitProcessed(ctx, "wordcount"); err != nil {
			t.Fatal(err)
		}
		v, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", key(word))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(v)
	}
	appendHi(50)

	wasm, err := testnode.Build(ctx, "../examples/wordcount/go")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := c.Update(ctx, "wordcount", wasm, client.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if desc.GetGeneration() != 2 || desc.GetTasks() != 2 {
		t.Errorf("after update: generation %d, tasks %d; want 2, 2", desc.GetGeneration(), desc.GetTasks())
	}
	appendHi(30)
	if got := count("hi"); got != "80" {
		t.Errorf("count[hi] after update = %s, want 80", got)
	}
	if desc, err := c.Update(ctx, "wordcount", wasm, client.UpdateOptions{ValidateOnly: true}); err != nil || desc.GetGeneration() != 3 {
		t.Errorf("validate-only update: %v %v", desc.GetGeneration(), err)
	}

	// A changed definition is refused; the module keeps running.
	changed, err := testnode.Build(ctx, "testdata/wordcount-changed")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Update(ctx, "wordcount", changed, client.UpdateOptions{})
	var ce *client.Error
	if !errors.Is(err, client.ErrFailedPrecondition) || !errors.As(err, &ce) ||
		!strings.Contains(ce.Message, `PState "$$extra" added`) || !strings.Contains(ce.Message, "destroy") {
		t.Errorf("update with a changed definition: %v", err)
	}
	if _, err := c.Update(ctx, "nope", wasm, client.UpdateOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("update of an unknown module: %v", err)
	}
	appendHi(20)
	if got := count("hi"); got != "100" {
		t.Errorf("count[hi] after the refused update = %s, want 100", got)
	}

	// The updated artifact is the one a restart deploys.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = testnode.Start(t, testnode.WithDataDir(dir))
	c = n.Client()
	if d, err := c.Describe(ctx, "wordcount"); err != nil || d.GetGeneration() != 2 {
		t.Fatalf("after a restart: generation %d, %v", d.GetGeneration(), err)
	}
	if got := count("hi"); got != "100" {
		t.Errorf("count[hi] after a restart = %s, want 100", got)
	}

	// Destroy deletes the module and its data.
	if err := c.Destroy(ctx, "wordcount"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Describe(ctx, "wordcount"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("describe after destroy: %v", err)
	}
	if err := c.Destroy(ctx, "wordcount"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("second destroy: %v", err)
	}
	// The name is free again, for any definition; counts start from zero.
	if _, err := n.DeployDir(ctx, "testdata/wordcount-changed", client.DeployOptions{Tasks: 4}); err != nil {
		t.Fatal(err)
	}
	if got := count("hi"); got != "nil" { // absent: nothing counted
		t.Errorf("count[hi] after destroy and deploy = %s, want nil", got)
	}
	appendHi(5)
	if got := count("hi"); got != "5" {
		t.Errorf("count[hi] = %s, want 5", got)
	}
	if err := c.Destroy(ctx, "wordcount"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.DeployDir(ctx, "../examples/wordcount/go"); err != nil {
		t.Fatal(err)
	}
	if got := count("hi"); got != "nil" {
		t.Errorf("count[hi] after the second destroy and deploy = %s, want nil", got)
	}
}
