// Package resp is a minimal Redis client speaking RESP2 over one
// connection, for the Redis baselines of the benchmarks (internal/bench,
// internal/apibench) and the à la carte pipeline's consumer: commands are
// sent one at a time ([Conn.Do]) or pipelined ([Conn.Pipeline]), and
// replies come back as values. It is not a general client: no RESP3, no
// pooling, no reconnection.
package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// Conn is a client over one connection. It is not safe for concurrent
// use.
type Conn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// Reply is a RESP2 reply. An error reply is returned as an error, not
// a reply.
type Reply struct {
	Kind  byte // '+' simple string, ':' integer, '$' bulk string, '*' array
	Str   []byte
	Int   int64
	Array []Reply
	Null  bool // a null bulk string or array
}

// Dial connects to a Redis server at addr.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resp: connect to redis at %s: %w", addr, err)
	}
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Do sends one command and returns its reply.
func (c *Conn) Do(args ...string) (Reply, error) {
	rs, err := c.Pipeline([][]string{args})
	if err != nil {
		return Reply{}, err
	}
	return rs[0], nil
}

// Pipeline sends every command, then reads their replies in order. The
// first error reply is returned (after every reply is read, so the
// connection stays usable).
func (c *Conn) Pipeline(cmds [][]string) ([]Reply, error) {
	for _, args := range cmds {
		writeCommand(c.w, args)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("resp: redis: %w", err)
	}
	out := make([]Reply, len(cmds))
	var first error
	for i := range cmds {
		r, err := readReply(c.r)
		var re serverError
		switch {
		case errors.As(err, &re):
			if first == nil {
				first = fmt.Errorf("resp: redis %s: %w", cmds[i][0], err)
			}
		case err != nil:
			return nil, fmt.Errorf("resp: redis: %w", err)
		}
		out[i] = r
	}
	return out, first
}

func writeCommand(w *bufio.Writer, args []string) {
	w.WriteString("*")
	w.WriteString(strconv.Itoa(len(args)))
	w.WriteString("\r\n")
	for _, a := range args {
		w.WriteString("$")
		w.WriteString(strconv.Itoa(len(a)))
		w.WriteString("\r\n")
		w.WriteString(a)
		w.WriteString("\r\n")
	}
}

// serverError is an error reply ("-ERR ...").
type serverError string

func (e serverError) Error() string { return string(e) }

// readReply reads one RESP2 value.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return Reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return Reply{}, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return Reply{Kind: kind, Str: []byte(body)}, nil
	case '-':
		return Reply{}, serverError(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return Reply{}, fmt.Errorf("malformed integer reply %q", body)
		}
		return Reply{Kind: kind, Int: n}, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return Reply{}, fmt.Errorf("malformed bulk length %q", body)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Reply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return Reply{}, fmt.Errorf("bulk string of %d bytes not followed by CRLF", n)
		}
		return Reply{Kind: kind, Str: buf[:n]}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return Reply{}, fmt.Errorf("malformed array length %q", body)
		}
		if n == -1 {
			return Reply{Kind: kind, Null: true}, nil
		}
		arr := make([]Reply, n)
		var first error
		for i := range arr {
			arr[i], err = readReply(r)
			var re serverError
			if errors.As(err, &re) {
				if first == nil {
					first = err
				}
			} else if err != nil {
				return Reply{}, err
			}
		}
		return Reply{Kind: kind, Array: arr}, first
	}
	return Reply{}, fmt.Errorf("unexpected reply %q", line)
}
