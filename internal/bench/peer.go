package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// The peers' side: `squall bench-peer KIND ...` runs one of these in its
// own process, so that the harness can measure it alone. Each writes
// "ready" on a line of stdout once it serves, and runs until ctx is done
// (the harness's SIGTERM).

// PeerKinds lists what RunPeer runs.
var PeerKinds = []string{"nats", "pebble", "consumer"}

// RunPeer runs the peer kind with its command-line arguments until ctx is
// done.
func RunPeer(ctx context.Context, kind string, args []string, stdout io.Writer) error {
	switch kind {
	case "nats":
		return runNATSPeer(ctx, args, stdout)
	case "pebble":
		return runPebblePeer(ctx, args, stdout)
	case "consumer":
		return runConsumerPeer(ctx, args, stdout)
	}
	return fmt.Errorf("bench-peer: unknown kind %q (want one of %s)", kind, strings.Join(PeerKinds, ", "))
}

func peerFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("bench-peer "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// runNATSPeer runs nats-server with JetStream on file storage. With
// --sync-always (the default) every write is fsynced before it is
// acknowledged, the durability of Squall's APPEND_ACK; without it
// nats-server's default applies (an fsync every 2 minutes).
func runNATSPeer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := peerFlags("nats")
	listen := fs.String("listen", "127.0.0.1:4222", "address to listen on")
	dir := fs.String("store-dir", "", "JetStream's storage directory (required)")
	syncAlways := fs.Bool("sync-always", true, "fsync every write before acknowledging it")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bench-peer nats: %w", err)
	}
	if *dir == "" {
		return errors.New("bench-peer nats: --store-dir is required")
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("bench-peer nats: --listen %q: %w", *listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("bench-peer nats: --listen %q: bad port", *listen)
	}
	opts := &server.Options{
		Host: host, Port: p, JetStream: true, StoreDir: *dir,
		SyncAlways: *syncAlways, NoSigs: true, NoLog: true,
		JetStreamMaxMemory: 1 << 30, JetStreamMaxStore: 64 << 30,
		MaxPayload: 1 << 20,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("bench-peer nats: %w", err)
	}
	s.Start()
	defer func() {
		s.Shutdown()
		s.WaitForShutdown()
	}()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("bench-peer nats: nats-server not ready for connections in 30s")
	}
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return nil
}

// PebbleResult is what the pebble peer measured, on the line "result
// {json}".
type PebbleResult struct {
	Ops       int   `json:"ops"`
	ElapsedNs int64 `json:"elapsedNs"`
	P50Ns     int64 `json:"p50Ns"`
	P99Ns     int64 `json:"p99Ns"`
}

// runPebblePeer is the physical limit of durable appends here: raw Pebble
// Set + Commit(Sync) of records from concurrent writers, with Squall's
// depot key layout (a prefix per partition and a big-endian offset), and
// none of its work (encoding, validation, offsets, RPC). It writes the
// result on stdout and stays alive until ctx is done, so the harness
// reads its CPU time and peak memory.
func runPebblePeer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := peerFlags("pebble")
	dir := fs.String("dir", "", "Pebble's directory (required)")
	workers := fs.Int("workers", 64, "concurrent writers")
	dur := fs.Duration("duration", 5*time.Second, "how long to write")
	valueBytes := fs.Int("value-bytes", 100, "bytes per record")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bench-peer pebble: %w", err)
	}
	if *dir == "" || *workers < 1 || *dur <= 0 || *valueBytes < 1 {
		return errors.New("bench-peer pebble: --dir is required; --workers, --duration and --value-bytes must be positive")
	}
	db, err := pebble.Open(*dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		return fmt.Errorf("bench-peer pebble: %w", err)
	}
	defer db.Close()
	fmt.Fprintln(stdout, "ready")
	value := make([]byte, *valueBytes)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	const partitions = 4
	var next [partitions]atomic.Uint64
	s, err := ClosedLoop(ctx, *workers, *dur, func(_ context.Context, w, _ int) error {
		p := w % partitions
		key := binary.BigEndian.AppendUint64([]byte(fmt.Sprintf("bench/%d/depot/events/", p)), next[p].Add(1)-1)
		b := db.NewBatch()
		defer b.Close()
		if err := b.Set(key, value, nil); err != nil {
			return err
		}
		return b.Commit(pebble.Sync)
	})
	if err != nil {
		return fmt.Errorf("bench-peer pebble: %w", err)
	}
	res, err := json.Marshal(PebbleResult{Ops: s.Ops, ElapsedNs: s.Elapsed.Nanoseconds(), P50Ns: s.Lat.P50.Nanoseconds(), P99Ns: s.Lat.P99.Nanoseconds()})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "result %s\n", res)
	<-ctx.Done()
	return nil
}

// quietPebble discards Pebble's informational messages.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...)) // lint:allow-panic pebble's Logger contract: Fatalf must not return
}
