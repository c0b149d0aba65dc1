package node_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	"github.com/squall-run/squall/abi"
	squallv1 "github.com/squall-run/squall/api/squall/v1"
	"github.com/squall-run/squall/api/squall/v1/squallv1connect"
	"github.com/squall-run/squall/internal/apiconv"
	"github.com/squall-run/squall/internal/build"
	"github.com/squall-run/squall/internal/node"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wordcountWasm builds examples/wordcount/go (cached between runs); a
// failed build fails the test.
func wordcountWasm(t *testing.T) []byte {
	t.Helper()
	p, err := build.GoCached(context.Background(), "../../examples/wordcount/go", filepath.Join(os.TempDir(), "squall-node-test"))
	if err != nil {
		t.Fatalf("build the wordcount example: %v", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type clients struct {
	hc      *http.Client
	modules squallv1connect.ModuleServiceClient
	depots  squallv1connect.DepotServiceClient
	pstates squallv1connect.PStateServiceClient
	cluster squallv1connect.ClusterServiceClient
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}
func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, s connect.Spec) connect.StreamingClientConn {
		c := next(ctx, s)
		c.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return c
	}
}
func (bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func newClients(t *testing.T, url, token string) *clients {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(hc.CloseIdleConnections)
	var opts []connect.ClientOption
	if token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(token)))
	}
	return &clients{hc: hc,
		modules: squallv1connect.NewModuleServiceClient(hc, url, opts...),
		depots:  squallv1connect.NewDepotServiceClient(hc, url, opts...),
		pstates: squallv1connect.NewPStateServiceClient(hc, url, opts...),
		cluster: squallv1connect.NewClusterServiceClient(hc, url, opts...),
	}
}

func (c *clients) deploy(ctx context.Context, wasm []byte, sum []byte, chunk int) (*squallv1.ModuleDescription, error) {
	st := c.modules.Deploy(ctx)
	if sum == nil {
		s := sha256.Sum256(wasm)
		sum = s[:]
	}
	err := st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Header{Header: &squallv1.DeployHeader{
		Tasks: 4, Artifact: &squallv1.ArtifactHeader{SizeBytes: uint64(len(wasm)), Sha256: sum}}}})
	for off := 0; err == nil && off < len(wasm); off += chunk {
		err = st.Send(&squallv1.DeployRequest{Message: &squallv1.DeployRequest_Chunk{Chunk: wasm[off:min(off+chunk, len(wasm))]}})
	}
	res, err := st.CloseAndReceive()
	if err != nil {
		return nil, err
	}
	return res.Msg.GetModule(), nil
}

func start(t *testing.T, dir, token string) *node.Node {
	t.Helper()
	n, err := node.Start(context.Background(), node.Config{DataDir: dir, Listen: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatalf("close the node: %v", err)
	}
}

func str(s string) *squallv1.Value { return apiconv.ValueToProto(abi.String(s)) }

func sentence(user, text string) *squallv1.Value {
	return apiconv.ValueToProto(abi.Map(abi.MapEntry{Key: abi.String("user"), Val: abi.String(user)}, abi.MapEntry{Key: abi.String("text"), Val: abi.String(text)}))
}

func keyPath(k string) *squallv1.Path {
	p, _ := apiconv.PathToProto(abi.P().Key(abi.String(k)))
	return p
}

func count(t *testing.T, c *clients, word string) int64 {
	t.Helper()
	res, err := c.pstates.SelectOne(context.Background(), connect.NewRequest(&squallv1.SelectOneRequest{Module: "wordcount", Pstate: "$$wordCounts", Path: keyPath(word)}))
	if err != nil {
		t.Fatalf("select %q: %v", word, err)
	}
	n, _ := res.Msg.GetValue().GetKind().(*squallv1.Value_IntValue)
	if n == nil {
		t.Fatalf("select %q: got %v, want an int", word, res.Msg.GetValue())
	}
	return n.IntValue
}

// wantErr checks an error's Connect code and that its message contains
// every piece of want.
func wantErr(t *testing.T, what string, err error, code connect.Code, want ...string) {
	t.Helper()
	if connect.CodeOf(err) != code {
		t.Errorf("%s: got %v, want code %v", what, err, code)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: message %q does not say %q", what, err.Error(), w)
		}
	}
}

