package apibench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// RedisConn is a minimal Redis client: one connection, one request at a
// time (no pipelining), the RESP2 replies PING, SET and GET return.
type RedisConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// DialRedis connects to a Redis server at addr.
func DialRedis(ctx context.Context, addr string) (*RedisConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &RedisConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

// Close closes the connection.
func (c *RedisConn) Close() error { return c.c.Close() }

// Ping sends PING and checks for PONG.
func (c *RedisConn) Ping() error {
	v, _, err := c.do([]byte("PING"))
	if err == nil && string(v) != "PONG" {
		err = fmt.Errorf("apibench: PING answered %q", v)
	}
	return err
}

// Set sets key to val.
func (c *RedisConn) Set(key, val []byte) error {
	v, _, err := c.do([]byte("SET"), key, val)
	if err == nil && string(v) != "OK" {
		err = fmt.Errorf("apibench: SET answered %q", v)
	}
	return err
}

// Get returns key's value; ok is false when the key is absent.
func (c *RedisConn) Get(key []byte) (val []byte, ok bool, err error) {
	v, null, err := c.do([]byte("GET"), key)
	return v, err == nil && !null, err
}

// do sends one command and reads its reply: a simple string or a bulk
// string (null reports a null bulk string); an error reply is an error.
func (c *RedisConn) do(args ...[]byte) (reply []byte, null bool, err error) {
	c.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		c.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return nil, false, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, false, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, false, fmt.Errorf("apibench: malformed reply %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return append([]byte(nil), body...), false, nil
	case '-':
		return nil, false, errors.New("apibench: redis: " + string(body))
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil || n < -1 {
			return nil, false, fmt.Errorf("apibench: malformed bulk length %q", body)
		}
		if n == -1 {
			return nil, true, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, false, err
		}
		return buf[:n], false, nil
	default:
		return nil, false, fmt.Errorf("apibench: unexpected reply %q", line)
	}
}
