package apibench_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
	"github.com/squall-run/squall/internal/apibench"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/node"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	module  = "wordcount"
	depot   = "sentences"
	pstate  = "$$wordCounts"
	vocab   = 10000 // distinct words; SelectOne and GET keys
	perSent = 13    // words per sentence: records of ~110 bytes as JSON
	nSent   = 4096  // distinct sentences the appends cycle through
)

var wasm struct {
	once sync.Once
	b    []byte
	err  error
}

// wordcountWasm builds examples/wordcount/go once per process (cached on
// disk between runs by build.GoCached).
func wordcountWasm(tb testing.TB) []byte {
	tb.Helper()
	wasm.once.Do(func() {
		var p string
		p, wasm.err = build.GoCached(context.Background(), "../../examples/wordcount/go", filepath.Join(os.TempDir(), "squall-apibench"))
		if wasm.err == nil {
			wasm.b, wasm.err = os.ReadFile(p)
		}
	})
	if wasm.err != nil {
		tb.Fatalf("build the wordcount example: %v", wasm.err)
	}
	return wasm.b
}

// word returns the vocabulary's k-th word ("w0042").
func word(k int) string { return fmt.Sprintf("w%04d", k%vocab) }

// sentence is one record of the workload: the same bytes go to Squall (as
// a Value map) and to Redis (as JSON).
type sentence struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// workload holds the records every scenario appends or SETs, built from a
// fixed seed.
type workload struct {
	records []*squallv1.Value // {"user": ..., "text": ...}
	json    [][]byte          // the same records as JSON, the Redis payloads
	avgJSON int               // mean JSON size in bytes
}

func newWorkload() *workload {
	r := rand.New(rand.NewPCG(1, 2))
	w := &workload{}
	total := 0
	for i := range nSent {
		words := make([]string, perSent)
		for j := range words {
			words[j] = word(r.IntN(vocab))
		}
		s := sentence{User: fmt.Sprintf("user-%04d", i%1000), Text: strings.Join(words, " ")}
		w.records = append(w.records, record(s))
		j, _ := json.Marshal(s)
		w.json = append(w.json, j)
		total += len(j)
	}
	w.avgJSON = total / nSent
	return w
}

func record(s sentence) *squallv1.Value {
	return apiconv.ValueToProto(abi.Map(
		abi.MapEntry{Key: abi.String("user"), Val: abi.String(s.User)},
		abi.MapEntry{Key: abi.String("text"), Val: abi.String(s.Text)}))
}

// squall is a node on loopback with the wordcount module deployed, and
// the generated clients on one HTTP/2 (h2c) connection, as one Go service
// would hold them.
type squall struct {
	node    *node.Node
	hc      *http.Client
	depots  squallv1connect.DepotServiceClient
	pstates squallv1connect.PStateServiceClient
	cluster squallv1connect.ClusterServiceClient
}

// startSquall starts a node in tb.TempDir() and deploys the wordcount
// module; tb's cleanup stops it.
func startSquall(tb testing.TB) *squall {
	tb.Helper()
	bin := wordcountWasm(tb)
	ctx := context.Background()
	n, err := node.Start(ctx, node.Config{DataDir: tb.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p}}
	s := &squall{node: n, hc: hc,
		depots:  squallv1connect.NewDepotServiceClient(hc, n.URL()),
		pstates: squallv1connect.NewPStateServiceClient(hc, n.URL()),
		cluster: squallv1connect.NewClusterServiceClient(hc, n.URL()),
	}
	tb.Cleanup(func() {
		hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			tb.Errorf("close the node: %v", err)
		}
	})
	st := squallv1connect.NewModuleServiceClient(hc, n.URL()).Deploy(ctx)
	sum := sha256.Sum256(bin)
	err = st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Tasks: 4, Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(bin)), Sha256: sum[:]}}}})
	for off := 0; err == nil && off < len(bin); off += 1 << 20 {
		err = st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: bin[off:min(off+1<<20, len(bin))]}})
	}
	if _, cerr := st.CloseAndReceive(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("deploy the wordcount module: %v", err)
	}
	return s
}