func TestNodeEndToEnd(t *testing.T) {
	wasm := wordcountWasm(t)
	ctx := context.Background()
	dir := t.TempDir()
	const token = "s3cret"
	n := start(t, dir, token)
	c := newClients(t, n.URL(), token)

	desc, err := c.deploy(ctx, wasm, nil, 1<<20)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if desc.GetName() != "wordcount" || desc.GetTasks() != 4 || len(desc.GetDepots()) != 1 || desc.GetDepots()[0].GetName() != "sentences" {
		t.Fatalf("deploy returned %v", desc)
	}
	res, err := c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: "wordcount", Depot: "sentences",
		Record: sentence("ada", "the cat and the hat"), AckLevel: squallv1.AckLevel_ACK_LEVEL_ACK}))
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if got := res.Msg.GetAckReturns()["wordcount"].GetIntValue(); got != 5 {
		t.Errorf("ack return = %d, want 5 words", got)
	}
	bres, err := c.depots.AppendBatch(ctx, connect.NewRequest(&squallv1.AppendBatchRequest{Module: "wordcount", Depot: "sentences",
		Records: []*squallv1.Value{sentence("bob", "the end"), sentence("cy", "cat")}}))
	if err != nil || len(bres.Msg.GetResults()) != 2 {
		t.Fatalf("append batch: %v %v", bres, err)
	}
	if got := count(t, c, "the"); got != 3 {
		t.Errorf("count(the) = %d, want 3", got)
	}
	if got := count(t, c, "cat"); got != 2 {
		t.Errorf("count(cat) = %d, want 2", got)
	}
	d, err := c.modules.Describe(ctx, connect.NewRequest(&squallv1.DescribeRequest{Module: "wordcount"}))
	if err != nil || d.Msg.GetModule().GetPstates()[0].GetName() != "$$wordCounts" {
		t.Errorf("describe: %v %v", d, err)
	}
	st, err := c.cluster.Status(ctx, connect.NewRequest(&squallv1.StatusRequest{}))
	if err != nil || len(st.Msg.GetModules()) != 1 || st.Msg.GetModules()[0].GetTopologies()[0].GetLag() != 0 {
		t.Errorf("status: %v %v", st, err)
	}

	// Bad input.
	_, err = c.deploy(ctx, []byte("hello, not wasm"), nil, 4)
	wantErr(t, "non-wasm deploy", err, connect.CodeInvalidArgument, "not a WebAssembly module")
	bad := sha256.Sum256([]byte("other"))
	_, err = c.deploy(ctx, wasm, bad[:], 1<<20)
	wantErr(t, "wrong digest", err, connect.CodeInvalidArgument, "corrupted")
	_, err = c.deploy(ctx, wasm, nil, 1<<20)
	wantErr(t, "deploy twice", err, connect.CodeAlreadyExists, `"wordcount" is already deployed`)
	_, err = c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: "wordcount", Pstate: "$$wordCounts",
		Path: &squallv1.Path{Navs: []*squallv1.Nav{{}}}}))
	wantErr(t, "empty navigator", err, connect.CodeInvalidArgument, "path.navs[0]")
	allPath, _ := apiconv.PathToProto(abi.P().MapVals())
	_, err = c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: "wordcount", Pstate: "$$wordCounts", Path: allPath}))
	wantErr(t, "path without a key", err, connect.CodeInvalidArgument, "must start with key")
	_, err = c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: "nope", Pstate: "$$wordCounts", Path: keyPath("a")}))
	wantErr(t, "unknown module", err, connect.CodeNotFound, `module "nope" is not deployed`, `"wordcount"`)
	_, err = c.pstates.Select(ctx, connect.NewRequest(&squallv1.SelectRequest{Module: "wordcount", Pstate: "$$counts", Path: keyPath("a")}))
	wantErr(t, "unknown PState", err, connect.CodeNotFound, `no PState "$$counts"`, `"$$wordCounts"`)
	_, err = c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: "wordcount", Depot: "words", Record: str("x")}))
	wantErr(t, "unknown depot", err, connect.CodeNotFound, `no depot "words"`, `"sentences"`)
	_, err = c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: "9bad", Depot: "sentences"}))
	wantErr(t, "validation", err, connect.CodeInvalidArgument, "module: must be", "record: value is required")
	none, _ := apiconv.PathToProto(abi.P().Key(abi.String("the")).Filter(abi.FilterLt, abi.Int(0)))
	_, err = c.pstates.SelectOne(ctx, connect.NewRequest(&squallv1.SelectOneRequest{Module: "wordcount", Pstate: "$$wordCounts", Path: none}))
	wantErr(t, "select one of nothing", err, connect.CodeFailedPrecondition, "navigates to 0 values")
	ws, err := c.pstates.Watch(ctx, connect.NewRequest(&squallv1.WatchRequest{}))
	if err == nil {
		ws.Receive()
		err = ws.Err()
		ws.Close()
	}
	wantErr(t, "watch", err, connect.CodeUnimplemented, "reactive queries")

	noToken := newClients(t, n.URL(), "")
	_, err = noToken.modules.List(ctx, connect.NewRequest(&squallv1.ListRequest{}))
	wantErr(t, "no token", err, connect.CodeUnauthenticated, "Authorization: Bearer")
	wrong := newClients(t, n.URL(), "guess")
	_, err = wrong.modules.List(ctx, connect.NewRequest(&squallv1.ListRequest{}))
	wantErr(t, "wrong token", err, connect.CodeUnauthenticated, "wrong bearer token")
	_, err = wrong.modules.Deploy(ctx).CloseAndReceive()
	wantErr(t, "wrong token on a stream", err, connect.CodeUnauthenticated, "wrong bearer token")
	if _, err := noToken.cluster.Health(ctx, connect.NewRequest(&squallv1.HealthRequest{})); err != nil {
		t.Errorf("health without a token: %v", err)
	}

	// Restart on the same directory: the module is deployed again and the
	// counts persist.
	stop(t, n)
	n = start(t, dir, token)
	defer stop(t, n)
	c = newClients(t, n.URL(), token)
	if got := count(t, c, "the"); got != 3 {
		t.Errorf("after a restart, count(the) = %d, want 3", got)
	}
	if _, err := c.depots.Append(ctx, connect.NewRequest(&squallv1.AppendRequest{Module: "wordcount", Depot: "sentences", Record: sentence("ada", "The hat")})); err != nil {
		t.Fatalf("append after restart: %v", err)
	}
	if got := count(t, c, "the"); got != 4 {
		t.Errorf("after a restart and an append, count(the) = %d, want 4", got)
	}
}

// TestStartFailsCleanly: a second node on a data dir that a running node
// holds gets an error that names the problem, and nothing leaks or panics.
func TestStartFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	first, err := node.Start(context.Background(), node.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	second, err := node.Start(context.Background(), node.Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		second.Close(context.Background())
		t.Fatal("a second node opened a data dir that a running node holds")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the data dir", err)
	}
}
