package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/client"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/node"
	"github.com/squall-run/squall/internal/server"
)

// closeTimeout bounds a node's drain at shutdown.
const closeTimeout = 30 * time.Second

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall server --data-dir DIR [--listen ADDR] --token-file FILE [--tls-cert FILE --tls-key FILE]"
	fs := newFlagSet("server", stdout, syn)
	var cfg node.Config
	fs.StringVar(&cfg.DataDir, "data-dir", "", "data directory (required)")
	fs.StringVar(&cfg.Listen, "listen", node.DefaultListen, "address to listen on")
	fs.StringVar(&cfg.TokenFile, "token-file", "", "file holding the bearer token clients must send (required unless --insecure-no-auth)")
	noAuth := fs.Bool("insecure-no-auth", false, "serve without authentication (only behind a trusted proxy)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.Int64Var(&cfg.MaxArtifactBytes, "max-artifact-bytes", server.DefaultMaxArtifactBytes, "largest module artifact accepted")
	jsonLogs := fs.Bool("json-logs", false, "log JSON lines instead of text")
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, syn); err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("%w: %s: --data-dir is required", errUsage, syn)
	}
	if cfg.TokenFile == "" && !*noAuth {
		return fmt.Errorf("%w: %s: --token-file is required (or --insecure-no-auth to serve without authentication)", errUsage, syn)
	}
	if *jsonLogs {
		cfg.Logger = slog.New(slog.NewJSONHandler(stderr, nil))
	} else {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	cfg.Version = version
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "squall server: serving on %s (data in %s)\n", n.URL(), cfg.DataDir)
	<-ctx.Done()
	fmt.Fprintln(stdout, "squall server: shutting down (draining)")
	cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := n.Close(cctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "squall server: stopped")
	return nil
}

// devSource is what `squall dev` deploys: a Go module folder or a .wasm
// file.
type devSource struct {
	path  string
	isDir bool
	out   string // built artifact, for a folder
}

func (s *devSource) artifact(ctx context.Context, stderr io.Writer) ([]byte, error) {
	if !s.isDir {
		return os.ReadFile(s.path)
	}
	fmt.Fprintf(stderr, "squall dev: building %s ...\n", s.path)
	if _, err := build.Module(ctx, s.path, s.out); err != nil {
		return nil, err
	}
	return os.ReadFile(s.out)
}

// stamp summarises the source's files (names, sizes, modification times)
// so that a change is noticed.
func (s *devSource) stamp() string {
	var b strings.Builder
	if !s.isDir {
		if st, err := os.Stat(s.path); err == nil {
			fmt.Fprintf(&b, "%d %d", st.Size(), st.ModTime().UnixNano())
		}
		return b.String()
	}
	_ = filepath.WalkDir(s.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != s.path && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "target" ||
			d.Name() == "__pycache__" || d.Name() == "node_modules" || d.Name() == "dist") {
			return filepath.SkipDir // target/ is cargo's output; node_modules/ and dist/ npm's and tsc's
		}
		n := d.Name()
		if !d.IsDir() && (strings.HasSuffix(n, ".go") || n == "go.mod" || n == "go.sum" ||
			strings.HasSuffix(n, ".rs") || n == "Cargo.toml" || n == "Cargo.lock" ||
			strings.HasSuffix(n, ".py") || n == "pyproject.toml" ||
			strings.HasSuffix(n, ".ts") || strings.HasSuffix(n, ".js") || n == "package.json" || n == "package-lock.json" ||
			strings.HasPrefix(n, "tsconfig")) {
			if st, err := d.Info(); err == nil {
				fmt.Fprintf(&b, "%s %d %d\n", p, st.Size(), st.ModTime().UnixNano())
			}
		}
		return nil
	})
	return b.String()
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "squall dev [DIR|FILE.wasm] [--data-dir DIR] [--listen ADDR] [--tasks N]"
	fs := newFlagSet("dev", stdout, syn)
	dataDir := fs.String("data-dir", ".squall", "data directory (created if missing)")
	listen := fs.String("listen", node.DefaultListen, "address to listen on")
	tasks := fs.Uint("tasks", 4, "partitions of the deployed module (power of two)")
	poll := fs.Duration("poll", 500*time.Millisecond, "how often to look for changes to the module")
	pos, err := parseInterspersed(fs, args, syn)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, syn)
	}
	var src *devSource
	if len(pos) == 1 {
		st, err := os.Stat(pos[0])
		if err != nil {
			return err
		}
		src = &devSource{path: pos[0], isDir: st.IsDir()}
		if src.isDir {
			abs, err := filepath.Abs(pos[0])
			if err != nil {
				return err
			}
			src.out = filepath.Join(*dataDir, "build", moduleBaseName(abs)+".wasm")
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := node.Config{DataDir: *dataDir, Listen: *listen, Logger: log, Version: version}

	var wasm []byte
	stamp := ""
	if src != nil {
		stamp = src.stamp()
		if wasm, err = src.artifact(ctx, stderr); err != nil {
			return err
		}
	}
	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if n != nil {
			cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			_ = n.Close(cctx)
		}
	}()
	fmt.Fprintf(stdout, "squall dev: serving on %s (data in %s; no auth)\n", n.URL(), *dataDir)
	c, err := newClient(n.URL(), "")
	if err != nil {
		return err
	}
	defer c.Close()
	name := ""
	if src != nil {
		desc, err := devDeploy(ctx, c, &cfg, wasm, uint32(*tasks), stdout, stderr)
		if err != nil {
			return err
		}
		name = desc.GetName()
		if sum := sha256.Sum256(wasm); !bytes.Equal(desc.GetArtifact().GetSha256(), sum[:]) {
			if n, err = devRedeploy(ctx, c, n, &cfg, name, wasm, stdout, stderr); err != nil {
				return err
			}
		}
		printTry(stdout, desc)
		fmt.Fprintf(stdout, "squall dev: watching %s for changes; Ctrl-C stops\n", src.path)
	} else {
		fmt.Fprintln(stdout, "squall dev: no module given; deploy one with `squall deploy FILE.wasm`. Ctrl-C stops")
	}

	tick := time.NewTicker(*poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "squall dev: stopping (draining)")
			cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			err := n.Close(cctx)
			n = nil
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "squall dev: stopped")
			return nil
		case <-tick.C:
		}
		if src == nil {
			continue
		}
		st := src.stamp()
		if st == stamp {
			continue
		}
		stamp = st
		nw, err := src.artifact(ctx, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "squall dev: %v\nsquall dev: still running the previous version\n", err)
			continue
		}
		if bytes.Equal(nw, wasm) {
			continue
		}
		if n, err = devRedeploy(ctx, c, n, &cfg, name, nw, stdout, stderr); err != nil {
			return err
		}
		wasm = nw
	}
}

