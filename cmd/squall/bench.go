package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/squall-run/squall/internal/bench"
)

// runBench runs the benchmark harness (internal/bench) and writes its
// report.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall bench [--short] [--out DIR] [--scenarios append,wordcount,fanout,query] [--repo DIR] [--render RESULTS.json]"
	fs := newFlagSet("bench", stdout, syn)
	short := fs.Bool("short", false, "small sizes (under 2 minutes): checks the harness works; its numbers are not the report's")
	out := fs.String("out", "", "where to write results.md, results.json and the charts (default docs/benchmarks, or a temporary directory with --short)")
	scen := fs.String("scenarios", "", "comma-separated scenarios to run (default: all: "+strings.Join(bench.Scenarios, ",")+")")
	repo := fs.String("repo", "", "the repository's root, where the examples are (default: found from the current directory)")
	render := fs.String("render", "", "run nothing: render this results.json again into --out (tables and charts)")
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, syn); err != nil {
		return err
	}
	if *render != "" {
		rep, err := bench.ReadReport(*render)
		if err != nil {
			return err
		}
		if *out == "" {
			*out = filepath.Dir(*render)
		}
		if err := rep.Write(*out, ""); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "squall bench: rendered %s into %s\n", *render, *out)
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: cannot find the squall binary to run peers from: %w", err)
	}
	if *repo == "" {
		if *repo, err = findRepo(); err != nil {
			return err
		}
	}
	if *out == "" {
		if *short {
			*out = filepath.Join(os.TempDir(), "squall-bench-short")
		} else {
			*out = filepath.Join(*repo, "docs", "benchmarks")
		}
	}
	cfg := bench.Config{Squall: self, RepoRoot: *repo, Short: *short, Log: stderr}
	if *scen != "" {
		cfg.Scenarios = strings.Split(*scen, ",")
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("bench: interrupted; every peer was stopped: %w", err)
		}
		return err
	}
	if err := rep.Write(*out, ""); err != nil {
		return err
	}
	if err := rep.WriteMarkdown(stdout, ""); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "squall bench: wrote %s (results.md, results.json, charts)\n", *out)
	return nil
}

// runBenchPeer runs one of the harness's peers (`squall bench-peer
// nats|pebble|consumer ...`): the harness re-executes this binary so that
// each system of a comparison is its own process. Not for direct use.
func runBenchPeer(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: squall bench-peer %s ... (started by squall bench)", errUsage, strings.Join(bench.PeerKinds, "|"))
	}
	return bench.RunPeer(ctx, args[0], args[1:], stdout)
}

// findRepo walks up from the current directory to the Squall repository's
// root (the go.mod of module github.com/squall-run/squall).
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/squall-run/squall\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench: not inside the Squall repository (the examples are needed): run from it or pass --repo DIR")
		}
		dir = parent
	}
}
