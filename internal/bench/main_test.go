package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a peer process for the
// lifecycle tests instead of running the tests.
const helperEnv = "SQUALL_BENCH_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	// Started by the harness as `squall bench-peer KIND ...`: this test
	// binary stands in for the squall binary.
	if len(os.Args) > 2 && os.Args[1] == "bench-peer" {
		os.Exit(runAsPeer(os.Args[2], os.Args[3:]))
	}
	goleak.VerifyTestMain(m)
}

// helper is a peer process with a given behaviour.
func helper(mode string) int {
	switch mode {
	case "serve": // ready, then stops cleanly on SIGTERM
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		fmt.Println("starting")
		fmt.Println("ready")
		<-ctx.Done()
		return 0
	case "stubborn": // ready, ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return 0
	case "fail": // exits at once with an explanation
		fmt.Fprintln(os.Stderr, "helper: cannot start: port in use")
		return 3
	case "crash-later": // ready, then fails on its own
		fmt.Println("ready")
		time.Sleep(100 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "helper: lost the disk")
		return 4
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// runAsPeer is what `squall bench-peer` does.
func runAsPeer(kind string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := RunPeer(ctx, kind, args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// helperSpec runs this test binary as a helper in mode.
func helperSpec(t *testing.T, mode string, args ...string) ProcSpec {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return ProcSpec{Name: "helper " + mode, Path: self, Args: args, Env: []string{helperEnv + "=" + mode}}
}
