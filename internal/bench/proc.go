package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcSpec describes a peer process to start.
type ProcSpec struct {
	// Name names the process in reports and errors ("squall server").
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Env is added to the harness's environment.
	Env []string
	// Ready, when not nil, is polled every 20 ms until it returns nil
	// (the process is ready) or ReadyTimeout passes.
	Ready func(ctx context.Context, p *Proc) error
	// ReadyTimeout bounds the wait for Ready (default 30 s).
	ReadyTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL
	// (default 30 s: a Squall node drains before it exits).
	StopTimeout time.Duration
}

// Proc is a running peer process. It runs in its own process group (a
// terminal's Ctrl-C reaches the harness, which stops its peers in order),
// and gets SIGKILL if the harness dies without stopping it.
type Proc struct {
	Name string

	spec   ProcSpec
	cmd    *exec.Cmd
	out    *lineBuffer // stdout, by lines
	errOut *lineBuffer // stderr
	exited chan struct{}
	err    error // the wait's result, set before exited closes

	stopOnce sync.Once
	stopErr  error
}

// StartProc starts the process and waits until it is ready. On any error
// the process has been stopped.
func StartProc(ctx context.Context, spec ProcSpec) (*Proc, error) {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = 30 * time.Second
	}
	if spec.StopTimeout == 0 {
		spec.StopTimeout = 30 * time.Second
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Proc{Name: spec.Name, spec: spec, cmd: cmd, out: newLineBuffer(), errOut: newLineBuffer(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s (%s): %w", spec.Name, spec.Path, err)
	}
	go func() { // owned: ends when the process has exited; Stop waits for it
		p.err = cmd.Wait()
		p.out.close()
		p.errOut.close()
		close(p.exited)
	}()
	if spec.Ready == nil {
		return p, nil
	}
	rctx, cancel := context.WithTimeout(ctx, spec.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := spec.Ready(rctx, p)
		if err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("bench: %s exited before it was ready (%v)%s", spec.Name, p.err, p.tail())
		case <-rctx.Done():
			why := fmt.Errorf("bench: %s not ready in %v: %w%s", spec.Name, spec.ReadyTimeout, err, p.tail())
			if ctx.Err() != nil {
				why = fmt.Errorf("bench: start %s: %w", spec.Name, ctx.Err())
			}
			return nil, errors.Join(why, p.Stop())
		case <-tick.C:
		}
	}
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Stop terminates the process group (SIGTERM, then SIGKILL after the
// spec's StopTimeout) and waits for the process to exit. It is safe to
// call more than once; a process that exited by itself with a failure
// status is reported.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
		default:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(p.spec.StopTimeout):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.exited
				p.stopErr = fmt.Errorf("bench: %s did not stop within %v of SIGTERM; killed%s", p.Name, p.spec.StopTimeout, p.tail())
				return
			}
			// Killed by our SIGTERM, or exited after handling it.
			if ee, ok := p.err.(*exec.ExitError); ok {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
					return
				}
			}
		}
		if p.err != nil {
			p.stopErr = fmt.Errorf("bench: %s: %w%s", p.Name, p.err, p.tail())
		}
	})
	return p.stopErr
}

// WaitLine waits until the process writes a line to stdout that starts
// with prefix and returns the line.
func (p *Proc) WaitLine(ctx context.Context, prefix string) (string, error) {
	for {
		lines, changed := p.out.snapshot()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("bench: %s: no line starting with %q: %w%s", p.Name, prefix, ctx.Err(), p.tail())
		case <-changed:
		}
	}
}

// tail returns the end of the process's output, for errors.
func (p *Proc) tail() string {
	var b strings.Builder
	for _, lb := range []*lineBuffer{p.out, p.errOut} {
		lines, _ := lb.snapshot()
		for _, l := range lines[max(0, len(lines)-15):] {
			b.WriteString("\n  | ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// Usage is a process's resource use as the kernel counts it.
type Usage struct {
	// CPU is user plus system time, including waited-for children.
	CPU time.Duration
	// PeakRSS is the peak resident set size (VmHWM), in bytes.
	PeakRSS int64
}

// Usage reads the process's CPU time and peak RSS from /proc (Linux).
func (p *Proc) Usage() (Usage, error) {
	return ReadUsage(p.Pid())
}

// ReadUsage reads process pid's CPU time from /proc/PID/stat and its peak
// RSS from /proc/PID/status.
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("bench: CPU time of process %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return Usage{}, fmt.Errorf("bench: CPU time of process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("bench: peak RSS of process %d: %w", pid, err)
	}
	rss, err := parseStatusHWM(status)
	if err != nil {
		return Usage{}, fmt.Errorf("bench: peak RSS of process %d: %w", pid, err)
	}
	return Usage{CPU: cpu, PeakRSS: rss}, nil
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// parseStatCPU returns utime+stime+cutime+cstime from a /proc/PID/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses, so fields are counted after the last ')': utime is
// field 14, the 12th after it.
func parseStatCPU(b []byte) (time.Duration, error) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return 0, fmt.Errorf("short /proc stat %q", s)
	}
	var total int64
	for _, k := range []int{11, 12, 13, 14} {
		n, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("malformed /proc stat %q", s)
		}
		total += n
	}
	return time.Duration(total) * clockTick, nil
}

// parseStatusHWM returns VmHWM from /proc/PID/status, in bytes.
func parseStatusHWM(b []byte) (int64, error) {
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("malformed VmHWM line %q", line)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmHWM in /proc status (a zombie process has none)")
}

// lineBuffer collects a process's output by lines (keeping the last
// 2,000) and wakes those waiting for a new line.
type lineBuffer struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

func newLineBuffer() *lineBuffer { return &lineBuffer{changed: make(chan struct{})} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, strings.TrimRight(string(b.partial[:i]), "\r"))
		b.partial = b.partial[i+1:]
		added = true
	}
	if len(b.lines) > 2000 {
		b.lines = append([]string(nil), b.lines[len(b.lines)-1000:]...)
	}
	if added {
		close(b.changed)
		b.changed = make(chan struct{})
	}
	return len(p), nil
}

// close flushes a last unterminated line and wakes the waiters.
func (b *lineBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.lines = append(b.lines, string(b.partial))
		b.partial = nil
	}
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *lineBuffer) snapshot() ([]string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...), b.changed
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startWithPort starts a process that listens on a port it is told,
// choosing a free port and trying again (up to 3 times) when another
// process took it first.
func startWithPort(ctx context.Context, mk func(port int) ProcSpec) (*Proc, int, error) {
	var errs []error
	for range 3 {
		port, err := FreePort()
		if err != nil {
			return nil, 0, err
		}
		p, err := StartProc(ctx, mk(port))
		if err == nil {
			return p, port, nil
		}
		if ctx.Err() != nil {
			return nil, 0, err
		}
		errs = append(errs, err)
	}
	return nil, 0, errors.Join(errs...)
}
