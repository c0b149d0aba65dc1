package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/squall-run/squall/testnode"
)

// squallBinary builds the squall command as a user does and returns its
// path. It is skipped with -short (linking takes a while).
func squallBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "squall")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/squall: %v\n%s", err, out)
	}
	return bin
}

// exe runs the binary with env added to the environment and returns its
// exit status and output.
func exe(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run squall %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// TestBinary runs the built squall binary against test nodes with and
// without authentication, as a user or a script does: output, JSON output
// and exit statuses.
func TestBinary(t *testing.T) {
	bin := squallBinary(t)
	wasm := wordcountWasm(t)

	t.Run("auth", func(t *testing.T) {
		n := testnode.Start(t, testnode.WithToken("s3cret"))
		addr := "SQUALL_ADDR=" + n.URL()
		withToken := []string{addr, "SQUALL_TOKEN=s3cret"}

		code, out, errs := exe(t, bin, withToken, "deploy", wasm, "--tasks", "2")
		if code != 0 || !strings.Contains(out, `module "wordcount" deployed with 2 tasks`) || !strings.Contains(errs, "uploading wordcount.wasm (") || !strings.Contains(errs, "100%") {
			t.Errorf("deploy: exit %d\nstdout %q\nstderr %q", code, out, errs)
		}
		code, _, errs = exe(t, bin, []string{addr}, "modules")
		if code != 1 || !strings.Contains(errs, "squall: unauthenticated:") || !strings.Contains(errs, "SQUALL_TOKEN") {
			t.Errorf("modules without a token: exit %d, stderr %q; want 1, unauthenticated and how to pass the token", code, errs)
		}
		code, _, errs = exe(t, bin, []string{addr}, "modules", "--token", "guess")
		if code != 1 || !strings.Contains(errs, "unauthenticated: wrong bearer token") {
			t.Errorf("modules with a wrong token: exit %d, stderr %q", code, errs)
		}
		code, out, errs = exe(t, bin, withToken, "append", "wordcount", "sentences", `{"user": "ada", "text": "the cat and the hat"}`, "--json")
		var ar struct {
			Partition  int
			Offset     string
			AckReturns map[string]struct{ IntValue string }
		}
		if err := json.Unmarshal([]byte(out), &ar); code != 0 || err != nil || ar.AckReturns["wordcount"].IntValue != "5" {
			t.Errorf("append --json: exit %d, %v\nstdout %q\nstderr %q", code, err, out, errs)
		}
		code, out, _ = exe(t, bin, withToken, "select", "wordcount", "$$wordCounts", `key("the")`, "--one")
		if code != 0 || out != "2\n" {
			t.Errorf("select --one: exit %d, %q", code, out)
		}
		code, out, _ = exe(t, bin, withToken, "status", "--json")
		if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"wordcount"`) {
			t.Errorf("status --json: exit %d, %q", code, out)
		}
		code, _, errs = exe(t, bin, withToken, "select", "wordcount", "$$nope", `key("the")`)
		if code != 1 || !strings.Contains(errs, `not_found: module "wordcount" has no PState "$$nope"; PStates: "$$wordCounts"`) {
			t.Errorf("unknown PState: exit %d, stderr %q", code, errs)
		}
		code, _, errs = exe(t, bin, withToken, "select", "wordcount", "$$wordCounts", `key(`)
		if code != 2 || !strings.Contains(errs, "column") {
			t.Errorf("bad path: exit %d, stderr %q", code, errs)
		}
	})

	t.Run("no auth", func(t *testing.T) {
		n := testnode.Start(t)
		env := []string{"SQUALL_ADDR=" + n.URL(), "SQUALL_TOKEN="}
		code, out, errs := exe(t, bin, env, "deploy", wasm, "--json", "--quiet")
		if code != 0 || !json.Valid([]byte(out)) || errs != "" {
			t.Errorf("deploy --json --quiet: exit %d\nstdout %q\nstderr %q", code, out, errs)
		}
		code, out, _ = exe(t, bin, env, "modules")
		if code != 0 || !strings.Contains(out, "wordcount\trunning\ttasks=4") {
			t.Errorf("modules without auth: exit %d, %q", code, out)
		}
	})

	t.Run("no node", func(t *testing.T) {
		code, _, errs := exe(t, bin, []string{"SQUALL_ADDR=http://127.0.0.1:1"}, "status")
		if code != 1 || !strings.Contains(errs, "unavailable:") || !strings.Contains(errs, "squall dev") {
			t.Errorf("no node: exit %d, stderr %q", code, errs)
		}
	})

	t.Run("usage", func(t *testing.T) {
		code, _, errs := exe(t, bin, nil, "append", "wordcount")
		if code != 2 || !strings.Contains(errs, "squall append MODULE DEPOT RECORD") {
			t.Errorf("too few arguments: exit %d, stderr %q", code, errs)
		}
		code, out, _ := exe(t, bin, nil, "version", "--json")
		if code != 0 || !json.Valid([]byte(out)) {
			t.Errorf("version --json: exit %d, %q", code, out)
		}
	})
}
