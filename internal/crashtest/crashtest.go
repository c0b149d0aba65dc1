// Package crashtest is the parent side of the repository's crash tests:
// it re-executes the test binary as a child process that writes durable
// state and prints one line per acknowledged write on stdout, kills it
// with SIGKILL mid-stream, and hands every line the child wrote before it
// died to the test, which then reopens what the child left and checks
// that every acknowledged write survived.
//
// The child side stays in each test package (usually its TestMain, which
// recognises the child by an environment variable the parent sets): what
// a child does and what its lines mean is the test's business.
package crashtest

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds the wait for the child's Ready line: opening a
// store takes milliseconds, so a child that has not started after this
// long is stuck.
const readyTimeout = 30 * time.Second

// Child says how to run one child and when to kill it.
type Child struct {
	// Env is added to the parent's environment; it tells the test binary
	// that it is the child, and what to do.
	Env []string
	// Args are the test binary's arguments. Nil runs no test
	// ("-test.run=^$"), for a child that does its work in TestMain.
	Args []string
	// Ready, if not empty, is the line the child prints once its workload
	// runs: Timeout counts from it, and the test fails if the child does
	// not print it. Ack never sees it.
	Ready string
	// Acks is how many acknowledgments to wait for before the kill; 0
	// waits for Timeout only. When it is set, a child that acknowledged
	// nothing fails the test.
	Acks int
	// Timeout is how long the child runs at most: it is killed then,
	// whatever it acknowledged.
	Timeout time.Duration
	// Ack is called with every other line the child printed, in order,
	// including those read after the kill (the child printed them before
	// it died). It reports whether the line was an acknowledgment.
	Ack func(line string) bool
}

// Result is what one run observed.
type Result struct {
	Acks   int    // acknowledgments, including those read after the kill
	Stderr string // what the child wrote to stderr
}

// Run runs the child and kills it with SIGKILL after c.Acks
// acknowledgments or c.Timeout, whichever comes first. It fails the test
// if the child cannot start, never prints c.Ready, ends by itself instead
// of being killed (children run until killed; one that exits has failed,
// and its stderr says why), or acknowledged nothing when c.Acks asked for
// acknowledgments.
func Run(t testing.TB, c Child) Result {
	t.Helper()
	args := c.Args
	if args == nil {
		args = []string{"-test.run=^$"}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), c.Env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("crashtest: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("crashtest: start the child: %v", err)
	}
	// The reader ends when the child's stdout closes, which the kill
	// below guarantees; Run drains lines before it returns.
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var res Result
	ready := c.Ready == ""
	note := func(l string) {
		if c.Ready != "" && l == c.Ready {
			return
		}
		if c.Ack(l) {
			res.Acks++
		}
	}
	wait := c.Timeout
	if !ready {
		wait = readyTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
loop:
	for c.Acks == 0 || res.Acks < c.Acks {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop // the child ended by itself: Wait says how
			}
			if !ready && l == c.Ready {
				ready = true
				timer.Reset(c.Timeout)
			}
			note(l)
		case <-timer.C:
			break loop
		}
	}
	_ = cmd.Process.Kill() // SIGKILL; an error means the child has exited already
	for l := range lines {
		note(l)
	}
	err = cmd.Wait()
	res.Stderr = stderr.String()
	if !ready {
		t.Fatalf("crashtest: the child never printed %q: %v\n%s", c.Ready, err, res.Stderr)
	}
	if !killed(err) {
		t.Fatalf("crashtest: the child ended by itself (%v) instead of being killed:\n%s", err, res.Stderr)
	}
	if c.Acks > 0 && res.Acks == 0 {
		t.Fatalf("crashtest: the child acknowledged nothing in %v; stderr:\n%s", c.Timeout, res.Stderr)
	}
	return res
}

// IDs returns a Child.Ack for children that acknowledge with lines of
// fields words, "A <id> ...": it records each id in acked.
func IDs(acked map[string]bool, fields int) func(line string) bool {
	return func(line string) bool {
		f := strings.Fields(line)
		if len(f) != fields || f[0] != "A" {
			return false
		}
		acked[f[1]] = true
		return true
	}
}

// killed reports whether err, from Wait, says SIGKILL ended the process.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
