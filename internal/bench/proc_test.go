package bench

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime ...
	line := "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 1 0 100 1000 200"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := (250 + 50 + 7 + 3) * clockTick; got != want {
		t.Errorf("CPU = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1234 no parens", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ten 5 0 0 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestParseStatusHWM(t *testing.T) {
	status := "Name:\tredis-server\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n"
	got, err := parseStatusHWM([]byte(status))
	if err != nil || got != 2048<<10 {
		t.Errorf("HWM = %d, %v; want %d", got, err, 2048<<10)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t12 MB\n", "VmHWM:\tlots kB\n"} {
		if _, err := parseStatusHWM([]byte(bad)); err == nil {
			t.Errorf("parseStatusHWM(%q) accepted", bad)
		}
	}
}

func TestReadUsageOfThisProcess(t *testing.T) {
	// Burn some CPU so the count has moved past 0 ticks.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	u, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.CPU <= 0 || u.PeakRSS < 1<<20 {
		t.Errorf("usage %+v: want some CPU and at least 1 MiB resident", u)
	}
	if _, err := ReadUsage(1 << 30); err == nil {
		t.Error("a process that does not exist has a usage")
	}
}

func TestProcLifecycle(t *testing.T) {
	ctx := context.Background()
	spec := helperSpec(t, "serve")
	spec.Ready = lineReady("ready")
	p, err := StartProc(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	line, err := p.WaitLine(ctx, "start")
	if err != nil || line != "starting" {
		t.Errorf("WaitLine = %q, %v", line, err)
	}
	if u, err := p.Usage(); err != nil || u.PeakRSS == 0 {
		t.Errorf("Usage = %+v, %v", u, err)
	}
	// Its own process group: a Ctrl-C at the terminal reaches the
	// harness only, which stops its peers in order.
	if pgid, err := syscall.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Errorf("pgid = %d, %v; want the process's own group %d", pgid, err, p.Pid())
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("Stop returned before the process exited")
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.WaitLine(wctx, "never"); err == nil {
		t.Error("WaitLine found a line that was never written")
	}
}

func TestProcKilledWhenItIgnoresSIGTERM(t *testing.T) {
	spec := helperSpec(t, "stubborn")
	spec.Ready = lineReady("ready")
	spec.StopTimeout = 200 * time.Millisecond
	p, err := StartProc(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop = %v, want an error saying it was killed", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Error("the process survived Stop")
	}
}

func TestProcExitsBeforeReady(t *testing.T) {
	spec := helperSpec(t, "fail")
	spec.Ready = lineReady("ready")
	_, err := StartProc(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "port in use") {
		t.Errorf("err = %v, want the exit and the process's own message", err)
	}
}

func TestProcNeverReady(t *testing.T) {
	spec := helperSpec(t, "serve")
	spec.Ready = lineReady("never")
	spec.ReadyTimeout = 200 * time.Millisecond
	_, err := StartProc(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("err = %v, want not ready", err)
	}
	// goleak (TestMain) checks the wait goroutine ended: the process was
	// stopped.
}

func TestProcStartCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	spec := helperSpec(t, "serve")
	spec.Ready = lineReady("never")
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := StartProc(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("err = %v, want cancelled", err)
	}
}

func TestProcFailureReportedByStop(t *testing.T) {
	spec := helperSpec(t, "crash-later")
	spec.Ready = lineReady("ready")
	p, err := StartProc(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	err = p.Stop()
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "lost the disk") {
		t.Errorf("Stop = %v, want the failure and its message", err)
	}
}

func TestProcBadPath(t *testing.T) {
	if _, err := StartProc(context.Background(), ProcSpec{Name: "nothing", Path: "/nonexistent/squall"}); err == nil {
		t.Error("started a program that does not exist")
	}
}

func TestStartWithPortRetries(t *testing.T) {
	tries := 0
	_, _, err := startWithPort(context.Background(), func(port int) ProcSpec {
		tries++
		spec := helperSpec(t, "fail")
		spec.Ready = lineReady("ready")
		return spec
	})
	if err == nil || tries != 3 {
		t.Errorf("err = %v after %d tries, want a failure after 3", err, tries)
	}
}

func TestLineBuffer(t *testing.T) {
	b := newLineBuffer()
	_, ch := b.snapshot()
	b.Write([]byte("one\r\ntw"))
	select {
	case <-ch:
	default:
		t.Error("a complete line did not wake the waiters")
	}
	b.Write([]byte("o\nthr"))
	b.close()
	lines, _ := b.snapshot()
	if strings.Join(lines, "|") != "one|two|thr" {
		t.Errorf("lines = %q", lines)
	}
	for i := range 5000 {
		b.Write([]byte("x\n"))
		_ = i
	}
	if lines, _ := b.snapshot(); len(lines) > 2000 {
		t.Errorf("kept %d lines, want at most 2000", len(lines))
	}
}
