package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/squall-run/squall/testnode"
)

// buildWasm builds a Go module folder (cached) into a file of the test's
// temporary directory.
func buildWasm(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := testnode.Build(t.Context(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	p := filepath.Join(t.TempDir(), name+".wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQueryAndPausedStatus runs `squall query` on the bank example and
// `squall status` on a microbatch topology that paused.
func TestQueryAndPausedStatus(t *testing.T) {
	bank := buildWasm(t, "../../examples/bank/go", "bank")
	pause := buildWasm(t, "../../testnode/testdata/pausemod", "pausemod")
	n := testnode.Start(t, testnode.WithRetries(2, time.Millisecond))
	flags := []string{"--addr", n.URL()}
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"deploy", bank, "--tasks", "4"}, 0, `module "bank" deployed with 4 tasks`},
		{[]string{"describe", "bank"}, 0, "query    account(id, limit): stages start, read"},
		{[]string{"append", "bank", "deposits", `{"account": "ann", "amount": 100}`, "--ack", "append"}, 0, "appended"},
		{[]string{"append", "bank", "transfers", `{"id": "t1", "from": "ann", "to": "bob", "amount": 30}`, "--ack", "append"}, 0, "appended"},
		{[]string{"query", "bank", "total"}, 0, "100\n"},
		{[]string{"query", "bank", "account", `"bob"`, "1"}, 0, `"balance": 30`},
		{[]string{"query", "bank", "account", `"bob"`, "1", "--json"}, 0, `"intValue": "30"`},
		{[]string{"query", "bank", "account", `"bob"`}, 1, "invalid_argument: query bank/account: query account takes 2 arguments (id, limit); got 1"},
		{[]string{"query", "bank", "nope"}, 1, "not_found: module \"bank\" has no query \"nope\"; its queries: account, total, stats"},
		{[]string{"query", "bank"}, 2, "squall query MODULE QUERY [ARG...]"},
		{[]string{"query", "bank", "total", "{"}, 2, "argument 1"},
		{[]string{"deploy", pause, "--tasks", "2"}, 0, `module "pausemod" deployed`},
		{[]string{"append", "pausemod", "jobs", `{"fail": true}`, "--ack", "append"}, 0, "appended"},
	}
	for _, tt := range tests {
		// The transfer is visible once its microbatch commits.
		if tt.args[0] == "query" && tt.code == 0 {
			if err := n.WaitProcessed(t.Context(), "bank"); err != nil {
				t.Fatal(err)
			}
		}
		code, out, errs := runCmd(t, append(tt.args, flags...)...)
		got := out
		if tt.code != 0 {
			got = errs
		}
		if slices.Contains(tt.args, "--json") {
			// protojson varies its white space on purpose.
			got, tt.out = strings.Join(strings.Fields(got), ""), strings.Join(strings.Fields(tt.out), "")
		}
		if code != tt.code || !strings.Contains(got, tt.out) {
			t.Errorf("squall %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, out, errs, tt.code, tt.out)
		}
	}
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, out, _ = runCmd(t, append([]string{"status"}, flags...)...)
		if strings.Contains(out, "PAUSED") {
			break
		}
	}
	if !strings.Contains(out, "topology work: lag 1, 0 microbatches, PAUSED: microbatch 0 failed 2 times") ||
		!strings.Contains(out, "the ledger is unreachable") || !strings.Contains(out, "topology bank: lag 0, ") {
		t.Errorf("status:\n%s", out)
	}
}