// lag returns the records appended but not yet processed, over the
// module's topologies.
func (s *squall) lag(ctx context.Context) (uint64, error) {
	res, err := s.cluster.Status(ctx, connect.NewRequest(&squallv1.StatusRequest{}))
	if err != nil {
		return 0, err
	}
	var lag uint64
	for _, m := range res.Msg.GetModules() {
		for _, t := range m.GetTopologies() {
			lag += t.GetLag()
		}
	}
	return lag, nil
}

// diag describes the topologies' progress, for the error of an operation
// that got no reply.
func (s *squall) diag() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.cluster.Status(ctx, connect.NewRequest(&squallv1.StatusRequest{}))
	if err != nil {
		return "node status: " + err.Error()
	}
	var parts []string
	for _, m := range res.Msg.GetModules() {
		for _, t := range m.GetTopologies() {
			parts = append(parts, fmt.Sprintf("topology %s/%s: processed %d, lag %d", m.GetName(), t.GetName(), t.GetProcessed(), t.GetLag()))
		}
	}
	return "node status: " + strings.Join(parts, "; ")
}

// waitIdle waits until the topologies have processed everything appended,
// so one scenario's backlog does not slow the next; it returns how long
// that took.
func (s *squall) waitIdle(tb testing.TB) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	for {
		lag, err := s.lag(ctx)
		if err != nil {
			tb.Fatalf("wait for the topologies to catch up: %v", err)
		}
		if lag == 0 {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("the topologies still lag by %d records after 3 minutes", lag)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// preload appends sentences that mention every word of the vocabulary
// once (waiting with ACK, so the counts are there when it returns): every
// word's count is then 1.
func (s *squall) preload(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	var batch []*squallv1.Value
	flush := func() {
		res, err := s.depots.AppendBatch(ctx, connect.NewRequest(&squallv1.AppendBatchRequest{Module: module, Depot: depot,
			Records: batch, AckLevel: squallv1.AckLevel_ACK_LEVEL_ACK}))
		if err != nil {
			tb.Fatalf("preload: %v", err)
		}
		for _, r := range res.Msg.GetResults() {
			if len(r.GetFailures()) > 0 {
				tb.Fatalf("preload: %v", r.GetFailures())
			}
		}
		batch = batch[:0]
	}
	for k := 0; k < vocab; k += perSent {
		words := make([]string, 0, perSent)
		for j := k; j < min(k+perSent, vocab); j++ {
			words = append(words, word(j))
		}
		batch = append(batch, record(sentence{User: fmt.Sprintf("user-%04d", k%1000), Text: strings.Join(words, " ")}))
		if len(batch) == 100 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// Redis variants: the fast peer and the durable one.
var (
	redisNoSync = []string{"--save", "", "--appendonly", "no"}
	redisFsync  = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}
)

// redisPeer is a redis-server started for the benchmark, with one
// connection per worker (Redis serves one request at a time per
// connection, and the client does not pipeline).
type redisPeer struct {
	srv   *apibench.Redis
	conns []*apibench.RedisConn
}

// startRedis starts redis-server with args in tb.TempDir() and opens
// workers connections; tb's cleanup stops both. Without redis-server the
// test fails: benchmarks without their peer are not comparisons.
func startRedis(tb testing.TB, workers int, args ...string) *redisPeer {
	tb.Helper()
	ctx := context.Background()
	srv, err := apibench.StartRedis(ctx, tb.TempDir(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	p := &redisPeer{srv: srv}
	tb.Cleanup(func() {
		for _, c := range p.conns {
			c.Close()
		}
		if err := srv.Stop(); err != nil {
			tb.Error(err)
		}
	})
	for range workers {
		c, err := apibench.DialRedis(ctx, srv.Addr)
		if err != nil {
			tb.Fatal(err)
		}
		p.conns = append(p.conns, c)
	}
	return p
}

// preloadCounts sets every word of the vocabulary to its count, the value
// Squall's SelectOne returns for it ("1" after [squall.preload]).
func (p *redisPeer) preloadCounts(tb testing.TB) {
	tb.Helper()
	for k := range vocab {
		if err := p.conns[0].Set([]byte(word(k)), []byte(strconv.Itoa(1))); err != nil {
			tb.Fatalf("preload redis: %v", err)
		}
	}
}
