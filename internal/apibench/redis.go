package apibench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoRedis is returned by [StartRedis] when redis-server is not on PATH.
var ErrNoRedis = errors.New("apibench: redis-server is not installed: run scripts/install-redis.sh")

// Redis is a redis-server process that [StartRedis] started on a free
// loopback port. Stop it with [Redis.Stop].
type Redis struct {
	// Addr is the host:port the server listens on (127.0.0.1).
	Addr string

	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when the process has been waited for
	err    error         // the wait's result, set before exited closes
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 64<<10 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

// StartRedis starts redis-server on a free port of 127.0.0.1 with its
// files in dir and no persistence unless args ask for it (args are
// appended to the command line, e.g. "--appendonly", "yes",
// "--appendfsync", "always"). It returns once the server answers PING.
// The server runs in its own process group, so [Redis.Stop] stops it and
// anything it forks.
func StartRedis(ctx context.Context, dir string, args ...string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedis
	}
	var errs []error
	// A free port found by listening and closing can be taken before
	// redis-server binds it; try a few.
	for range 3 {
		r, err := startRedis(ctx, bin, dir, args)
		if err == nil {
			return r, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func startRedis(ctx context.Context, bin, dir string, args []string) (*Redis, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--daemonize", "no", "--logfile", "", "--save", "", "--appendonly", "no",
	}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("apibench: start redis-server: %w", err)
	}
	r := &Redis{Addr: addr, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := DialRedis(ctx, addr)
		if err == nil {
			err = c.Ping()
			c.Close()
			if err == nil {
				return r, nil
			}
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("apibench: redis-server %s exited: %v\n%s", strings.Join(argv, " "), r.err, out.String())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), r.Stop())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(fmt.Errorf("apibench: redis-server on %s did not answer PING in 10s: %v\n%s", addr, err, out.String()), r.Stop())
		}
	}
}

// Stop terminates the server's process group (SIGTERM, then SIGKILL after
// 10 seconds) and waits for the server to exit.
func (r *Redis) Stop() error {
	select {
	case <-r.exited:
		return nil // already gone (Stop twice, or it died)
	default:
	}
	pgid := r.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-r.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-r.exited
	return fmt.Errorf("apibench: redis-server on %s did not stop on SIGTERM in 10s; killed\n%s", r.Addr, r.out.String())
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("apibench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
