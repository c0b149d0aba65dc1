package resp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// fakeRedis answers each command line it reads with the next canned
// reply, then closes.
func fakeRedis(t *testing.T, replies ...string) (addr string, got *bytes.Buffer, done chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got, done = &bytes.Buffer{}, make(chan struct{})
	go func() {
		defer close(done)
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for _, rep := range replies {
			// A command: *N, then N pairs of $len and the argument.
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got.WriteString(line)
			var n int
			for _, ch := range strings.TrimSpace(line[1:]) {
				n = n*10 + int(ch-'0')
			}
			for range 2 * n {
				l, _ := r.ReadString('\n')
				got.WriteString(l)
			}
			io.WriteString(c, rep)
		}
	}()
	return ln.Addr().String(), got, done
}

func TestRedisClient(t *testing.T) {
	addr, got, done := fakeRedis(t,
		"+OK\r\n", ":42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n$2\r\nbc\r\n", "-ERR wrong type\r\n", "+PONG\r\n")
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reps, err := c.Pipeline([][]string{{"SET", "k", "v\r\nx"}, {"INCR", "n"}, {"GET", "k"}, {"GET", "none"}, {"SMEMBERS", "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(reps[0].Str) != "OK" || reps[1].Int != 42 || string(reps[2].Str) != "hello" || !reps[3].Null ||
		len(reps[4].Array) != 2 || string(reps[4].Array[1].Str) != "bc" {
		t.Errorf("replies = %+v", reps)
	}
	// An error reply is an error, and the connection stays in step.
	if _, err := c.Do("INCR", "s"); err == nil || !strings.Contains(err.Error(), "ERR wrong type") {
		t.Errorf("error reply: %v", err)
	}
	if r, err := c.Do("PING"); err != nil || string(r.Str) != "PONG" {
		t.Errorf("after an error: %+v %v", r, err)
	}
	<-done
	if !strings.Contains(got.String(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nx\r\n") {
		t.Errorf("SET was sent as %q", got.String())
	}
}

func TestReadReplyRejectsMalformed(t *testing.T) {
	for _, bad := range []string{"?what\r\n", ":x\r\n", "$abc\r\n", "$3\r\nab\r\n", "$2\r\nabXY", "*x\r\n", "+no crlf\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readReply(%q) accepted", bad)
		}
	}
}
