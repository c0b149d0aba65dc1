package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// Redis is a minimal Redis client over one connection: commands are sent
// one at a time ([Redis.Do]) or pipelined ([Redis.Pipeline]), and replies
// are RESP2 values. It is not safe for concurrent use.
type Redis struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// RedisReply is a RESP2 reply. An error reply is returned as an error, not
// a reply.
type RedisReply struct {
	Kind  byte // '+' simple string, ':' integer, '$' bulk string, '*' array
	Str   []byte
	Int   int64
	Array []RedisReply
	Null  bool // a null bulk string or array
}

// DialRedis connects to a Redis server at addr.
func DialRedis(ctx context.Context, addr string) (*Redis, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bench: connect to redis at %s: %w", addr, err)
	}
	return &Redis{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

// Close closes the connection.
func (c *Redis) Close() error { return c.c.Close() }

// Do sends one command and returns its reply.
func (c *Redis) Do(args ...string) (RedisReply, error) {
	rs, err := c.Pipeline([][]string{args})
	if err != nil {
		return RedisReply{}, err
	}
	return rs[0], nil
}

// Pipeline sends every command, then reads their replies in order. The
// first error reply is returned (after every reply is read, so the
// connection stays usable).
func (c *Redis) Pipeline(cmds [][]string) ([]RedisReply, error) {
	for _, args := range cmds {
		writeCommand(c.w, args)
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("bench: redis: %w", err)
	}
	out := make([]RedisReply, len(cmds))
	var first error
	for i := range cmds {
		r, err := readReply(c.r)
		var re redisError
		switch {
		case errors.As(err, &re):
			if first == nil {
				first = fmt.Errorf("bench: redis %s: %w", cmds[i][0], err)
			}
		case err != nil:
			return nil, fmt.Errorf("bench: redis: %w", err)
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

// redisError is an error reply ("-ERR ...").
type redisError string

func (e redisError) Error() string { return string(e) }

// readReply reads one RESP2 value.
func readReply(r *bufio.Reader) (RedisReply, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return RedisReply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return RedisReply{}, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return RedisReply{Kind: kind, Str: []byte(body)}, nil
	case '-':
		return RedisReply{}, redisError(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return RedisReply{}, fmt.Errorf("malformed integer reply %q", body)
		}
		return RedisReply{Kind: kind, Int: n}, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return RedisReply{}, fmt.Errorf("malformed bulk length %q", body)
		}
		if n == -1 {
			return RedisReply{Kind: kind, Null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return RedisReply{}, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return RedisReply{}, fmt.Errorf("bulk string of %d bytes not followed by CRLF", n)
		}
		return RedisReply{Kind: kind, Str: buf[:n]}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return RedisReply{}, fmt.Errorf("malformed array length %q", body)
		}
		if n == -1 {
			return RedisReply{Kind: kind, Null: true}, nil
		}
		arr := make([]RedisReply, n)
		var first error
		for i := range arr {
			arr[i], err = readReply(r)
			var re redisError
			if errors.As(err, &re) {
				if first == nil {
					first = err
				}
			} else if err != nil {
				return RedisReply{}, err
			}
		}
		return RedisReply{Kind: kind, Array: arr}, first
	}
	return RedisReply{}, fmt.Errorf("unexpected reply %q", line)
}
