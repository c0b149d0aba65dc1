package crashtest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// childEnv makes the test binary a child that behaves as its value says.
const childEnv = "SQUALL_CRASHTEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is the child process. "forever" prints a noise line, then READY,
// then acknowledgments until it is killed; "exit" acknowledges twice and
// exits by itself; "silent" prints nothing until it is killed.
func child(mode string) int {
	switch mode {
	case "forever":
		fmt.Println("noise")
		fmt.Println("READY")
		for n := 0; ; n++ {
			fmt.Printf("A %d\n", n)
			time.Sleep(time.Millisecond)
		}
	case "exit":
		fmt.Println("A 0")
		fmt.Println("A 1")
		fmt.Fprintln(os.Stderr, "child: giving up")
		return 3
	case "silent":
		time.Sleep(time.Hour) // not select{}: the runtime would call that a deadlock and exit
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", mode)
	return 2
}

func isAck(l string) bool { return strings.HasPrefix(l, "A ") }

func TestRunKillsAfterAcks(t *testing.T) {
	var seen []string
	res := Run(t, Child{
		Env:     []string{childEnv + "=forever"},
		Acks:    5,
		Timeout: time.Minute,
		Ack: func(l string) bool {
			seen = append(seen, l)
			return isAck(l)
		},
	})
	if res.Acks < 5 {
		t.Fatalf("Acks = %d, want at least 5 (killed after 5, plus what was in flight)", res.Acks)
	}
	if seen[0] != "noise" || seen[1] != "READY" || seen[2] != "A 0" {
		t.Fatalf("lines = %q..., want noise, READY, A 0, ...: every line, in order (no Ready set)", seen[:3])
	}
	if n := len(seen) - 2; n != res.Acks {
		t.Fatalf("Ack saw %d acknowledgments, Result says %d", n, res.Acks)
	}
}

func TestRunReadyHidesReadyAndTimesOut(t *testing.T) {
	res := Run(t, Child{
		Env:     []string{childEnv + "=forever"},
		Ready:   "READY",
		Timeout: 50 * time.Millisecond,
		Ack: func(l string) bool {
			if l == "READY" {
				t.Errorf("Ack saw the Ready line")
			}
			return isAck(l)
		},
	})
	t.Logf("%d acknowledgments before the kill", res.Acks)
}

// fakeTB records a Fatalf and ends the goroutine, as testing.T does.
type fakeTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// runFailing runs c with a fake TB and returns the Fatalf message ("" if
// Run returned).
func runFailing(t *testing.T, c Child) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(f, c)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

func TestRunFails(t *testing.T) {
	tests := []struct {
		name string
		c    Child
		want []string
	}{
		{"child exits by itself", Child{Env: []string{childEnv + "=exit"}, Acks: 10, Timeout: time.Minute, Ack: isAck},
			[]string{"ended by itself", "exit status 3", "child: giving up"}},
		{"no ready line", Child{Env: []string{childEnv + "=exit"}, Ready: "READY", Timeout: time.Minute, Ack: isAck},
			[]string{`never printed "READY"`, "child: giving up"}},
		{"nothing acknowledged", Child{Env: []string{childEnv + "=silent"}, Acks: 1, Timeout: 50 * time.Millisecond, Ack: isAck},
			[]string{"acknowledged nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runFailing(t, tc.c)
			if got == "" {
				t.Fatal("Run passed")
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("failure %q does not contain %q", got, w)
				}
			}
		})
	}
}

func TestRunKillsASilentChildAtTimeout(t *testing.T) {
	res := Run(t, Child{Env: []string{childEnv + "=silent"}, Timeout: 50 * time.Millisecond, Ack: isAck})
	if res.Acks != 0 {
		t.Fatalf("Acks = %d, want 0", res.Acks)
	}
}

func TestIDs(t *testing.T) {
	acked := map[string]bool{}
	ack := IDs(acked, 3)
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"A t1 7", true},
		{"A t2", false},     // too few fields
		{"A t3 7 9", false}, // too many
		{"B t4 7", false},   // not an acknowledgment
		{"", false},
	} {
		if got := ack(tc.line); got != tc.want {
			t.Errorf("ack(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
	if len(acked) != 1 || !acked["t1"] {
		t.Errorf("acked = %v, want t1 only", acked)
	}
}
