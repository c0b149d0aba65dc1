package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestDemoIsDurable runs the demo twice on one data directory: the second
// run appends after the first run's offsets and the counts double, which
// only happens if appends, PState changes and progress all survived Close.
func TestDemoIsDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCmd(t, "demo", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("first run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		`partition 3 offset 0   "the quick brown fox jumps over the lazy dog"`,
		`selectOne key("the")                             = 6`,
		`top: the=6 a=3 do=2 to=2 and=1`,
		`key(5).view(size)                     = 8`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first run output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCmd(t, "demo", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		`partition 3 offset 1   "the quick brown fox jumps over the lazy dog"`,
		`partition 1: offsets 2..3 -> 25 word updates, progress 4`,
		`selectOne key("the")                             = 12`,
		// the set of five-letter words does not grow: sets deduplicate
		`key(5).view(size)                     = 8`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second run output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"demo", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"demo", "--nope"}, 2, "flag provided but not defined: -nope"},
	} {
		code, out, errs := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(errs+out, tc.inStderr) {
			t.Errorf("squall %v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errs, tc.code, tc.inStderr)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "squall dev (go") || !strings.Contains(out, "storage format 1") {
		t.Errorf("squall version: exit %d, %q", code, out)
	}
}

// TestDemoReportsOpenErrors: a data directory that cannot be created gets
// the path and the cause, and exit status 1.
func TestDemoReportsOpenErrors(t *testing.T) {
	code, _, errs := runCmd(t, "demo", "--data-dir", "/dev/null/x")
	if code != 1 || !strings.Contains(errs, "squall: storage: open /dev/null/x") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestModuleBaseName(t *testing.T) {
	for in, want := range map[string]string{
		"/r/examples/wordcount/go":         "wordcount",
		"/r/examples/wordcount/rust":       "wordcount",
		"/r/examples/social/typescript":    "social",
		"/r/examples/social/python":        "social",
		"/home/ann/wordcount":              "wordcount",
		"/home/ann/projects/typescript-wc": "typescript-wc",
	} {
		if got := moduleBaseName(in); got != want {
			t.Errorf("moduleBaseName(%q) = %q, want %q", in, got, want)
		}
	}
}
