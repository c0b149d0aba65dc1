package sandbox

import (
	"bytes"
	"strings"
	"testing"
)

func TestClock(t *testing.T) {
	var c Clock
	c.Reset(100)
	if a, b, m := c.Realtime(), c.Realtime(), c.Monotonic(); a != 100 || b != 1100 || m != 1000 {
		t.Errorf("readings %d %d %d", a, b, m)
	}
	c.Reset(5)
	if a, m := c.Realtime(), c.Monotonic(); a != 5 || m != 2000 {
		t.Errorf("after Reset: %d %d; realtime restarts, monotonic does not", a, m)
	}
}

func TestRand(t *testing.T) {
	read := func(r *Rand) []byte {
		b := make([]byte, 32)
		r.Read(b)
		return b
	}
	var r1, r2 Rand
	r1.Reset(7)
	r2.Reset(7)
	a := read(&r1)
	if !bytes.Equal(a, read(&r2)) {
		t.Fatal("same seed, different bytes")
	}
	r1.Reset(7)
	if !bytes.Equal(a, read(&r1)) {
		t.Fatal("Reset does not restart the stream")
	}
	r1.Reset(8)
	if bytes.Equal(a, read(&r1)) {
		t.Fatal("seeds 7 and 8 give the same bytes")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(4 << 16)
	m := l.Allocate(1<<16, 1<<32)
	if b := m.Reallocate(1 << 16); len(b) != 1<<16 {
		t.Fatalf("initial %d bytes", len(b))
	}
	b := m.Reallocate(3 << 16)
	b[0] = 7
	if b := m.Reallocate(4 << 16); len(b) != 4<<16 || b[0] != 7 || l.Size() != 4<<16 {
		t.Fatalf("grow to the limit: %d bytes", len(b))
	}
	if b := m.Reallocate(5 << 16); b != nil || l.Refused() != 5<<16 {
		t.Fatalf("grow past the limit: %d bytes, refused %d", len(b), l.Refused())
	}
	l.Clear()
	if l.Refused() != 0 {
		t.Fatal("Clear")
	}
	// The initial allocation is never refused.
	l2 := NewLimiter(1 << 16)
	if b := l2.Allocate(0, 0).Reallocate(2 << 16); len(b) != 2<<16 {
		t.Fatal("initial allocation refused")
	}
}

func TestOutput(t *testing.T) {
	var lines []string
	o := &Output{Limit: 20, Emit: func(l string, cut bool) {
		if cut {
			l += "[cut]"
		}
		lines = append(lines, l)
	}}
	o.Begin()
	o.Write([]byte("one\ntw"))
	o.Write([]byte("o\nthree\nfour and more"))
	if d := o.End(); d != 7 {
		t.Errorf("dropped %d, want 7", d)
	}
	if got := strings.Join(lines, "|"); got != "one|two|three|four a" {
		t.Errorf("lines %q", got)
	}
	lines = nil
	o.Begin()
	o.Limit = 1 << 20
	o.Write([]byte(strings.Repeat("x", MaxLineBytes+10) + "\n"))
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "[cut]") || len(lines[0]) != MaxLineBytes+5 {
		t.Errorf("long line: %d lines, %.20q", len(lines), lines)
	}
	o.Begin()
	o.Write([]byte(strings.Repeat("a\n", TailBytes) + "panic: x\n"))
	if tail := o.Tail(); !strings.HasSuffix(tail, "panic: x\n") || !strings.HasPrefix(tail, "a\n") || len(tail) > TailBytes {
		t.Errorf("tail %d bytes: %.20q", len(tail), tail)
	}
	if ValidText([]byte("ok\xff")) != "ok\uFFFD" {
		t.Error("ValidText")
	}
}
