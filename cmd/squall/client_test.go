package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/squall-run/squall/testnode"
)

// wordcountWasm builds examples/wordcount/go (cached) into a file of the
// test's temporary directory and returns its path.
func wordcountWasm(t *testing.T) string {
	t.Helper()
	b, err := testnode.Build(t.Context(), "../../examples/wordcount/go")
	if err != nil {
		t.Fatalf("build the wordcount example: %v", err)
	}
	p := filepath.Join(t.TempDir(), "wordcount.wasm")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientCommands runs the client commands as a user does, against a
// node on loopback with a token.
func TestClientCommands(t *testing.T) {
	wasm := wordcountWasm(t)
	n := testnode.Start(t, testnode.WithToken("tok"))
	flags := []string{"--addr", n.URL(), "--token", "tok"}
	tests := []struct {
		args []string
		code int
		out  string // stdout (or stderr when code != 0) contains it
	}{
		{[]string{"deploy", wasm, "--tasks", "2"}, 0, `module "wordcount" deployed with 2 tasks`},
		{[]string{"modules"}, 0, "wordcount\trunning\ttasks=2"},
		{[]string{"describe", "wordcount"}, 0, "depot    sentences (hash by key(\"user\"))"},
		{[]string{"append", "wordcount", "sentences", `{"user": "ada", "text": "the cat and the hat"}`}, 0, "wordcount returned 5"},
		{[]string{"append", "wordcount", "sentences", `{"user": "bob", "text": "The end"}`, "--ack", "ack"}, 0, "appended to partition"},
		{[]string{"select", "wordcount", "$$wordCounts", `key("the")`}, 0, "3\n"},
		{[]string{"select", "wordcount", "$$wordCounts", `key("cat")`, "--one"}, 0, "1\n"},
		{[]string{"select", "wordcount", "$$wordCounts", `key("cat")`, "--json"}, 0, `"intValue"`},
		{[]string{"select", "wordcount", "$$wordCounts", `key("cat"`}, 2, "path: column 10: expected ')', found the end"},
		{[]string{"select", "nope", "$$wordCounts", `key("cat")`}, 1, `not_found: module "nope" is not deployed; modules: "wordcount"`},
		{[]string{"append", "wordcount", "sentences", `{"user": `}, 2, "RECORD"},
		{[]string{"append", "wordcount", "sentences", `{}`, "--ack", "maybe"}, 2, "--ack \"maybe\""},
		{[]string{"status"}, 0, "topology wordcount: lag 0"},
		{[]string{"update", "wordcount", wasm, "--quiet"}, 0, `module "wordcount" updated (generation 2)`},
		{[]string{"update", "wordcount", "../../examples/wordcount/go", "--quiet"}, 0, `module "wordcount" updated (generation 3)`},
		{[]string{"select", "wordcount", "$$wordCounts", `key("the")`}, 0, "3\n"},
		{[]string{"update", "nope", wasm}, 1, `not_found: module "nope" is not deployed`},
		{[]string{"destroy", "wordcount"}, 2, "nothing was deleted; add --yes"},
		{[]string{"select", "wordcount", "$$wordCounts", `key("the")`}, 0, "3\n"},
		{[]string{"destroy", "wordcount", "--yes"}, 0, `module "wordcount" destroyed`},
		{[]string{"destroy", "wordcount", "--yes"}, 1, "not_found"},
		{[]string{"modules"}, 0, "no module is deployed"},
	}
	for _, tt := range tests {
		code, out, errs := runCmd(t, append(tt.args, flags...)...)
		got := out
		if tt.code != 0 {
			got = errs
		}
		if code != tt.code || !strings.Contains(got, tt.out) {
			t.Errorf("squall %s: exit %d, stdout %q, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), code, out, errs, tt.code, tt.out)
		}
	}
	// destroy without --yes prints what it would delete, on stdout.
	runCmd(t, append([]string{"deploy", wasm, "--quiet"}, flags...)...)
	if code, out, _ := runCmd(t, append([]string{"destroy", "wordcount"}, flags...)...); code != 2 ||
		!strings.Contains(out, "would delete") || !strings.Contains(out, "$$wordCounts") {
		t.Errorf("destroy without --yes: exit %d, stdout %q", code, out)
	}
	code, _, errs := runCmd(t, "modules", "--addr", n.URL(), "--token", "wrong")
	if code != 1 || !strings.Contains(errs, "unauthenticated: wrong bearer token") {
		t.Errorf("wrong token: exit %d, stderr %q", code, errs)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
