// Package testnode starts a real single-node Squall inside a Go test: the
// same storage, WebAssembly host, engine and HTTP/2 API as `squall
// server`, in the test's temporary directory, on a free loopback port.
// It is Squall's answer to Rama's InProcessCluster, but nothing is
// simulated: the test talks to the node over the public API with the
// same [client.Client] users have.
//
//	func TestWordcount(t *testing.T) {
//		n := testnode.Start(t)
//		ctx := t.Context()
//		if _, err := n.DeployDir(ctx, "../wordcount/go"); err != nil {
//			t.Fatal(err)
//		}
//		c := n.Client()
//		rec := abi.Map(abi.MapEntry{Key: abi.String("user"), Val: abi.String("ada")},
//			abi.MapEntry{Key: abi.String("text"), Val: abi.String("the cat")})
//		if _, err := c.Append(ctx, "wordcount", "sentences", rec, client.AckNone); err != nil {
//			t.Fatal(err)
//		}
//		if err := n.WaitProcessed(ctx, "wordcount"); err != nil {
//			t.Fatal(err)
//		}
//		v, err := c.SelectOne(ctx, "wordcount", "$$wordCounts", abi.P().Key(abi.String("the")))
//		...
//	}
//
// A node starts in tens of milliseconds. Modules built from source are
// cached by content (under the user cache directory, or
// $SQUALL_TESTNODE_CACHE), and so is their compiled code, so only the
// first run of a test after a change pays for `go build` and compilation.
// The node is closed (drained) when the test ends, and every goroutine it
// started has exited, so goleak passes.
package testnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/node"
)

// Node is a running test node.
type Node struct {
	t      testing.TB
	cfg    node.Config
	n      *node.Node
	token  string
	c      *client.Client
	mu     sync.Mutex
	closed bool
}

type config struct {
	dir         string
	token       string
	logger      *slog.Logger
	maxAttempts int
	backoff     time.Duration
}

// Option configures [Start].
type Option func(*config)

// WithDataDir keeps the node's data in dir instead of a new temporary
// directory: start a node again on the same dir to test a restart.
func WithDataDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithToken requires token as a bearer token, as `squall server` does;
// [Node.Client] sends it.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithRetries makes the node retry a failing item (or microbatch) at most
// maxAttempts times, backoff apart (doubling, up to 5 times backoff),
// instead of the defaults (8 attempts, from 100 ms to 30 s): tests of
// failures and paused microbatch topologies then take milliseconds.
func WithRetries(maxAttempts int, backoff time.Duration) Option {
	return func(c *config) { c.maxAttempts, c.backoff = maxAttempts, backoff }
}

// WithLogger sends the node's logs to l (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// CacheDir returns the directory where test nodes cache built modules and
// compiled code: $SQUALL_TESTNODE_CACHE, else squall/testnode under the
// user cache directory, else under the temporary directory.
func CacheDir() string {
	if d := os.Getenv("SQUALL_TESTNODE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "squall", "testnode")
	}
	return filepath.Join(os.TempDir(), "squall-testnode")
}

// Start starts a node on 127.0.0.1 with a free port and its data in a
// directory of t.TempDir() (or [WithDataDir]). The node is closed when
// the test and its subtests end; a failure to start fails the test.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dir == "" {
		cfg.dir = filepath.Join(t.TempDir(), "node")
	}
	ncfg := node.Config{DataDir: cfg.dir, Listen: "127.0.0.1:0", Token: cfg.token, Logger: cfg.logger,
		Version: "testnode", CompileCacheDir: filepath.Join(CacheDir(), "compiled")}
	ncfg.Engine.MaxAttempts = cfg.maxAttempts
	if cfg.backoff > 0 {
		ncfg.Engine.BackoffBase, ncfg.Engine.BackoffMax = cfg.backoff, 5*cfg.backoff
	}
	n, err := node.Start(context.Background(), ncfg)
	if err != nil {
		t.Fatalf("testnode: start: %v", err)
	}
	tn := &Node{t: t, cfg: ncfg, n: n, token: cfg.token}
	var copts []client.Option
	if cfg.token != "" {
		copts = append(copts, client.WithToken(cfg.token))
	}
	if tn.c, err = client.New(n.URL(), copts...); err != nil {
		_ = n.Close(context.Background())
		t.Fatalf("testnode: client: %v", err)
	}
	t.Cleanup(func() {
		if err := tn.Close(); err != nil {
			t.Errorf("testnode: close: %v", err)
		}
	})
	return tn
}

// URL returns the node's base URL (http://127.0.0.1:PORT).
func (n *Node) URL() string { return n.n.URL() }

// DataDir returns the node's data directory.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// Client returns a client of the node, with the node's token if it has
// one. It is closed with the node.
func (n *Node) Client() *client.Client { return n.c }

// Deploy deploys a WebAssembly artifact (opts as in [client.Client.Deploy]).
func (n *Node) Deploy(ctx context.Context, wasm []byte, opts client.DeployOptions) (*squallv1.ModuleDescription, error) {
	return n.c.Deploy(ctx, wasm, opts)
}

// DeployDir builds the module whose source is in dir (a Go module folder,
// as for `squall build`) and deploys it with opts (at most one; default:
// the module's own name, client.DefaultTasks tasks). Builds are cached by
// the content of the sources (see [CacheDir]).
func (n *Node) DeployDir(ctx context.Context, dir string, opts ...client.DeployOptions) (*squallv1.ModuleDescription, error) {
	wasm, err := Build(ctx, dir)
	if err != nil {
		return nil, err
	}
	var o client.DeployOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	return n.c.Deploy(ctx, wasm, o)
}

// Build builds the module whose source is in dir to WebAssembly, or reuses
// the artifact of an earlier build of the same sources, and returns it.
func Build(ctx context.Context, dir string) ([]byte, error) {
	p, err := build.GoCached(ctx, dir, filepath.Join(CacheDir(), "builds"))
	if err != nil {
		return nil, fmt.Errorf("testnode: %w", err)
	}
	return os.ReadFile(p)
}

// WaitProcessed waits until the stream topologies of module have
// processed every record appended so far (its lag is 0), or ctx ends.
func (n *Node) WaitProcessed(ctx context.Context, module string) error {
	wait := time.Millisecond
	for {
		lag, err := n.n.Lag(module)
		if err != nil {
			return fmt.Errorf("testnode: lag of %q: %w", module, err)
		}
		if lag == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnode: %q still has %d records to process: %w", module, lag, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// Lag returns how many appended records module's topologies have not
// processed yet.
func (n *Node) Lag(module string) (uint64, error) { return n.n.Lag(module) }

// Close drains the node (the records in flight are processed and their
// progress committed) and closes it. It is called when the test ends;
// calling it earlier, for example to start a node again on the same
// [Node.DataDir], is fine, and later calls do nothing.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(n.c.Close(), n.n.Close(ctx))
}
