// Command squall is the Squall binary: one program that runs a node, and the
// client commands that talk to one.
//
// The storage core is what exists today, so the commands are:
//
//	squall demo [--data-dir DIR]   run the storage demo: depot appends, a processing batch, PState paths
//	squall version                 print the version and the on-disk format version
//
// `squall dev`, `server`, `build`, `deploy`, `append`, `select` and the rest
// arrive with the WASM host and the public API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors whose message is the usage text; run prints it and
// exits with status 2.
var errUsage = errors.New("usage")

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "demo":
		err = runDemo(ctx, rest, stdout)
	case "version", "--version", "-version":
		err = runVersion(stdout)
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "squall: unknown command %q\n\n", cmd)
		usage(stderr)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "squall: %v\n", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Squall: depots, topologies and PStates, with dataflow code in any language compiled to WebAssembly.

Usage:
  squall demo [--data-dir DIR]   run the storage demo against DIR (default ./.squall)
  squall version                 print the version and the on-disk format version
  squall help                    show this help
`)
}
