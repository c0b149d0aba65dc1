// Package node is the composition root of a Squall node: from a [Config]
// it opens the store, the WebAssembly host runtime and the engine,
// deploys again every module stored under the data directory, and serves
// the public API over HTTP/2 (TLS when given a certificate, else
// unencrypted HTTP/2 for loopback and development).
//
// [Node.Close] shuts down without losing anything: it stops accepting
// connections and finishes the requests in flight, drains the engine (its
// tasks finish the records in flight and commit their progress), then
// closes the modules, the runtime and the store. Every goroutine the node
// starts has exited when Close returns.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/squall-run/squall/host"
	"github.com/squall-run/squall/internal/engine"
	"github.com/squall-run/squall/internal/server"
	"github.com/squall-run/squall/storage"
)

// Config configures a [Node]. DataDir is required.
type Config struct {
	// DataDir holds the node's data: store/ (depots, PStates, progress),
	// modules/ (deployed artifacts) and cache/ (compiled code).
	DataDir string
	// Listen is the address to serve on (default "127.0.0.1:7790"; port 0
	// picks a free port, see [Node.Addr]).
	Listen string
	// Token, when not empty, is required as a bearer token on every
	// request but Health. TokenFile, when set, is read for the token
	// (surrounding white space removed); set one or the other.
	Token     string
	TokenFile string
	// TLSCert and TLSKey, when both set, serve HTTPS (HTTP/2 over TLS).
	// Without them the node serves unencrypted HTTP/2 and HTTP/1.1.
	TLSCert, TLSKey string
	// Logger receives the node's messages. Nil discards them.
	Logger *slog.Logger
	// Version is reported by ClusterService.Status.
	Version string
	// MaxArtifactBytes bounds a deployed artifact (default
	// server.DefaultMaxArtifactBytes).
	MaxArtifactBytes int64
	// CompileCacheDir holds the compiled code of modules (default
	// DataDir/cache). Nodes may share one: test nodes do, so that a
	// module is compiled once, not once per test.
	CompileCacheDir string
	// Engine tunes the engine; its DB and Logger are set by the node.
	Engine engine.Config
}

// DefaultListen is the address a node listens on by default.
const DefaultListen = "127.0.0.1:7790"

func (c *Config) validate() error {
	var probs []string
	if c.DataDir == "" {
		probs = append(probs, "DataDir is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		probs = append(probs, "TLS needs both a certificate and a key (--tls-cert and --tls-key)")
	}
	if c.Token != "" && c.TokenFile != "" {
		probs = append(probs, "set a token or a token file, not both")
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if len(probs) > 0 {
		return errors.New("node: " + strings.Join(probs, "; "))
	}
	return nil
}

// Node is a running Squall node.
type Node struct {
	cfg  Config
	log  *slog.Logger
	db   *storage.DB
	rt   *host.Runtime
	eng  *engine.Engine
	reg  *server.Registry
	srv  *server.Server
	http *http.Server
	ln   net.Listener
	tls  bool

	served chan error // the Serve goroutine's result
}

// Start opens a node on cfg.DataDir, deploys its stored modules again and
// starts serving. Close it to stop it.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: cfg.Logger}
	opened := n // a failing return sets n to nil before this runs
	defer func() {
		if err != nil {
			_ = opened.closeParts(context.Background())
		}
	}()
	token := cfg.Token
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("node: token file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("node: token file %s is empty", cfg.TokenFile)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	if n.db, err = storage.Open(filepath.Join(cfg.DataDir, "store"), storage.Options{}); err != nil {
		return nil, err
	}
	hcfg := host.DefaultConfig()
	hcfg.CacheDir = cfg.CompileCacheDir
	if hcfg.CacheDir == "" {
		hcfg.CacheDir = filepath.Join(cfg.DataDir, "cache")
	}
	hcfg.Logger = cfg.Logger
	if n.rt, err = host.NewRuntime(ctx, hcfg); err != nil {
		return nil, err
	}
	ecfg := cfg.Engine
	ecfg.DB, ecfg.Logger = n.db, cfg.Logger
	if n.eng, err = engine.Open(ecfg); err != nil {
		return nil, err
	}
	if n.reg, err = server.NewRegistry(filepath.Join(cfg.DataDir, "modules"), n.rt, n.eng, cfg.Logger); err != nil {
		return nil, err
	}
	if _, err := n.reg.Restore(ctx); err != nil {
		return nil, err
	}
	if n.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("node: listen: %w", err)
	}
	n.srv, err = server.New(server.Config{Engine: n.eng, Registry: n.reg, Logger: cfg.Logger, Token: token,
		MaxArtifactBytes: cfg.MaxArtifactBytes, Version: cfg.Version, Address: n.ln.Addr().String()})
	if err != nil {
		return nil, err
	}
	h, err := n.srv.Handler()
	if err != nil {
		return nil, err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	n.tls = cfg.TLSCert != ""
	if !n.tls {
		protocols.SetUnencryptedHTTP2(true)
	}
	n.http = &http.Server{Handler: h, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}
	if n.tls {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("node: TLS: %w", err)
		}
		n.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	n.served = make(chan error, 1)
	ln := n.ln
	go func() {
		var err error
		if n.tls {
			err = n.http.ServeTLS(ln, "", "")
		} else {
			err = n.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.served <- err
	}()
	n.log.Info("node started", "addr", n.URL(), "data", cfg.DataDir, "auth", token != "")
	return n, nil
}

// Addr returns the address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// URL returns the base URL of the node's API.
func (n *Node) URL() string {
	if n.tls {
		return "https://" + n.Addr()
	}
	return "http://" + n.Addr()
}

// Lag returns how many depot records the stream topologies of a deployed
// module have not completely processed (summed over its topologies,
// sources and partitions); 0 when everything appended is processed.
func (n *Node) Lag(module string) (uint64, error) { return n.eng.Lag(module) }

// Close shuts the node down: it stops accepting connections, waits for
// the requests in flight, drains the engine and closes everything. When
// ctx ends first, the engine stops where it is (what it had not finished
// is processed again after a restart) and Close returns ctx's error after
// closing the rest.
func (n *Node) Close(ctx context.Context) error {
	n.srv.SetDraining()
	err := n.http.Shutdown(ctx)
	if err != nil {
		_ = n.http.Close()
	}
	if serr := <-n.served; err == nil {
		err = serr
	}
	return errors.Join(err, n.closeParts(ctx))
}

// closeParts closes what Start opened, in reverse order.
func (n *Node) closeParts(ctx context.Context) error {
	var errs []error
	if n.ln != nil && n.served == nil {
		errs = append(errs, n.ln.Close())
	}
	if n.eng != nil {
		if err := n.eng.Close(ctx); err != nil && !errors.Is(err, engine.ErrClosed) {
			errs = append(errs, fmt.Errorf("node: drain the engine: %w", err))
		}
	}
	if n.reg != nil {
		errs = append(errs, n.reg.Close(ctx))
	}
	if n.rt != nil {
		errs = append(errs, n.rt.Close(ctx))
	}
	if n.db != nil {
		errs = append(errs, n.db.Close())
	}
	return errors.Join(errs...)
}
