package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchArguments checks how `squall bench` and `squall bench-peer`
// answer bad input; `make bench-short` runs the harness itself.
func TestBenchArguments(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "results.json")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "--scenarios", "sort"}, 1, `unknown scenario "sort"`},
		{[]string{"bench", "extra"}, 2, "got 1 arguments, want 0"},
		{[]string{"bench", "--repo", t.TempDir()}, 1, "not the repository's root"},
		{[]string{"bench", "--render", missing}, 1, "no such file"},
		{[]string{"bench-peer"}, 2, "squall bench-peer nats|pebble|consumer"},
		{[]string{"bench-peer", "kafka"}, 1, `unknown kind "kafka"`},
	} {
		code, _, stderr := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("squall %s: exit %d, stderr %q; want %d and %q", strings.Join(c.args, " "), code, stderr, c.code, c.want)
		}
	}
	code, out, _ := runCmd(t, "bench", "--help")
	if code != 0 || !strings.Contains(out, "--short") {
		t.Errorf("bench --help: exit %d\n%s", code, out)
	}
}