// devDeploy deploys wasm, or nothing when the node already runs this
// module (restored from the data directory). It returns the description
// of the module running.
func devDeploy(ctx context.Context, c *client.Client, cfg *node.Config, wasm []byte, tasks uint32, stdout, stderr io.Writer) (*squallv1.ModuleDescription, error) {
	check, err := c.Deploy(ctx, wasm, client.DeployOptions{Tasks: tasks, ValidateOnly: true})
	if err != nil {
		return nil, err
	}
	desc, err := c.Describe(ctx, check.GetName())
	if errors.Is(err, client.ErrNotFound) {
		desc, err := c.Deploy(ctx, wasm, client.DeployOptions{Tasks: tasks, Progress: progressLine(stderr, check.GetName())})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "squall dev: module %q deployed with %d tasks\n", desc.GetName(), desc.GetTasks())
		return desc, nil
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	if bytes.Equal(desc.GetArtifact().GetSha256(), sum[:]) {
		fmt.Fprintf(stdout, "squall dev: module %q is running from %s (unchanged)\n", desc.GetName(), cfg.DataDir)
		return desc, nil
	}
	return desc, nil // the caller redeploys the changed artifact
}

// sameDefinition reports whether two descriptions declare the same
// depots, PStates and topologies.
func sameDefinition(a, b *squallv1.ModuleDescription) bool {
	strip := func(d *squallv1.ModuleDescription) *squallv1.ModuleDescription {
		return &squallv1.ModuleDescription{Depots: d.GetDepots(), Pstates: d.GetPstates(), Topologies: d.GetTopologies(), Queries: d.GetQueries()}
	}
	return proto.Equal(strip(a), strip(b))
}

// devRedeploy puts a changed artifact in service: with the same
// definition, by restarting the node on the new artifact (the engine
// cannot swap a running module's code); with a changed definition it
// explains that a fresh data directory is needed, and keeps the old code.
func devRedeploy(ctx context.Context, c *client.Client, n *node.Node, cfg *node.Config, name string, wasm []byte, stdout, stderr io.Writer) (*node.Node, error) {
	cur, err := c.Describe(ctx, name)
	if err != nil {
		return n, err
	}
	check, err := c.Deploy(ctx, wasm, client.DeployOptions{Name: name, Tasks: cur.GetTasks(), ValidateOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "squall dev: the new version is refused: %v\nsquall dev: still running the previous version\n", err)
		return n, nil
	}
	if !sameDefinition(check, cur) {
		fmt.Fprintf(stderr, "squall dev: the module's definition changed (depots, PStates or topologies); module updates are not supported yet.\n"+
			"squall dev: still running the previous version; to run the new one, stop and start again with a fresh data directory (rm -rf %s)\n", cfg.DataDir)
		return n, nil
	}
	fmt.Fprintf(stdout, "squall dev: code changed, same definition: restarting the node on the new version\n")
	cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := n.Close(cctx); err != nil {
		return nil, err
	}
	if _, err := server.ReplaceStored(filepath.Join(cfg.DataDir, "modules"), name, wasm); err != nil {
		return nil, err
	}
	nn, err := node.Start(ctx, *cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "squall dev: module %q redeployed; serving on %s\n", name, nn.URL())
	return nn, nil
}

// printTry shows commands to try against the deployed module.
func printTry(w io.Writer, d *squallv1.ModuleDescription) {
	printDescription(w, d)
	depot, pstate := "DEPOT", "PSTATE"
	if len(d.GetDepots()) > 0 {
		depot = d.GetDepots()[0].GetName()
	}
	if len(d.GetPstates()) > 0 {
		pstate = d.GetPstates()[0].GetName()
	}
	fmt.Fprintf(w, "try (in another terminal; `go install ./cmd/squall` puts squall on your PATH):\n")
	fmt.Fprintf(w, "  squall append %s %s '<record as JSON>'\n", d.GetName(), depot)
	fmt.Fprintf(w, "  squall select %s '%s' '<path, e.g. key(\"the\")>'\n", d.GetName(), pstate)
	fmt.Fprintf(w, "  squall describe %s\n", d.GetName())
}
