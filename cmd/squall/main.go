// Command squall is the Squall binary: one program that runs a node, and the
// client commands that talk to one.
//
// Node commands: `squall dev` (a development node that builds, deploys and
// redeploys a module) and `squall server` (a production node). Client
// commands talk to a node over the public API: deploy, update, destroy,
// modules, describe, append, select, status. `squall build` builds a Go module to
// WebAssembly. See docs/cli.md and `squall help`.
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
	case "dev":
		err = runDev(ctx, rest, stdout, stderr)
	case "server":
		err = runServer(ctx, rest, stdout, stderr)
	case "build":
		err = runBuild(ctx, rest, stdout, stderr)
	case "deploy":
		err = runDeploy(ctx, rest, stdout, stderr)
	case "update":
		err = runUpdate(ctx, rest, stdout, stderr)
	case "destroy":
		err = runDestroy(ctx, rest, stdout)
	case "modules":
		err = runModules(ctx, rest, stdout)
	case "describe":
		err = runDescribe(ctx, rest, stdout)
	case "append":
		err = runAppend(ctx, rest, stdout)
	case "select":
		err = runSelect(ctx, rest, stdout)
	case "query":
		err = runQuery(ctx, rest, stdout)
	case "status":
		err = runStatus(ctx, rest, stdout)
	case "bench":
		err = runBench(ctx, rest, stdout, stderr)
	case "bench-peer": // started by squall bench; not in the usage
		err = runBenchPeer(ctx, rest, stdout)
	case "version", "--version", "-version":
		err = runVersion(rest, stdout)
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
  squall dev [DIR|FILE.wasm]               run a development node (data in ./.squall, no auth),
                                           build and deploy the module, redeploy on change
  squall server --data-dir DIR --token-file FILE [--listen ADDR] [--tls-cert F --tls-key F]
                                           run a production node
  squall build DIR [-o OUT.wasm] [--json]  build a module folder (Go, Rust, TypeScript) to .wasm
  squall deploy FILE.wasm [--tasks N]      deploy a module
  squall update MODULE FILE.wasm|DIR      replace a module's code (same definition; builds a DIR)
  squall destroy MODULE [--yes]            delete a module and all its data (refused without --yes)
  squall modules                           list the deployed modules
  squall describe MODULE                   show a module's depots, PStates and topologies
  squall append MODULE DEPOT RECORD [--ack none|append|ack]
                                           append a record (JSON) to a depot
  squall select MODULE PSTATE PATH [--one] read a PState with a path, e.g. 'key("the")'
  squall query MODULE QUERY [ARG...]       invoke a query topology; ARGs are JSON values
  squall status                            show the node, its modules and their lag
  squall demo [--data-dir DIR]             run the storage demo against DIR (default ./.squall)
  squall bench [--short] [--scenarios LIST] [--out DIR]
                                           compare Squall with JetStream, Redis and Pebble
                                           (docs/benchmarks.md)
  squall version [--json]                  print the version and the on-disk format version
  squall help                              show this help

Client commands take --addr URL (default http://127.0.0.1:7790, env SQUALL_ADDR),
--token TOKEN (env SQUALL_TOKEN) and --json. Exit status: 0 success, 1 failure, 2 usage error.
See docs/cli.md.
`)
}
