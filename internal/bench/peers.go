package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/squall-run/squall/abi"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/resp"
)

// The harness's side of the peers: each start function runs a peer as
// its own process on a free loopback port with its files under the run's
// temporary directory, and returns once it serves.

// squallPeer is `squall server` and a client of it.
type squallPeer struct {
	proc *Proc
	c    *client.Client
}

// startSquall starts `squall server` on a fresh data directory, without
// authentication (loopback only), and deploys the module wasm on it.
func (e *env) startSquall(ctx context.Context, wasm []byte) (*squallPeer, error) {
	dir, err := e.tempDir("squall")
	if err != nil {
		return nil, err
	}
	var c *client.Client
	proc, _, err := startWithPort(ctx, func(port int) ProcSpec {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if c != nil {
			_ = c.Close() // the client of an earlier try, on another port
		}
		c, _ = client.New("http://" + addr)
		return ProcSpec{
			Name: "squall server", Path: e.cfg.Squall,
			Args: []string{"server", "--data-dir", dir, "--listen", addr, "--insecure-no-auth"},
			Ready: func(ctx context.Context, _ *Proc) error {
				_, err := c.Status(ctx)
				return err
			},
		}
	})
	if err != nil {
		if c != nil {
			_ = c.Close()
		}
		return nil, err
	}
	s := &squallPeer{proc: proc, c: c}
	if err := s.deploy(ctx, wasm); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

func (s *squallPeer) stop() error {
	_ = s.c.Close()
	return s.proc.Stop()
}

// deploy deploys a module with 4 tasks (partitions), the default.
func (s *squallPeer) deploy(ctx context.Context, wasm []byte) error {
	_, err := s.c.Deploy(ctx, wasm, client.DeployOptions{Tasks: client.DefaultTasks})
	if err != nil {
		return fmt.Errorf("bench: deploy: %w", err)
	}
	return nil
}

// load appends recs to a depot from workers clients, in batches with
// APPEND_ACK, and waits until every topology has processed them.
func (s *squallPeer) load(ctx context.Context, workers int, module, depot string, recs []abi.Value) error {
	err := ingest(ctx, workers, len(recs), func(ctx context.Context, lo, hi int) error {
		_, err := s.c.AppendBatch(ctx, module, depot, recs[lo:hi], client.AckAppend)
		return err
	})
	if err != nil {
		return err
	}
	return s.waitIdle(ctx)
}

// waitIdle waits until every topology has processed everything appended.
func (s *squallPeer) waitIdle(ctx context.Context) error {
	for {
		st, err := s.c.Status(ctx)
		if err != nil {
			return fmt.Errorf("bench: wait for squall's topologies: %w", err)
		}
		var lag uint64
		for _, m := range st.GetModules() {
			for _, t := range m.GetTopologies() {
				lag += t.GetLag()
			}
		}
		if lag == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: squall's topologies still lag by %d records: %w", lag, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sumInts adds up the integer values of a top-level map PState over every
// partition.
func (s *squallPeer) sumInts(ctx context.Context, module, pstate string) (int64, error) {
	var total int64
	for p := range uint32(client.DefaultTasks) {
		vs, err := s.c.Select(ctx, module, pstate, abi.P().MapVals(), client.OnPartition(p))
		if err != nil {
			return 0, fmt.Errorf("bench: select %s %s on partition %d: %w", module, pstate, p, err)
		}
		for _, v := range vs {
			n, ok := v.AsInt()
			if !ok {
				return 0, fmt.Errorf("bench: %s %s holds %v, not a count", module, pstate, v)
			}
			total += n
		}
	}
	return total, nil
}

// redisPeer is a redis-server process.
type redisPeer struct {
	proc *Proc
	addr string
}

// startRedis starts Debian's redis-server with an append-only file
// fsynced before every reply (appendfsync always): the durability of a
// Squall PState commit.
func (e *env) startRedis(ctx context.Context) (*redisPeer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("bench: redis-server is not installed: run scripts/install-redis.sh")
	}
	dir, err := e.tempDir("redis")
	if err != nil {
		return nil, err
	}
	var addr string
	proc, _, err := startWithPort(ctx, func(port int) ProcSpec {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return ProcSpec{
			Name: "redis-server", Path: bin,
			Args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--daemonize", "no", "--logfile", "", "--save", "",
				"--appendonly", "yes", "--appendfsync", "always"},
			Ready: func(ctx context.Context, _ *Proc) error {
				c, err := resp.Dial(ctx, addr)
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.Do("PING")
				return err
			},
			StopTimeout: 10 * time.Second,
		}
	})
	if err != nil {
		return nil, err
	}
	return &redisPeer{proc: proc, addr: addr}, nil
}

// conns opens n connections to the server.
func (r *redisPeer) conns(ctx context.Context, n int) ([]*resp.Conn, error) {
	var cs []*resp.Conn
	for range n {
		c, err := resp.Dial(ctx, r.addr)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func closeAll(cs []*resp.Conn) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// natsPeer is nats-server with JetStream (`squall bench-peer nats`) and a
// connection to it.
type natsPeer struct {
	proc *Proc
	url  string
	nc   *nats.Conn
	js   jetstream.JetStream
}

// startNATS starts nats-server with JetStream on file storage, fsyncing
// every write unless syncAlways is false.
func (e *env) startNATS(ctx context.Context, syncAlways bool) (*natsPeer, error) {
	dir, err := e.tempDir("nats")
	if err != nil {
		return nil, err
	}
	var url string
	proc, _, err := startWithPort(ctx, func(port int) ProcSpec {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		url = "nats://" + addr
		return ProcSpec{
			Name: "nats-server", Path: e.cfg.Squall,
			Args:  []string{"bench-peer", "nats", "--listen", addr, "--store-dir", dir, "--sync-always=" + strconv.FormatBool(syncAlways)},
			Ready: lineReady("ready"),
		}
	})
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: connect to nats-server: %w", err), proc.Stop())
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		nc.Close()
		return nil, errors.Join(fmt.Errorf("bench: jetstream: %w", err), proc.Stop())
	}
	return &natsPeer{proc: proc, url: url, nc: nc, js: js}, nil
}

func (n *natsPeer) stop() error {
	n.nc.Close()
	return n.proc.Stop()
}

// createStream creates a file-backed stream of one subject and, when
// withConsumer, the pipeline's durable pull consumer (acknowledging all
// messages up to the one acknowledged).
func (n *natsPeer) createStream(ctx context.Context, name, subject string, withConsumer bool) error {
	s, err := n.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("bench: create stream %s: %w", name, err)
	}
	if withConsumer {
		_, err = s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: consumerName, AckPolicy: jetstream.AckAllPolicy, MaxAckPending: 1 << 20})
		if err != nil {
			return fmt.Errorf("bench: create consumer of %s: %w", name, err)
		}
	}
	return nil
}

