package apibench

import (
	"context"
	"fmt"

	"github.com/squall-run/squall/internal/resp"
)

// RedisConn is the benchmarks' Redis client: one connection (package
// resp), one request at a time (no pipelining), and the three commands
// they use: PING, SET and GET.
type RedisConn struct {
	c *resp.Conn
}

// DialRedis connects to a Redis server at addr.
func DialRedis(ctx context.Context, addr string) (*RedisConn, error) {
	c, err := resp.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &RedisConn{c: c}, nil
}

// Close closes the connection.
func (c *RedisConn) Close() error { return c.c.Close() }

// Ping sends PING and checks for PONG.
func (c *RedisConn) Ping() error {
	r, err := c.c.Do("PING")
	if err == nil && string(r.Str) != "PONG" {
		err = fmt.Errorf("apibench: PING answered %q", r.Str)
	}
	return err
}

// Set sets key to val.
func (c *RedisConn) Set(key, val []byte) error {
	r, err := c.c.Do("SET", string(key), string(val))
	if err == nil && string(r.Str) != "OK" {
		err = fmt.Errorf("apibench: SET answered %q", r.Str)
	}
	return err
}

// Get returns key's value; ok is false when the key is absent.
func (c *RedisConn) Get(key []byte) (val []byte, ok bool, err error) {
	r, err := c.c.Do("GET", string(key))
	if err != nil || r.Null {
		return nil, false, err
	}
	return r.Str, true, nil
}
