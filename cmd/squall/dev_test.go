package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevTypeScript runs `squall dev examples/wordcount/typescript` as a
// user does: it builds the TypeScript project (tsc, esbuild, the QuickJS
// runtime), deploys it and serves it; an append with ACK gets the word
// count back, a select reads a count, and Ctrl-C stops it with status 0.
func TestDevTypeScript(t *testing.T) {
	bin := squallBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	src, err := filepath.Abs("../../examples/wordcount/typescript")
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "dev", src, "--data-dir", t.TempDir(), "--listen", addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	for deadline := time.Now().Add(3 * time.Minute); !strings.Contains(out.String(), `module "wordcount" deployed`); {
		if time.Now().After(deadline) || strings.Contains(out.String(), "failed") {
			t.Fatalf("squall dev did not deploy the TypeScript wordcount:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	env := []string{"SQUALL_ADDR=http://" + addr, "SQUALL_TOKEN="}
	code, stdout, stderr := exe(t, bin, env, "append", "wordcount", "sentences", `{"user": "ann", "text": "Hello hello, World"}`, "--ack", "ack")
	if code != 0 || !strings.Contains(stdout, "wordcount returned 3") {
		t.Errorf("append: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = exe(t, bin, env, "select", "wordcount", "$$wordCounts", `key("hello")`, "--one")
	if code != 0 || stdout != "2\n" {
		t.Errorf("select: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	exited = true
	if err != nil || !strings.Contains(out.String(), "squall dev: stopped") {
		t.Errorf("after Ctrl-C: %v\n%s", err, out.String())
	}
}