// waitDrained waits until the pipeline's consumer has acknowledged every
// message of the stream, or fails if the consumer process exits.
func (n *natsPeer) waitDrained(ctx context.Context, stream string, consumer *Proc) error {
	cons, err := n.js.Consumer(ctx, stream, consumerName)
	if err != nil {
		return fmt.Errorf("bench: consumer of %s: %w", stream, err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("bench: consumer of %s: %w", stream, err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: the consumer of %s still has %d messages pending and %d unacknowledged: %w", stream, info.NumPending, info.NumAckPending, ctx.Err())
		case <-consumer.Exited():
			return fmt.Errorf("bench: the consumer of %s exited with %d messages pending: %w", stream, info.NumPending, consumer.Stop())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startConsumer starts the pipeline's consumer (`squall bench-peer
// consumer`) for job.
func (e *env) startConsumer(ctx context.Context, job string, n *natsPeer, r *redisPeer) (*Proc, error) {
	return StartProc(ctx, ProcSpec{
		Name: "Go consumer", Path: e.cfg.Squall,
		Args:  []string{"bench-peer", "consumer", "--job", job, "--nats", n.url, "--redis", r.addr},
		Ready: lineReady("ready"),
	})
}

// lineReady is a Ready function: the process has written a line starting
// with prefix on stdout.
func lineReady(prefix string) func(context.Context, *Proc) error {
	return func(ctx context.Context, p *Proc) error {
		lines, _ := p.out.snapshot()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return nil
			}
		}
		return fmt.Errorf("no %q line yet", prefix)
	}
}

// tempDir makes a fresh directory for one peer under the run's directory.
func (e *env) tempDir(name string) (string, error) {
	d, err := os.MkdirTemp(e.dir, name+"-")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	return d, nil
}

// path returns the path of rel, a path relative to the repository's root.
func (e *env) path(rel string) string { return filepath.Join(e.cfg.RepoRoot, rel) }
